/**
 * APDU exchange over the core's shared helpers (src/core/oneshot.ts and
 * src/core/sessions.ts, also used by MQTT): one-shot runs (connect, one
 * transaction, the APDUs, disconnect) and leased sessions (a card kept
 * connected across requests, for SELECT + VERIFY + READ dialogues). Sessions
 * belong to the technician session or token that opened them.
 */
import { createHash } from 'node:crypto';
import type { FastifyInstance, FastifyRequest } from 'fastify';
import { runApdus, type ApduResult } from '../../../core/oneshot.js';
import { SessionManager } from '../../../core/sessions.js';
import { SHARE } from '../../../pcsc/constants.js';
import { PcscError } from '../../../pcsc/error.js';
import { decodeSw } from '../../../iso7816/status-words.js';
import { toHex } from '../../../iso7816/hex.js';
import { SessionOpenBody, SessionParams, SessionTransmitBody, TransmitBody } from '../schemas.js';
import { HttpError } from '../errors.js';
import { parseProtocol } from '../json.js';
import { parseHexField } from './readers.js';
import type { HttpDeps } from '../deps.js';
import type { SessionStore } from '../auth/sessions.js';

/** A browser tab left open must not hold a card for long; every APDU renews the lease. */
export const CARD_SESSION_LEASE_MS = 120_000;

const shareOf = (m: string | undefined): number => (m === 'exclusive' ? SHARE.EXCLUSIVE : m === 'direct' ? SHARE.DIRECT : SHARE.SHARED);

export interface ExchangeJson {
  command: string;
  response?: string;
  data?: string;
  sw?: string;
  swText?: string;
  swKind?: string;
  error?: { code: string; message: string };
}

function exchangeJson(command: Buffer, r: ApduResult): ExchangeJson {
  if (r.error || !r.response) return { command: toHex(command), error: { code: r.error?.name ?? 'SCARD_F_UNKNOWN_ERROR', message: r.error?.message ?? 'no response' } };
  const out: ExchangeJson = { command: toHex(command), response: toHex(r.response), data: toHex(r.data ?? Buffer.alloc(0)) };
  if (r.response.length >= 2) {
    const sw = decodeSw(r.response);
    Object.assign(out, { sw: sw.hex, swText: sw.text, swKind: sw.kind });
  } else Object.assign(out, { sw: '', swText: 'response without status word', swKind: 'error' });
  return out;
}

function apduField(text: string, field: string): Buffer {
  const apdu = parseHexField(text, field);
  if (apdu.length < 4) throw new HttpError(400, `${field}: a command APDU has at least 4 bytes (CLA INS P1 P2), got ${apdu.length}`);
  return apdu;
}

/** Card sessions are private to who opened them; the owner label never contains the cookie itself. */
function ownerOf(req: FastifyRequest): string {
  const p = req.principal!;
  if (p.kind === 'token') return `http:token:${p.token.id}`;
  return `http:session:${createHash('sha256').update(p.session.id).digest('hex').slice(0, 16)}`;
}

export function transmitRoutes(app: FastifyInstance, deps: HttpDeps, cardSessions: SessionManager, logins: SessionStore): void {
  const { core } = deps;
  const requireReader = (name: string): void => {
    if (!core.reader(name)) throw new HttpError(404, `unknown reader "${name}" (GET /api/readers lists them)`);
  };

  // Logging out closes the card sessions that login opened.
  const onEnded = (id: string): void => {
    const owner = `http:session:${createHash('sha256').update(id).digest('hex').slice(0, 16)}`;
    for (const s of cardSessions.list(owner)) void cardSessions.close(owner, s.id).catch(() => undefined);
  };
  logins.on('ended', onEnded);
  app.addHook('onClose', async () => {
    logins.off('ended', onEnded);
  });

  app.post<{ Body: TransmitBody }>('/api/transmit', { schema: { body: TransmitBody } }, async (req) => {
    const { apdu, apdus } = req.body;
    if ((apdu === undefined) === (apdus === undefined)) throw new HttpError(400, 'body: give either "apdu" (one hex APDU) or "apdus" (a list)');
    const commands = apdu !== undefined ? [apduField(apdu, 'apdu')] : apdus!.map((a, i) => apduField(a, `apdus[${i}]`));
    requireReader(req.body.reader);
    const started = process.hrtime.bigint();
    const run = await runApdus(core, req.body.reader, commands, {
      shareMode: shareOf(req.body.shareMode),
      protocol: parseProtocol(req.body.protocol),
      owner: `http:${req.principal?.kind ?? '?'}`,
    });
    const ms = Math.round((Number(process.hrtime.bigint() - started) / 1e6) * 100) / 100;
    const results = run.results.map((r, i) => exchangeJson(commands[i], r));
    if (apdu !== undefined) {
      // One APDU: its failure is the request's failure, with the PC/SC code.
      const only = run.results[0];
      if (only.error) throw Object.assign(new PcscError(only.error.code), { message: only.error.message });
      return { reader: run.reader, atr: toHex(run.atr), ms, ...results[0] };
    }
    return { reader: run.reader, atr: toHex(run.atr), ms, results };
  });

  app.post<{ Body: SessionOpenBody }>('/api/sessions', { schema: { body: SessionOpenBody } }, async (req, reply) => {
    requireReader(req.body.reader);
    const s = await cardSessions.open(ownerOf(req), req.body.reader, {
      shareMode: shareOf(req.body.shareMode),
      protocol: parseProtocol(req.body.protocol),
      leaseMs: CARD_SESSION_LEASE_MS,
    });
    reply.code(201);
    return { id: s.id, reader: s.reader, atr: toHex(s.atr), leaseMs: s.leaseMs, expiresAt: s.expiresAt };
  });

  app.post<{ Params: SessionParams; Body: SessionTransmitBody }>(
    '/api/sessions/:id/transmit',
    { schema: { params: SessionParams, body: SessionTransmitBody } },
    async (req) => {
      const apdu = apduField(req.body.apdu, 'apdu');
      const started = process.hrtime.bigint();
      const resp = await cardSessions.transmit(ownerOf(req), req.params.id, apdu);
      const ms = Math.round((Number(process.hrtime.bigint() - started) / 1e6) * 100) / 100;
      return { id: req.params.id, ms, ...exchangeJson(apdu, { response: resp, data: resp.subarray(0, Math.max(0, resp.length - 2)) }) };
    },
  );

  app.delete<{ Params: SessionParams }>('/api/sessions/:id', { schema: { params: SessionParams } }, async (req) => {
    await cardSessions.close(ownerOf(req), req.params.id);
    return { closed: true };
  });
}

