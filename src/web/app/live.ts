/**
 * The live channel: one WebSocket, reconnected with back-off. Reader changes
 * arrive straight from the core; journal events once recorded.
 */
import type { GatewayEvent, Reader } from './api.js';

export type LiveMessage =
  | { t: 'hello'; readers: Reader[]; lastSeq: number | null; journal: boolean }
  | { t: 'reader'; reader: Reader }
  | { t: 'reader-removed'; name: string }
  | { t: 'reader-error'; name: string; message: string }
  | { t: 'event'; event: GatewayEvent }
  | { t: 'log'; line: string }
  | { t: 'pong' };

export type LiveStatus = 'connecting' | 'open' | 'closed';

/** Close code sent by the server when the session ends. */
const SESSION_ENDED = 4001;

export interface LiveChannel {
  close(): void;
  /** Ask for (or stop) log lines; remembered across reconnects. */
  logs(on: boolean): void;
}

export function connectLive(onMessage: (m: LiveMessage) => void, onStatus: (s: LiveStatus) => void, onExpired: () => void): LiveChannel {
  let ws: WebSocket | undefined;
  let wantLogs = false;
  let stopped = false;
  let delay = 500;
  let timer: ReturnType<typeof setTimeout> | undefined;
  const open = (): void => {
    onStatus('connecting');
    const url = `${location.protocol === 'https:' ? 'wss' : 'ws'}://${location.host}/api/live`;
    ws = new WebSocket(url);
    ws.onopen = () => {
      delay = 500;
      if (wantLogs) ws?.send('logs:on');
      onStatus('open');
    };
    ws.onmessage = (e) => onMessage(JSON.parse(String(e.data)) as LiveMessage);
    ws.onclose = (e) => {
      onStatus('closed');
      if (stopped) return;
      if (e.code === SESSION_ENDED) return onExpired();
      // A refused upgrade looks like any network drop (1006): ask whether the session still exists.
      void fetch('/api/auth/session', { credentials: 'same-origin' }).then(
        (r) => (r.status === 401 ? onExpired() : undefined),
        () => undefined,
      );
      timer = setTimeout(open, delay);
      delay = Math.min(delay * 2, 10_000);
    };
  };
  open();
  return {
    close() {
      stopped = true;
      if (timer) clearTimeout(timer);
      ws?.close();
    },
    logs(on) {
      wantLogs = on;
      if (ws?.readyState === WebSocket.OPEN) ws.send(on ? 'logs:on' : 'logs:off');
    },
  };
}
