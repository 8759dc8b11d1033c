/**
 * What each request method does, over the core's public API only. Results
 * are the response `data`; failures throw (PcscError for card/reader problems)
 * and become error responses in the service.
 */
import { randomBytes } from 'node:crypto';
import type { ContextId, HandleId, ReaderSnapshot, ScardCore } from '../../core/api.js';
import { DISPOSITION, PROTOCOL, SCARD, SHARE } from '../../pcsc/constants.js';
import { PcscError } from '../../pcsc/error.js';
import { parseHex, toHex } from '../../iso7816/hex.js';
import { decodeSw } from '../../iso7816/status-words.js';
import { isSecretApdu, isSecretResponse, renderApdu, renderResponse } from '../../log/redact.js';
import { protocolName } from '../../events/card-data.js';
import type { GatewayEvents } from '../../events/pipeline.js';
import type { ReaderDirectory } from './reader-states.js';
import type { ApduResult, GatewayInfo, Method, RequestOf, ResponseData, SessionOpened } from './topics.js';

const SHARE_OF = { shared: SHARE.SHARED, exclusive: SHARE.EXCLUSIVE, direct: SHARE.DIRECT } as const;
const PROTO_OF = { T0: PROTOCOL.T0, T1: PROTOCOL.T1, any: PROTOCOL.T0 | PROTOCOL.T1, raw: PROTOCOL.RAW } as const;
const DISP_OF = { leave: DISPOSITION.LEAVE, reset: DISPOSITION.RESET, unpower: DISPOSITION.UNPOWER, eject: DISPOSITION.EJECT } as const;

interface Session {
  id: string;
  reader: string;
  ctx: ContextId;
  handle: HandleId;
  protocol: number;
  atr: string;
  leaseMs: number;
  timer: NodeJS.Timeout;
  expiresAt: number;
  holdsTransaction: boolean;
  /** Serialises this session's requests (one APDU list at a time). */
  busy: Promise<unknown>;
}

export interface CommandsOptions {
  core: ScardCore;
  events: GatewayEvents;
  readers: ReaderDirectory;
  maxSessions: number;
  maxLeaseMs: number;
  info: () => GatewayInfo;
}

/** One APDU's result; secret-bearing data redacted. */
export function apduResult(cmd: Buffer, resp: Buffer): ApduResult {
  const sw = resp.length >= 2 ? decodeSw(resp) : undefined;
  const hidden = isSecretResponse(cmd);
  const n = Math.max(0, resp.length - 2);
  return {
    apdu: isSecretApdu(cmd) ? renderApdu(cmd) : toHex(cmd, ''),
    response: hidden ? renderResponse(cmd, resp) : toHex(resp, ''),
    data: hidden ? (n ? `<${n} bytes redacted>` : '') : toHex(resp.subarray(0, n), ''),
    sw: sw?.hex ?? '',
    swText: sw?.text ?? 'no status word (response shorter than 2 bytes)',
    ok: sw ? sw.kind === 'success' || sw.kind === 'info' : false,
  };
}

export class Commands {
  private sessions = new Map<string, Session>();
  constructor(private readonly o: CommandsOptions) {}

  private reader(ref: string): ReaderSnapshot {
    const readers = this.o.core.readers();
    const r = this.o.readers.resolve(ref, readers);
    if (!r) {
      throw new PcscError(SCARD.E_UNKNOWN_READER, `"${ref}"; readers: ${readers.map((x) => `"${x.name}" (${this.o.readers.idOf(x.name)})`).join(', ') || 'none'}`);
    }
    return r;
  }

  private session(id: string): Session {
    const s = this.sessions.get(id);
    if (!s) throw new PcscError(SCARD.E_INVALID_HANDLE, `no open session "${id}" (closed, or its lease expired)`);
    return s;
  }

  async run<M extends Method>(method: M, p: RequestOf<M>): Promise<ResponseData[M]> {
    const q = p as Record<string, any>;
    switch (method) {
      case 'readers':
        return this.o.readers.list(this.o.core.readers()) as ResponseData[M];
      case 'reader/status':
        return this.o.readers.state(this.reader(q.reader)) as ResponseData[M];
      case 'info':
        return this.o.info() as ResponseData[M];
      case 'events':
        return { events: this.o.events.history({ afterSeq: q.afterSeq, limit: q.limit ?? 100 }) } as ResponseData[M];
      case 'transmit':
        return (await this.transmit(q)) as ResponseData[M];
      case 'session/open':
        return (await this.openSession(q)) as ResponseData[M];
      case 'session/transmit':
        return (await this.sessionTransmit(q)) as ResponseData[M];
      case 'session/close':
        await this.closeSession(this.session(q.session), DISP_OF[q.disposition as keyof typeof DISP_OF] ?? DISPOSITION.LEAVE);
        return { session: q.session } as ResponseData[M];
      case 'control':
        return (await this.control(q)) as ResponseData[M];
      case 'feedback': {
        const r = this.reader(q.reader);
        if (!q.led && !q.buzzer) throw new PcscError(SCARD.E_INVALID_PARAMETER, 'feedback needs "led" and/or "buzzer"');
        await this.o.core.feedback(r.name, { led: q.led, buzzer: q.buzzer });
        return {} as ResponseData[M];
      }
      case 'simulate/insert': {
        const r = this.reader(q.reader);
        await this.o.core.simulateInsert(r.name, q.card ?? 'iso7816');
        return {} as ResponseData[M];
      }
      case 'simulate/remove': {
        const r = this.reader(q.reader);
        await this.o.core.simulateRemove(r.name);
        return {} as ResponseData[M];
      }
      default:
        throw new PcscError(SCARD.E_UNSUPPORTED_FEATURE, `method ${String(method)}`);
    }
  }

  /** Connect, run every APDU inside one transaction, disconnect (the one-shot of door controllers). */
  private async transmit(q: Record<string, any>): Promise<ResponseData['transmit']> {
    const r = this.reader(q.reader);
    const apdus = (q.apdus as string[]).map((h) => parseHex(h));
    const core = this.o.core;
    const ctx = core.establishContext('mqtt:transmit');
    try {
      const { handle, protocol } = await core.connect(ctx, r.name, SHARE_OF[q.shareMode as keyof typeof SHARE_OF] ?? SHARE.SHARED, PROTO_OF[q.protocol as keyof typeof PROTO_OF] ?? PROTOCOL.T0 | PROTOCOL.T1);
      const responses: ApduResult[] = [];
      let atr = '';
      try {
        await core.beginTransaction(handle);
        try {
          atr = toHex((await core.status(handle)).atr, '');
          for (const a of apdus) {
            const res = apduResult(a, await core.transmit(handle, protocol, a));
            responses.push(res);
            if (q.stopOnError && !res.ok) break;
          }
        } finally {
          await core.endTransaction(handle, DISPOSITION.LEAVE).catch(() => undefined);
        }
      } finally {
        await core.disconnect(handle, DISPOSITION.LEAVE).catch(() => undefined);
      }
      return { reader: r.name, protocol: protocolName(protocol), atr, responses };
    } finally {
      await core.releaseContext(ctx).catch(() => undefined);
    }
  }

  private arm(s: Session): void {
    clearTimeout(s.timer);
    s.expiresAt = Date.now() + s.leaseMs;
    s.timer = setTimeout(() => void this.closeSession(s, DISPOSITION.LEAVE), s.leaseMs);
    s.timer.unref?.();
  }

  private async openSession(q: Record<string, any>): Promise<SessionOpened> {
    if (this.sessions.size >= this.o.maxSessions) throw new PcscError(SCARD.E_NO_MEMORY, `${this.sessions.size} sessions open, the limit (mqtt.maxSessions) is ${this.o.maxSessions}`);
    const r = this.reader(q.reader);
    const leaseMs = Math.min(q.leaseMs ?? 30000, this.o.maxLeaseMs);
    const core = this.o.core;
    const ctx = core.establishContext('mqtt:session');
    try {
      const { handle, protocol } = await core.connect(ctx, r.name, SHARE_OF[q.shareMode as keyof typeof SHARE_OF] ?? SHARE.SHARED, PROTO_OF[q.protocol as keyof typeof PROTO_OF] ?? PROTOCOL.T0 | PROTOCOL.T1);
      if (q.holdTransaction) await core.beginTransaction(handle);
      const atr = protocol === 0 ? '' : toHex((await core.status(handle)).atr, '');
      const s: Session = {
        id: randomBytes(8).toString('hex'),
        reader: r.name,
        ctx,
        handle,
        protocol,
        atr,
        leaseMs,
        timer: setTimeout(() => undefined, 0),
        expiresAt: 0,
        holdsTransaction: Boolean(q.holdTransaction),
        busy: Promise.resolve(),
      };
      this.sessions.set(s.id, s);
      this.arm(s);
      return { session: s.id, reader: r.name, protocol: protocolName(protocol), atr, leaseMs, expiresAt: new Date(s.expiresAt).toISOString() };
    } catch (e) {
      await core.releaseContext(ctx).catch(() => undefined);
      throw e;
    }
  }

  private async sessionTransmit(q: Record<string, any>): Promise<ResponseData['session/transmit']> {
    const s = this.session(q.session);
    const apdus = (q.apdus as string[]).map((h) => parseHex(h));
    const run = s.busy.then(async () => {
      this.arm(s);
      const responses: ApduResult[] = [];
      const core = this.o.core;
      // Several APDUs of one request stay together even when the session holds no transaction.
      if (!s.holdsTransaction) await core.beginTransaction(s.handle);
      try {
        for (const a of apdus) responses.push(apduResult(a, await core.transmit(s.handle, s.protocol, a)));
      } finally {
        if (!s.holdsTransaction) await core.endTransaction(s.handle, DISPOSITION.LEAVE).catch(() => undefined);
      }
      this.arm(s);
      return { session: s.id, responses, expiresAt: new Date(s.expiresAt).toISOString() };
    });
    s.busy = run.catch(() => undefined);
    return run;
  }

  private async closeSession(s: Session, disposition: number): Promise<void> {
    if (this.sessions.get(s.id) !== s) return;
    this.sessions.delete(s.id);
    clearTimeout(s.timer);
    await s.busy;
    const core = this.o.core;
    if (s.holdsTransaction) await core.endTransaction(s.handle, disposition).catch(() => undefined);
    await core.disconnect(s.handle, disposition).catch(() => undefined);
    await core.releaseContext(s.ctx).catch(() => undefined);
  }

  private async control(q: Record<string, any>): Promise<ResponseData['control']> {
    const data = q.data ? parseHex(q.data) : Buffer.alloc(0);
    if (q.session) {
      const s = this.session(q.session);
      this.arm(s);
      return { response: toHex(await this.o.core.control(s.handle, q.code >>> 0, data), '') };
    }
    if (!q.reader) throw new PcscError(SCARD.E_INVALID_PARAMETER, 'control needs "session" or "reader"');
    const r = this.reader(q.reader);
    const core = this.o.core;
    const ctx = core.establishContext('mqtt:control');
    try {
      const { handle } = await core.connect(ctx, r.name, SHARE.DIRECT, 0);
      try {
        return { response: toHex(await core.control(handle, q.code >>> 0, data), '') };
      } finally {
        await core.disconnect(handle, DISPOSITION.LEAVE).catch(() => undefined);
      }
    } finally {
      await core.releaseContext(ctx).catch(() => undefined);
    }
  }

  openSessions(): number {
    return this.sessions.size;
  }

  async closeAll(): Promise<void> {
    await Promise.all([...this.sessions.values()].map((s) => this.closeSession(s, DISPOSITION.LEAVE)));
  }
}
