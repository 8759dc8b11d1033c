/**
 * APDU exchange: one-shot (connect, transmit, disconnect) and sessions (a
 * card handle kept between requests, for multi-step dialogues such as
 * SELECT + VERIFY + READ). Sessions expire when idle so an abandoned browser
 * tab never holds a card.
 */
import { randomBytes } from 'node:crypto';
import type { FastifyInstance } from 'fastify';
import type { ContextId, HandleId, ScardCore } from '../../../core/api.js';
import { DISPOSITION, SHARE } from '../../../pcsc/constants.js';
import { decodeSw } from '../../../iso7816/status-words.js';
import { toHex } from '../../../iso7816/hex.js';
import { SessionOpenBody, SessionParams, SessionTransmitBody, TransmitBody } from '../schemas.js';
import { HttpError } from '../errors.js';
import { parseProtocol } from '../json.js';
import { parseHexField } from './readers.js';
import type { HttpDeps } from '../deps.js';

const SESSION_IDLE_MS = 120_000;
const MAX_SESSIONS = 16;

const shareOf = (m: string | undefined): number => (m === 'exclusive' ? SHARE.EXCLUSIVE : m === 'direct' ? SHARE.DIRECT : SHARE.SHARED);

export interface TransmitResult {
  response: string;
  data: string;
  sw: string;
  swText: string;
  swKind: string;
  ms: number;
}

function result(resp: Buffer, started: bigint): TransmitResult {
  const ms = Number(process.hrtime.bigint() - started) / 1e6;
  if (resp.length < 2) return { response: toHex(resp), data: toHex(resp), sw: '', swText: 'response without status word', swKind: 'error', ms };
  const sw = decodeSw(resp);
  return { response: toHex(resp), data: toHex(resp.subarray(0, resp.length - 2)), sw: sw.hex, swText: sw.text, swKind: sw.kind, ms };
}

interface CardSession {
  id: string;
  ctx: ContextId;
  handle: HandleId;
  protocol: number;
  reader: string;
  lastUsed: number;
  timer: NodeJS.Timeout;
}

export class CardSessions {
  private readonly map = new Map<string, CardSession>();
  constructor(private readonly core: ScardCore) {}

  async open(reader: string, shareMode: number, protocols: number): Promise<CardSession> {
    if (this.map.size >= MAX_SESSIONS) throw new HttpError(429, `too many open card sessions (${MAX_SESSIONS}); close one first`);
    const ctx = this.core.establishContext('http');
    try {
      const { handle, protocol } = await this.core.connect(ctx, reader, shareMode, protocols);
      const id = randomBytes(12).toString('base64url');
      const s: CardSession = { id, ctx, handle, protocol, reader, lastUsed: Date.now(), timer: setTimeout(() => void this.close(id), SESSION_IDLE_MS) };
      s.timer.unref();
      this.map.set(id, s);
      return s;
    } catch (e) {
      await this.core.releaseContext(ctx).catch(() => undefined);
      throw e;
    }
  }

  get(id: string): CardSession {
    const s = this.map.get(id);
    if (!s) throw new HttpError(404, `unknown or expired card session "${id}"`);
    s.lastUsed = Date.now();
    s.timer.refresh();
    return s;
  }

  async close(id: string): Promise<boolean> {
    const s = this.map.get(id);
    if (!s) return false;
    this.map.delete(id);
    clearTimeout(s.timer);
    await this.core.disconnect(s.handle, DISPOSITION.LEAVE).catch(() => undefined);
    await this.core.releaseContext(s.ctx).catch(() => undefined);
    return true;
  }

  async closeAll(): Promise<void> {
    await Promise.all([...this.map.keys()].map((id) => this.close(id)));
  }

  get size(): number {
    return this.map.size;
  }
}

export function transmitRoutes(app: FastifyInstance, deps: HttpDeps, sessions: CardSessions): void {
  const { core } = deps;
  const requireReader = (name: string): void => {
    if (!core.reader(name)) throw new HttpError(404, `unknown reader "${name}" (GET /api/readers lists them)`);
  };

  app.post<{ Body: TransmitBody }>('/api/transmit', { schema: { body: TransmitBody } }, async (req) => {
    const apdu = parseHexField(req.body.apdu, 'apdu');
    if (apdu.length < 4) throw new HttpError(400, `apdu: a command APDU has at least 4 bytes (CLA INS P1 P2), got ${apdu.length}`);
    requireReader(req.body.reader);
    const started = process.hrtime.bigint();
    const s = await sessions.open(req.body.reader, shareOf(req.body.shareMode), parseProtocol(req.body.protocol));
    try {
      const resp = await core.transmit(s.handle, s.protocol, apdu);
      return { reader: s.reader, command: toHex(apdu), ...result(resp, started) };
    } finally {
      await sessions.close(s.id);
    }
  });

  app.post<{ Body: SessionOpenBody }>('/api/sessions', { schema: { body: SessionOpenBody } }, async (req, reply) => {
    requireReader(req.body.reader);
    const s = await sessions.open(req.body.reader, shareOf(req.body.shareMode), parseProtocol(req.body.protocol));
    reply.code(201);
    return { id: s.id, reader: s.reader, protocol: s.protocol, idleTimeoutMs: SESSION_IDLE_MS };
  });

  app.post<{ Params: SessionParams; Body: SessionTransmitBody }>(
    '/api/sessions/:id/transmit',
    { schema: { params: SessionParams, body: SessionTransmitBody } },
    async (req) => {
      const apdu = parseHexField(req.body.apdu, 'apdu');
      if (apdu.length < 4) throw new HttpError(400, `apdu: a command APDU has at least 4 bytes (CLA INS P1 P2), got ${apdu.length}`);
      const s = sessions.get(req.params.id);
      const started = process.hrtime.bigint();
      const resp = await core.transmit(s.handle, s.protocol, apdu);
      return { reader: s.reader, command: toHex(apdu), ...result(resp, started) };
    },
  );

  app.delete<{ Params: SessionParams }>('/api/sessions/:id', { schema: { params: SessionParams } }, async (req) => {
    if (!(await sessions.close(req.params.id))) throw new HttpError(404, `unknown or expired card session "${req.params.id}"`);
    return { closed: true };
  });
}
