/**
 * The control channel: the daemon's local administration socket, used by
 * scardctl. Newline-delimited JSON (protocol.ts) on a Unix socket, mode 0660
 * so only the service's user and group may use it; its callers are local
 * administrators (every scope). An adapter: requests go to the gateway's
 * operations, answers and errors come back in the gateway's shapes.
 */
import { chmod, unlink } from 'node:fs/promises';
import { createServer, type Server, type Socket } from 'node:net';
import type { CoreEvents, ReaderSnapshot } from '../../core/api.js';
import type { Service, ServiceContext } from '../../daemon/service.js';
import { errorBody, invalid } from '../../gateway/errors.js';
import { DISPOSITION } from '../../pcsc/constants.js';
import { CONTROL_METHODS, LineSplitter, parseControlLine, type ControlRequest } from './protocol.js';
import { prepareSocketPath } from '../../daemon/socket-file.js';

const WATCHED_EVENTS = ['reader-added', 'reader-removed', 'card-inserted', 'card-removed', 'reader-error', 'reader-state'] as const;

export function createControlService(ctx: ServiceContext): Service {
  const log = ctx.log.child({ module: 'control' });
  const path = ctx.config.control.socket;
  const { api } = ctx;
  const clients = new Set<Socket>();
  let server: Server | undefined;
  let requests = 0;
  let badRequests = 0;
  let connections = 0;

  /** Watch streams core events: a removed reader is rendered from its last snapshot. */
  function watch(sock: Socket, req: ControlRequest, watches: Map<string | number | null, () => void>): unknown {
    if (watches.has(req.id)) throw invalid(`a watch with id ${JSON.stringify(req.id)} is already running on this connection`);
    const listeners: Array<[keyof CoreEvents, (...a: any[]) => void]> = [];
    for (const ev of WATCHED_EVENTS) {
      const fn = (reader: ReaderSnapshot, error?: Error): void => {
        send(sock, { id: req.id, event: ev, time: new Date().toISOString(), reader: api.render(reader), ...(error ? { error: error.message } : {}) });
      };
      ctx.core.on(ev, fn as never);
      listeners.push([ev, fn]);
    }
    watches.set(req.id, () => {
      for (const [ev, fn] of listeners) ctx.core.off(ev, fn as never);
    });
    return { watching: true, readers: api.readers().readers };
  }

  async function handle(sock: Socket, owner: string, req: ControlRequest, watches: Map<string | number | null, () => void>): Promise<unknown> {
    const params = req.params ?? {};
    switch (req.method) {
      case 'ping':
        return { ...api.info(), pid: process.pid };
      case 'watch':
        return watch(sock, req, watches);
      case 'unwatch': {
        const target = (params.watch ?? null) as string | number | null;
        const stop = watches.get(target);
        if (!stop) throw invalid(`no watch with id ${JSON.stringify(target)} on this connection`);
        stop();
        watches.delete(target);
        return { watching: false };
      }
      default:
        if (!(CONTROL_METHODS as string[]).includes(req.method)) throw invalid(`unknown method ${JSON.stringify(req.method)} (methods: ${CONTROL_METHODS.join(', ')})`);
        return api.call(req.method, params, { owner, label: 'control socket' });
    }
  }

  /** Answers a client may leave unread before it is cut off. */
  const MAX_UNREAD_BYTES = 4 << 20;

  function send(sock: Socket, msg: unknown): void {
    if (sock.destroyed || !sock.writable) return;
    // A client that sends requests (or watches events) but never reads would grow this buffer without end.
    if (sock.writableLength > MAX_UNREAD_BYTES) {
      log.warn({ unreadBytes: sock.writableLength }, 'control client does not read its answers; closing the connection');
      sock.destroy();
      return;
    }
    sock.write(`${JSON.stringify(msg)}\n`);
  }

  function onConnection(sock: Socket): void {
    clients.add(sock);
    sock.setEncoding('utf8');
    // Card sessions belong to the connection that opened them and end (card reset) when it closes.
    const owner = `control:${++connections}`;
    const watches = new Map<string | number | null, () => void>();
    const splitter = new LineSplitter(
      (line) => {
        requests++;
        let req: ControlRequest;
        try {
          req = parseControlLine(line);
        } catch (err) {
          badRequests++;
          const body = errorBody(err);
          log.warn({ problem: body.message }, 'bad control request');
          send(sock, { id: (err as { reqId?: string | number | null }).reqId ?? null, error: body });
          return;
        }
        handle(sock, owner, req, watches).then(
          (result) => send(sock, { id: req.id, result }),
          (err) => {
            const body = errorBody(err);
            log.info({ method: req.method, problem: body.message }, 'control request failed');
            send(sock, { id: req.id, error: body });
          },
        );
      },
      () => {
        badRequests++;
        send(sock, { id: null, error: errorBody(invalid('request line too long; closing the connection')) });
        sock.end();
      },
    );
    sock.on('data', (chunk: string) => splitter.push(chunk));
    sock.on('error', () => undefined);
    sock.on('close', () => {
      for (const stop of watches.values()) stop();
      watches.clear();
      clients.delete(sock);
      for (const s of api.sessions.list(owner)) void api.sessions.close(owner, s.id, DISPOSITION.RESET).catch(() => undefined);
    });
  }

  return {
    name: 'control',
    async start() {
      await prepareSocketPath(path, 'control.socket', 'in use by another running process (another scardgated?)');
      const srv = createServer(onConnection);
      await new Promise<void>((resolve, reject) => {
        srv.once('error', reject);
        srv.listen(path, () => {
          srv.off('error', reject);
          resolve();
        });
      });
      srv.on('error', (err) => log.error({ err }, 'control socket error'));
      await chmod(path, 0o660);
      server = srv;
      log.debug({ socket: path }, 'control channel listening');
    },
    async stop() {
      const srv = server;
      server = undefined;
      if (!srv) return;
      for (const c of clients) c.destroy();
      await new Promise<void>((resolve) => srv.close(() => resolve()));
      await unlink(path).catch(() => undefined);
    },
    addresses(): Record<string, string> {
      return server ? { control: path } : {};
    },
    diagnostics() {
      return { socket: path, clients: clients.size, requests, badRequests };
    },
  };
}
