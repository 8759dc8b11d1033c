/**
 * The control channel: the daemon's local administration socket, used by
 * scardctl. Newline-delimited JSON (protocol.ts) on a Unix socket, mode 0660
 * so only the service's user and group may drive the readers.
 */
import { chmod, unlink } from 'node:fs/promises';
import { createServer, type Server, type Socket } from 'node:net';
import type { CoreEvents, ReaderSnapshot } from '../../core/api.js';
import type { Service, ServiceContext } from '../../daemon/service.js';
import { HexError, parseHex, toHex } from '../../iso7816/hex.js';
import { parseApdu } from '../../iso7816/apdu.js';
import { PcscError } from '../../pcsc/error.js';
import { CONTROL_METHODS, LineSplitter, readerToJson, type ControlErrorBody, type ControlRequest } from './protocol.js';
import { ReaderSelectError, selectReader } from './reader-select.js';
import { runApdus } from '../../core/oneshot.js';
import { prepareSocketPath } from '../../daemon/socket-file.js';

class RequestError extends Error {
  constructor(
    readonly code: string,
    message: string,
  ) {
    super(message);
  }
}

const WATCHED_EVENTS = ['reader-added', 'reader-removed', 'card-inserted', 'card-removed', 'reader-error', 'reader-state'] as const;

/** Largest number of APDUs one transmit request may carry. */
const MAX_APDUS = 64;

function stringParam(params: Record<string, unknown>, name: string): string {
  const v = params[name];
  if (typeof v !== 'string' || v === '') throw new RequestError('bad-params', `params.${name} must be a non-empty string`);
  return v;
}

export function createControlService(ctx: ServiceContext): Service {
  const log = ctx.log.child({ module: 'control' });
  const path = ctx.config.control.socket;
  const clients = new Set<Socket>();
  let server: Server | undefined;
  let requests = 0;
  let badRequests = 0;

  async function handle(sock: Socket, req: ControlRequest, watches: Map<string | number | null, () => void>): Promise<unknown> {
    const params = req.params ?? {};
    const core = ctx.core;
    const pick = (): ReaderSnapshot => {
      try {
        return selectReader(core.readers(), stringParam(params, 'reader'));
      } catch (err) {
        if (err instanceof ReaderSelectError) throw new RequestError('no-reader', err.message);
        throw err;
      }
    };
    switch (req.method) {
      case 'ping':
        return { version: ctx.version, gatewayId: ctx.gatewayId, startedAt: ctx.startedAt.toISOString(), pid: process.pid };
      case 'readers':
        return core.readers().map(readerToJson);
      case 'watch': {
        if (watches.has(req.id)) throw new RequestError('bad-request', `a watch with id ${JSON.stringify(req.id)} is already running on this connection`);
        const listeners: Array<[keyof CoreEvents, (...a: any[]) => void]> = [];
        for (const ev of WATCHED_EVENTS) {
          const fn = (reader: ReaderSnapshot, error?: Error): void => {
            send(sock, {
              id: req.id,
              event: ev,
              time: new Date().toISOString(),
              reader: readerToJson(reader),
              ...(error ? { error: error.message } : {}),
            });
          };
          core.on(ev, fn as never);
          listeners.push([ev, fn]);
        }
        watches.set(req.id, () => {
          for (const [ev, fn] of listeners) core.off(ev, fn as never);
        });
        return { watching: true, readers: core.readers().map(readerToJson) };
      }
      case 'unwatch': {
        const target = (params.watch ?? null) as string | number | null;
        const stop = watches.get(target);
        if (!stop) throw new RequestError('bad-params', `no watch with id ${JSON.stringify(target)} on this connection`);
        stop();
        watches.delete(target);
        return { watching: false };
      }
      case 'transmit': {
        const reader = pick();
        const raw = params.apdus ?? params.apdu;
        const list = Array.isArray(raw) ? raw : [raw];
        if (list.length === 0 || list.length > MAX_APDUS) throw new RequestError('bad-params', `params.apdus must hold 1..${MAX_APDUS} APDUs`);
        const apdus = list.map((a, i) => {
          if (typeof a !== 'string') throw new RequestError('bad-params', `params.apdus[${i}] must be hex text`);
          try {
            const b = parseHex(a);
            parseApdu(b);
            return b;
          } catch (err) {
            const why = err instanceof HexError || err instanceof PcscError ? err.message : String(err);
            throw new RequestError('bad-params', `params.apdus[${i}]: ${why}`);
          }
        });
        const run = await runApdus(core, reader.name, apdus, { owner: 'control' });
        const results = run.results.map((r, i) => {
          log.debug({ reader: reader.name, exchange: { command: apdus[i], response: r.response }, error: r.error?.name }, 'transmit');
          return r.response ? { response: toHex(r.response, '') } : { error: r.error };
        });
        return { reader: run.reader, protocol: run.protocol, atr: toHex(run.atr, ''), results };
      }
      case 'insert': {
        const reader = pick();
        const card = params.card;
        if (card === undefined || card === null || (typeof card !== 'string' && typeof card !== 'object')) {
          throw new RequestError('bad-params', 'params.card must be a card type name or a card spec object');
        }
        const spec = typeof card === 'string' ? { type: card } : card;
        await core.simulateInsert(reader.name, spec);
        return { reader: reader.name, inserted: true };
      }
      case 'remove': {
        const reader = pick();
        await core.simulateRemove(reader.name);
        return { reader: reader.name, removed: true };
      }
      case 'diagnostics':
        return ctx.diagnostics();
      default:
        throw new RequestError('unknown-method', `unknown method ${JSON.stringify(req.method)} (methods: ${CONTROL_METHODS.join(', ')})`);
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

  function errorBody(err: unknown): ControlErrorBody {
    if (err instanceof RequestError) return { code: err.code, message: err.message };
    if (err instanceof PcscError) return { code: 'pcsc', message: err.message, pcsc: { name: err.codeName, code: err.code } };
    return { code: 'internal', message: err instanceof Error ? err.message : String(err) };
  }

  function onConnection(sock: Socket): void {
    clients.add(sock);
    sock.setEncoding('utf8');
    const watches = new Map<string | number | null, () => void>();
    const splitter = new LineSplitter(
      (line) => {
        requests++;
        let req: ControlRequest;
        try {
          const parsed: unknown = JSON.parse(line);
          if (typeof parsed !== 'object' || parsed === null || Array.isArray(parsed)) throw new RequestError('bad-request', 'a request must be a JSON object');
          const o = parsed as Record<string, unknown>;
          const id = typeof o.id === 'number' || typeof o.id === 'string' ? o.id : null;
          if (typeof o.method !== 'string') throw Object.assign(new RequestError('bad-request', 'request has no "method" string'), { reqId: id });
          if (o.params !== undefined && (typeof o.params !== 'object' || o.params === null || Array.isArray(o.params))) {
            throw Object.assign(new RequestError('bad-request', '"params" must be a JSON object'), { reqId: id });
          }
          req = { id, method: o.method, params: o.params as Record<string, unknown> | undefined };
        } catch (err) {
          badRequests++;
          const reqId = (err as { reqId?: string | number | null }).reqId ?? null;
          const body = err instanceof SyntaxError ? { code: 'bad-request', message: `not valid JSON: ${err.message}` } : errorBody(err);
          log.warn({ problem: body.message }, 'bad control request');
          send(sock, { id: reqId, error: body });
          return;
        }
        handle(sock, req, watches).then(
          (result) => send(sock, { id: req.id, result }),
          (err) => {
            if (err instanceof RequestError) badRequests++;
            const body = errorBody(err);
            log.info({ method: req.method, problem: body.message }, 'control request failed');
            send(sock, { id: req.id, error: body });
          },
        );
      },
      () => {
        badRequests++;
        send(sock, { id: null, error: { code: 'bad-request', message: 'request line too long; closing the connection' } });
        sock.end();
      },
    );
    sock.on('data', (chunk: string) => splitter.push(chunk));
    sock.on('error', () => undefined);
    sock.on('close', () => {
      for (const stop of watches.values()) stop();
      watches.clear();
      clients.delete(sock);
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
