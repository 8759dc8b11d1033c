/**
 * Technician sessions: random ids in an HttpOnly cookie, each with its own
 * CSRF token (synchronizer pattern: the UI reads it from /api/auth/session and
 * sends it as X-CSRF-Token). Kept in memory: a daemon restart logs everyone
 * out, which the UI shows as "session expired".
 */
import { randomBytes, timingSafeEqual } from 'node:crypto';
import { EventEmitter } from 'node:events';

export const SESSION_COOKIE = 'scardgate_session';
export const CSRF_HEADER = 'x-csrf-token';

export interface Session {
  id: string;
  csrf: string;
  created: number;
  lastSeen: number;
}

const MAX_SESSIONS = 64;

export class SessionStore extends EventEmitter<{ ended: [id: string] }> {
  private readonly sessions = new Map<string, Session>();
  constructor(private readonly idleMs: number) {
    super();
  }

  create(): Session {
    this.sweep();
    // A bounded table: the oldest session goes when a 65th technician logs in.
    if (this.sessions.size >= MAX_SESSIONS) {
      const oldest = [...this.sessions.values()].sort((a, b) => a.lastSeen - b.lastSeen)[0];
      this.end(oldest.id);
    }
    const now = Date.now();
    const s: Session = { id: randomBytes(32).toString('base64url'), csrf: randomBytes(32).toString('base64url'), created: now, lastSeen: now };
    this.sessions.set(s.id, s);
    return s;
  }

  /** The live session with this id (touching it), or undefined when unknown or idle too long. */
  get(id: string | undefined): Session | undefined {
    if (!id) return undefined;
    const s = this.sessions.get(id);
    if (!s) return undefined;
    const now = Date.now();
    if (now - s.lastSeen > this.idleMs) {
      this.end(id);
      return undefined;
    }
    s.lastSeen = now;
    return s;
  }

  end(id: string): void {
    if (this.sessions.delete(id)) this.emit('ended', id);
  }

  endAll(): void {
    for (const id of [...this.sessions.keys()]) this.end(id);
  }

  /** Ends every session but `keep` (a password change: the technician who made it stays logged in). */
  endOthers(keep: string): number {
    let n = 0;
    for (const id of [...this.sessions.keys()]) {
      if (id === keep) continue;
      this.end(id);
      n++;
    }
    return n;
  }

  get size(): number {
    return this.sessions.size;
  }

  private sweep(): void {
    const now = Date.now();
    for (const s of [...this.sessions.values()]) if (now - s.lastSeen > this.idleMs) this.end(s.id);
  }
}

export function csrfMatches(session: Session, header: unknown): boolean {
  if (typeof header !== 'string' || header.length !== session.csrf.length) return false;
  return timingSafeEqual(Buffer.from(header), Buffer.from(session.csrf));
}
