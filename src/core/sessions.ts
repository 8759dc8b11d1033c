/**
 * Leased APDU sessions for MQTT and HTTP: a remote caller opens a session on a
 * reader, sends APDUs over several requests, and closes it. The session holds
 * its own context, a handle and (by default) a transaction, so its APDUs are
 * not interleaved with anyone else's. A lease that is not renewed by use
 * expires: the card is reset (its half-done state is not left to others) and
 * the session is gone. Sessions belong to their owner; another owner's id is
 * "no such session". A session ends at once when its card or reader goes (its
 * handle could only fail from then on); the owner's next call names the cause.
 */
import { randomUUID } from 'node:crypto';
import { EventEmitter } from 'node:events';
import { DISPOSITION, PROTOCOL, SCARD, SHARE } from '../pcsc/constants.js';
import { PcscError } from '../pcsc/error.js';
import type { ReaderSnapshot, ScardCore } from './api.js';
import { beginFresh } from './oneshot.js';

export interface SessionOptions {
  shareMode?: number;
  protocol?: number;
  /** Lease in ms, renewed by every use (default and bounds from SessionManagerOptions). */
  leaseMs?: number;
  /** Hold a transaction for the session's lifetime (default true). */
  transaction?: boolean;
}

export interface SessionManagerOptions {
  defaultLeaseMs?: number;
  maxLeaseMs?: number;
  /** Sessions open at once, over all owners. */
  maxSessions?: number;
}

export interface SessionInfo {
  id: string;
  owner: string;
  reader: string;
  protocol: number;
  atr: Buffer;
  leaseMs: number;
  /** ISO 8601 */
  expiresAt: string;
  openedAt: string;
  apdus: number;
}

interface Session {
  info: SessionInfo;
  ctx: number;
  handle: number;
  timer: NodeJS.Timeout;
  expires: number;
}

export interface SessionEvents {
  expired: [session: SessionInfo];
  /** The session's card or reader went; the session is closed. */
  ended: [session: SessionInfo, reason: string];
}

/** Why a session ended without its owner closing it, kept for the owner's next call. */
interface Gone {
  owner: string;
  code: number;
  reason: string;
}

/** Ended sessions remembered for their owners' next call (the oldest forgotten first). */
const GONE_KEPT = 256;

export class SessionManager extends EventEmitter<SessionEvents> {
  private readonly sessions = new Map<string, Session>();
  private readonly defaultLeaseMs: number;
  readonly maxLeaseMs: number;
  private readonly maxSessions: number;
  private readonly gone = new Map<string, Gone>();
  private readonly onCardRemoved = (r: ReaderSnapshot): void => this.endOn(r.name, SCARD.W_REMOVED_CARD, `the card was removed from "${r.name}"`);
  private readonly onReaderRemoved = (r: ReaderSnapshot): void => this.endOn(r.name, SCARD.E_READER_UNAVAILABLE, `reader "${r.name}" was removed`);

  constructor(
    private readonly core: ScardCore,
    opts: SessionManagerOptions = {},
  ) {
    super();
    this.defaultLeaseMs = opts.defaultLeaseMs ?? 30000;
    this.maxLeaseMs = opts.maxLeaseMs ?? 600000;
    this.maxSessions = opts.maxSessions ?? 64;
  }

  async open(owner: string, reader: string, opts: SessionOptions = {}): Promise<SessionInfo> {
    const leaseMs = opts.leaseMs ?? this.defaultLeaseMs;
    if (!Number.isInteger(leaseMs) || leaseMs < 1 || leaseMs > this.maxLeaseMs) {
      throw new PcscError(SCARD.E_INVALID_VALUE, `lease must be 1..${this.maxLeaseMs} ms, got ${leaseMs}`);
    }
    if (this.sessions.size >= this.maxSessions) throw new PcscError(SCARD.E_NO_MEMORY, `too many open sessions (${this.maxSessions})`);
    const ctx = this.core.establishContext(`session:${owner}`);
    try {
      const share = opts.shareMode ?? SHARE.SHARED;
      const preferred = opts.protocol ?? PROTOCOL.T0 | PROTOCOL.T1;
      const conn = await this.core.connect(ctx, reader, share, preferred);
      const { handle } = conn;
      // Waiting behind another session whose lease ends with a reset must not fail this open.
      if (opts.transaction !== false) await beginFresh(this.core, conn, share, preferred);
      const { protocol } = conn;
      const st = await this.core.status(handle);
      const id = randomUUID();
      const now = Date.now();
      const s: Session = {
        ctx,
        handle,
        // Wall time, for the caller's expiresAt only: the lease itself runs on the timer (monotonic).
        expires: now + leaseMs,
        timer: setTimeout(() => void this.expire(id), leaseMs),
        info: { id, owner, reader: st.reader, protocol, atr: st.atr, leaseMs, expiresAt: '', openedAt: new Date(now).toISOString(), apdus: 0 },
      };
      s.info.expiresAt = new Date(s.expires).toISOString();
      if (this.sessions.size === 0) this.watch(true);
      this.sessions.set(id, s);
      return { ...s.info };
    } catch (e) {
      await this.core.releaseContext(ctx).catch(() => undefined);
      throw e;
    }
  }

  async transmit(owner: string, id: string, apdu: Buffer): Promise<Buffer> {
    const s = this.get(owner, id);
    this.renew(s);
    const r = await this.core.transmit(s.handle, s.info.protocol, apdu);
    s.info.apdus++;
    this.renew(s);
    return r;
  }

  /** SCardControl on the session's own handle (a reader command while the session holds the card). */
  async control(owner: string, id: string, code: number, data: Buffer): Promise<Buffer> {
    const s = this.get(owner, id);
    this.renew(s);
    const r = await this.core.control(s.handle, code, data);
    this.renew(s);
    return r;
  }

  /** Renew the lease without an APDU. */
  touch(owner: string, id: string): SessionInfo {
    const s = this.get(owner, id);
    this.renew(s);
    return { ...s.info };
  }

  /** Default RESET: the next user of the card does not inherit what the session left (a verified PIN). */
  async close(owner: string, id: string, disposition: number = DISPOSITION.RESET): Promise<void> {
    const s = this.get(owner, id);
    await this.end(s, disposition);
  }

  list(owner?: string): SessionInfo[] {
    const out: SessionInfo[] = [];
    for (const s of this.sessions.values()) if (owner === undefined || s.info.owner === owner) out.push({ ...s.info });
    return out;
  }

  info(owner: string, id: string): SessionInfo {
    return { ...this.get(owner, id).info };
  }

  async closeAll(): Promise<void> {
    await Promise.all([...this.sessions.values()].map((s) => this.end(s, DISPOSITION.RESET)));
  }

  private get(owner: string, id: string): Session {
    const s = this.sessions.get(id);
    if (s && s.info.owner === owner) return s;
    const g = this.gone.get(id);
    if (g && g.owner === owner) throw new PcscError(g.code, `no session "${id}": it ended when ${g.reason}`);
    throw new PcscError(SCARD.E_INVALID_HANDLE, `no session "${id}"`);
  }

  /** Follow card and reader removals only while sessions are open (no listener left on the core otherwise). */
  private watch(on: boolean): void {
    if (on) {
      this.core.on('card-removed', this.onCardRemoved);
      this.core.on('reader-removed', this.onReaderRemoved);
    } else {
      this.core.off('card-removed', this.onCardRemoved);
      this.core.off('reader-removed', this.onReaderRemoved);
    }
  }

  private endOn(reader: string, code: number, reason: string): void {
    for (const s of [...this.sessions.values()]) {
      if (s.info.reader !== reader) continue;
      this.gone.set(s.info.id, { owner: s.info.owner, code, reason });
      if (this.gone.size > GONE_KEPT) this.gone.delete(this.gone.keys().next().value!);
      // The card is gone: nothing to reset; disconnecting releases the handle and its transaction.
      void this.end(s, DISPOSITION.LEAVE).then(() => this.emit('ended', { ...s.info }, reason));
    }
  }

  private renew(s: Session): void {
    s.expires = Date.now() + s.info.leaseMs;
    s.info.expiresAt = new Date(s.expires).toISOString();
    s.timer.refresh();
  }

  private async expire(id: string): Promise<void> {
    const s = this.sessions.get(id);
    if (!s) return;
    await this.end(s, DISPOSITION.RESET);
    this.emit('expired', { ...s.info });
  }

  private async end(s: Session, disposition: number): Promise<void> {
    if (!this.sessions.delete(s.info.id)) return;
    clearTimeout(s.timer);
    if (this.sessions.size === 0) this.watch(false);
    // Disconnect carries out the disposition while the session still holds its transaction,
    // so nobody else sees the card before a RESET.
    await this.core.disconnect(s.handle, disposition).catch(() => undefined);
    await this.core.releaseContext(s.ctx).catch(() => undefined);
  }
}
