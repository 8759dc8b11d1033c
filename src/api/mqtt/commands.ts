/**
 * What each request method does, over the core's public API only. Results
 * are the response `data`; failures throw (PcscError for card/reader problems)
 * and become error responses in the service.
 */
import type { ReaderSnapshot, ScardCore } from '../../core/api.js';
import { runApdus } from '../../core/oneshot.js';
import { SessionManager } from '../../core/sessions.js';
import { DISPOSITION, PROTOCOL, SCARD, SHARE } from '../../pcsc/constants.js';
import { PcscError } from '../../pcsc/error.js';
import { parseHex, toHex } from '../../iso7816/hex.js';
import { decodeSw } from '../../iso7816/status-words.js';
import { isSecretApdu, isSecretResponse, renderApdu, renderResponse } from '../../log/redact.js';
import { protocolName } from '../../events/card-data.js';
import type { GatewayEvents } from '../../events/pipeline.js';
import type { ReaderDirectory } from './reader-states.js';
import type { ApduResult, GatewayInfo, Method, RequestOf, ResponseData } from './topics.js';

const SHARE_OF = { shared: SHARE.SHARED, exclusive: SHARE.EXCLUSIVE, direct: SHARE.DIRECT } as const;
const PROTO_OF = { T0: PROTOCOL.T0, T1: PROTOCOL.T1, any: PROTOCOL.T0 | PROTOCOL.T1, raw: PROTOCOL.RAW } as const;
const DISP_OF = { leave: DISPOSITION.LEAVE, reset: DISPOSITION.RESET, unpower: DISPOSITION.UNPOWER, eject: DISPOSITION.EJECT } as const;

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

/** Sessions opened over MQTT belong to this owner in the core's session manager. */
const OWNER = 'mqtt';

export class Commands {
  private readonly sessions: SessionManager;
  constructor(private readonly o: CommandsOptions) {
    this.sessions = new SessionManager(o.core, { maxSessions: o.maxSessions, maxLeaseMs: o.maxLeaseMs });
  }

  private reader(ref: string): ReaderSnapshot {
    const readers = this.o.core.readers();
    const r = this.o.readers.resolve(ref, readers);
    if (!r) {
      throw new PcscError(SCARD.E_UNKNOWN_READER, `"${ref}"; readers: ${readers.map((x) => `"${x.name}" (${this.o.readers.idOf(x.name)})`).join(', ') || 'none'}`);
    }
    return r;
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
      case 'session/open': {
        // The schema bounds leaseMs for every gateway; this gateway's own limit is mqtt.maxLeaseMs. Same wording as schema errors.
        if (q.leaseMs !== undefined && q.leaseMs > this.o.maxLeaseMs) {
          throw new PcscError(SCARD.E_INVALID_VALUE, `/leaseMs: must be <= ${this.o.maxLeaseMs} (mqtt.maxLeaseMs), got ${q.leaseMs}`);
        }
        const r = this.reader(q.reader);
        const s = await this.sessions.open(OWNER, r.name, {
          shareMode: SHARE_OF[q.shareMode as keyof typeof SHARE_OF],
          protocol: PROTO_OF[q.protocol as keyof typeof PROTO_OF],
          leaseMs: q.leaseMs,
          transaction: q.holdTransaction ?? true,
        });
        return { session: s.id, reader: s.reader, protocol: protocolName(s.protocol), atr: toHex(s.atr, ''), leaseMs: s.leaseMs, expiresAt: s.expiresAt } as ResponseData[M];
      }
      case 'session/transmit': {
        const responses: ApduResult[] = [];
        for (const h of q.apdus as string[]) {
          const a = parseHex(h);
          responses.push(apduResult(a, await this.sessions.transmit(OWNER, q.session, a)));
        }
        return { session: q.session, responses, expiresAt: this.sessions.info(OWNER, q.session).expiresAt } as ResponseData[M];
      }
      case 'session/close':
        await this.sessions.close(OWNER, q.session, DISP_OF[q.disposition as keyof typeof DISP_OF] ?? DISPOSITION.LEAVE);
        return { session: q.session } as ResponseData[M];
      case 'control':
        return (await this.control(q)) as ResponseData[M];
      case 'session/control': {
        const data = q.data ? parseHex(q.data) : Buffer.alloc(0);
        const response = toHex(await this.sessions.control(OWNER, q.session, q.code >>> 0, data), '');
        return { session: q.session, response, expiresAt: this.sessions.info(OWNER, q.session).expiresAt } as ResponseData[M];
      }
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

  /** Connect, run every APDU inside one transaction, disconnect (src/core/oneshot.ts), each answer with its status word decoded. */
  private async transmit(q: Record<string, any>): Promise<ResponseData['transmit']> {
    const r = this.reader(q.reader);
    const apdus = (q.apdus as string[]).map((h) => parseHex(h));
    const shareMode = SHARE_OF[q.shareMode as keyof typeof SHARE_OF];
    const protocol = PROTO_OF[q.protocol as keyof typeof PROTO_OF];
    if (q.stopOnError) return this.transmitUntilError(r.name, apdus, shareMode, protocol);
    const run = await runApdus(this.o.core, r.name, apdus, { owner: 'mqtt:transmit', shareMode, protocol });
    const responses: ApduResult[] = run.results.map((res, i) => {
      if (res.response) return apduResult(apdus[i], res.response);
      throw new PcscError(res.error?.code ?? SCARD.F_UNKNOWN_ERROR, `APDU ${i}: ${res.error?.message ?? 'failed'}`);
    });
    return { reader: run.reader, protocol: protocolName(run.protocol), atr: toHex(run.atr, ''), responses };
  }

  /** The same in one short-lived session, stopping at the first answer whose status word is an error. */
  private async transmitUntilError(reader: string, apdus: Buffer[], shareMode?: number, protocol?: number): Promise<ResponseData['transmit']> {
    const s = await this.sessions.open(OWNER, reader, { shareMode, protocol, leaseMs: this.o.maxLeaseMs, transaction: true });
    const responses: ApduResult[] = [];
    try {
      for (const a of apdus) {
        const res = apduResult(a, await this.sessions.transmit(OWNER, s.id, a));
        responses.push(res);
        if (!res.ok) break;
      }
    } finally {
      await this.sessions.close(OWNER, s.id, DISPOSITION.LEAVE).catch(() => undefined);
    }
    return { reader: s.reader, protocol: protocolName(s.protocol), atr: toHex(s.atr, ''), responses };
  }

  private async control(q: Record<string, any>): Promise<ResponseData['control']> {
    const data = q.data ? parseHex(q.data) : Buffer.alloc(0);
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
    return this.sessions.list(OWNER).length;
  }

  async closeAll(): Promise<void> {
    await this.sessions.closeAll();
  }
}
