/**
 * Technician sessions: random ids in an HttpOnly cookie, each with its own
 * CSRF token (synchronizer pattern: the UI reads it from /api/auth/session and
 * sends it as X-CSRF-Token). Kept in memory: a daemon restart logs everyone
 * out, which the UI shows as "session expired".
 *
 * A session ends after `idleMs` without a request, after `maxAgeMs` whatever
 * its use (a stolen cookie does not live for ever), and when the password it
 * logged in with is no longer the password (each session remembers a stamp of
 * the password file: `scardctl passwd` or any other change ends every session
 * but, through `keepOnly`, the one that made the change). Time comes from an
 * injected clock so its tests can move it.
 */
import { randomBytes, timingSafeEqual } from 'node:crypto';
import { EventEmitter } from 'node:events';

export const SESSION_COOKIE = 'scardgate_session';
export const CSRF_HEADER = 'x-csrf-token';

export interface Session {
  id: string;
  csrf: string;
  /** performance.now() (monotonic): an NTP jump neither logs everyone out nor keeps idle sessions alive. */
  created: number;
  lastSeen: number;
  /** Stamp of the password this session logged in with (password-stamp.ts). */
  credential: string;
}

export type EndReason = 'logout' | 'idle' | 'lifetime' | 'password changed' | 'evicted' | 'shutdown';

export interface SessionStoreOptions {
  /** Absolute lifetime from login (default: none). */
  maxAgeMs?: number;
  /** Monotonic milliseconds clock (default performance.now()): a wall-clock jump must not end or extend sessions. */
  now?: () => number;
  /** The current password's stamp (PasswordStamp.current); without it sessions do not follow the password. */
  credential?: () => Promise<string>;
}

const MAX_SESSIONS = 64;

export class SessionStore extends EventEmitter<{ ended: [id: string, reason: EndReason] }> {
  private readonly sessions = new Map<string, Session>();
  private readonly maxAgeMs: number;
  private readonly now: () => number;
  private readonly credential?: () => Promise<string>;
  constructor(
    private readonly idleMs: number,
    opts: SessionStoreOptions = {},
  ) {
    super();
    this.maxAgeMs = opts.maxAgeMs ?? Infinity;
    this.now = opts.now ?? (() => performance.now());
    this.credential = opts.credential;
  }

  /** A new session bound to the current password (login). */
  async open(): Promise<Session> {
    return this.create(this.credential ? await this.credential() : '');
  }

  /** get() against the current password: a session from before a password change is ended. */
  async check(id: string | undefined): Promise<Session | undefined> {
    if (!id || !this.sessions.has(id)) return undefined;
    if (!this.credential) return this.get(id);
    const current = await this.credential();
    // The first request after a change ends every older session (and so their live channels), not just its own.
    for (const s of [...this.sessions.values()]) if (s.credential !== current) this.end(s.id, 'password changed');
    return this.get(id, current);
  }

  create(credential = ''): Session {
    this.sweep();
    // A bounded table: the oldest session goes when a 65th technician logs in.
    if (this.sessions.size >= MAX_SESSIONS) {
      const oldest = [...this.sessions.values()].sort((a, b) => a.lastSeen - b.lastSeen)[0];
      this.end(oldest.id, 'evicted');
    }
    const now = this.now();
    const s: Session = { id: randomBytes(32).toString('base64url'), csrf: randomBytes(32).toString('base64url'), created: now, lastSeen: now, credential };
    this.sessions.set(s.id, s);
    return s;
  }

  /**
   * The live session with this id (touching it), or undefined when unknown, idle too long, past its
   * lifetime, or logged in with another password than `credential` (when given).
   */
  get(id: string | undefined, credential?: string): Session | undefined {
    if (!id) return undefined;
    const s = this.sessions.get(id);
    if (!s) return undefined;
    const now = this.now();
    const over = this.expired(s, now);
    if (over) {
      this.end(id, over);
      return undefined;
    }
    if (credential !== undefined && credential !== s.credential) {
      this.end(id, 'password changed');
      return undefined;
    }
    s.lastSeen = now;
    return s;
  }

  end(id: string, reason: EndReason = 'logout'): void {
    if (this.sessions.delete(id)) this.emit('ended', id, reason);
  }

  endAll(reason: EndReason = 'shutdown'): void {
    for (const id of [...this.sessions.keys()]) this.end(id, reason);
  }

  /** After a password change made through session `keep`: every other session ends; `keep` takes the new stamp. */
  keepOnly(keep: string | undefined, credential: string): void {
    for (const id of [...this.sessions.keys()]) if (id !== keep) this.end(id, 'password changed');
    const s = keep ? this.sessions.get(keep) : undefined;
    if (s) s.credential = credential;
  }

  get size(): number {
    return this.sessions.size;
  }

  private expired(s: Session, now: number): EndReason | undefined {
    if (now - s.lastSeen > this.idleMs) return 'idle';
    if (now - s.created > this.maxAgeMs) return 'lifetime';
    return undefined;
  }

  private sweep(): void {
    const now = this.now();
    for (const s of [...this.sessions.values()]) {
      const over = this.expired(s, now);
      if (over) this.end(s.id, over);
    }
  }
}

export function csrfMatches(session: Session, header: unknown): boolean {
  if (typeof header !== 'string' || header.length !== session.csrf.length) return false;
  return timingSafeEqual(Buffer.from(header), Buffer.from(session.csrf));
}
