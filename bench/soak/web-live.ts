/**
 * The web UI's live channel under soak: a client that logs in over HTTP as
 * the UI does (POST /api/auth/login, session cookie) and follows
 * GET /api/live (WebSocket) for the whole run; after a daemon restart (the
 * socket closes, sessions die with the process) it logs in again and
 * reconnects. The live channel does not replay what happened while it was
 * down (history is the `events` operation), so it is judged on order and on
 * gaps inside one connection, not on completeness.
 */
import WebSocket from 'ws';
import { sleep } from './common.js';

export interface WebLiveFigures {
  connections: number;
  reconnects: number;
  eventsSeen: number;
  readerUpdates: number;
  outOfOrder: number;
  duplicates: number;
  /** Seq jumps inside one connection (each recorded event is pushed to every open channel: expected 0). */
  gapsWithinConnection: number;
  loginFailures: number;
}

export interface WebLive {
  figures: WebLiveFigures;
  stop(): Promise<void>;
}

async function login(base: string, password: string): Promise<string> {
  const res = await fetch(`${base}/api/auth/login`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify({ password }) });
  if (res.status !== 200) throw new Error(`login ${res.status}`);
  return res.headers
    .getSetCookie()
    .map((c) => c.split(';')[0])
    .join('; ');
}

export function followLive(base: string, password: string): WebLive {
  const f: WebLiveFigures = { connections: 0, reconnects: 0, eventsSeen: 0, readerUpdates: 0, outOfOrder: 0, duplicates: 0, gapsWithinConnection: 0, loginFailures: 0 };
  let running = true;
  let ws: WebSocket | undefined;
  let maxSeq = 0;
  const seen = new Set<number>();
  const loop = (async () => {
    while (running) {
      let cookie: string;
      try {
        cookie = await login(base, password);
      } catch {
        f.loginFailures++;
        await sleep(500);
        continue;
      }
      if (f.connections > 0) f.reconnects++;
      f.connections++;
      let lastInConn = 0;
      await new Promise<void>((resolve) => {
        ws = new WebSocket(`${base.replace('http', 'ws')}/api/live`, { headers: { cookie, origin: base } });
        ws.on('message', (d) => {
          const m = JSON.parse(String(d)) as { t: string; event?: { seq: number } };
          if (m.t === 'reader') f.readerUpdates++;
          if (m.t !== 'event' || !m.event) return;
          const seq = m.event.seq;
          if (seen.has(seq)) {
            f.duplicates++;
            return;
          }
          seen.add(seq);
          f.eventsSeen++;
          if (seq < maxSeq) f.outOfOrder++;
          if (lastInConn && seq !== lastInConn + 1) f.gapsWithinConnection++;
          lastInConn = seq;
          maxSeq = Math.max(maxSeq, seq);
        });
        ws.on('error', () => undefined);
        ws.on('close', () => resolve());
      });
      ws = undefined;
      if (running) await sleep(300);
    }
  })();
  return {
    figures: f,
    async stop() {
      running = false;
      ws?.close();
      await loop;
    },
  };
}
