/**
 * The live channel: one WebSocket carrying reader changes as the gateway
 * renders them (straight from the core: no disk on the way) and journal
 * events once recorded. (History is the `events` operation: operations.ts.)
 */
import type { FastifyInstance } from 'fastify';
import type { WebSocket } from 'ws';
import type { ReaderSnapshot } from '../../../core/api.js';
import type { GatewayEvent } from '../../../events/types.js';
import type { Reader } from '../../../gateway/readers.js';
import type { HttpDeps } from '../deps.js';
import type { SessionStore } from '../auth/sessions.js';

/** Close code the UI reads as "session expired". */
export const WS_SESSION_ENDED = 4001;
/** A client that stops reading is dropped instead of growing our buffers. */
const MAX_BUFFERED = 1 << 20;
const HEARTBEAT_MS = 30_000;

export function eventRoutes(app: FastifyInstance, deps: HttpDeps, sessions: SessionStore): void {
  const { api } = deps;

  app.get('/api/live', { websocket: true }, (socket: WebSocket, req) => {
    const send = (msg: unknown): void => {
      if (socket.readyState !== socket.OPEN) return;
      if (socket.bufferedAmount > MAX_BUFFERED) {
        socket.close(1013, 'client too slow');
        return;
      }
      socket.send(JSON.stringify(msg));
    };
    const onReader = (r: Reader): void => send({ t: 'reader', reader: r });
    const onRemoved = (r: { name: string }): void => send({ t: 'reader-removed', name: r.name });
    const onError = (r: ReaderSnapshot, e: Error): void => send({ t: 'reader-error', name: r.name, message: e.message });
    const onEvent = (ev: GatewayEvent): void => send({ t: 'event', event: ev });
    const journal = api.events();
    const sessionId = req.principal?.kind === 'session' ? req.principal.session.id : undefined;
    const onEnded = (id: string): void => {
      if (id === sessionId) socket.close(WS_SESSION_ENDED, 'session ended');
    };
    api.on('reader', onReader);
    api.on('reader-removed', onRemoved);
    api.core.on('reader-error', onError);
    journal?.on('event', onEvent);
    sessions.on('ended', onEnded);
    // A phone that walked away never says goodbye: ping, and drop it if two pings go unanswered.
    let alive = true;
    socket.on('pong', () => (alive = true));
    const heartbeat = setInterval(() => {
      if (!alive) return socket.terminate();
      alive = false;
      socket.ping();
    }, HEARTBEAT_MS);
    heartbeat.unref();
    socket.on('close', () => {
      clearInterval(heartbeat);
      api.off('reader', onReader);
      api.off('reader-removed', onRemoved);
      api.core.off('reader-error', onError);
      journal?.off('event', onEvent);
      sessions.off('ended', onEnded);
      deps.logRing.off('line', onLine);
    });
    // Log lines only for the clients that asked (the logs view is open).
    const onLine = (line: string): void => send({ t: 'log', line });
    socket.on('message', (data) => {
      switch (String(data)) {
        case 'ping':
          return send({ t: 'pong' });
        case 'logs:on':
          deps.logRing.off('line', onLine);
          deps.logRing.on('line', onLine);
          return;
        case 'logs:off':
          deps.logRing.off('line', onLine);
          return;
      }
    });
    send({ t: 'hello', readers: api.readers().readers, lastSeq: journal?.lastSeq() ?? null, journal: journal !== undefined });
  });
}
