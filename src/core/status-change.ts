/**
 * SCardGetStatusChange over the reader table (docs/pcsc.md §6):
 * the caller passes the states it knows, and is answered as soon as one
 * differs, when the timeout ends (E_TIMEOUT), or when cancelled. pcsc-lite
 * runs this in the client; here it serves MQTT, HTTP and the CLI, with the
 * same rules, woken by table changes instead of polling.
 */
import { INFINITE, PNP_NOTIFICATION, SCARD, STATE, CARD_STATE } from '../pcsc/constants.js';
import { PcscError } from '../pcsc/error.js';
import type { ReaderSnapshot, ReaderStateQuery, ReaderStateResult } from './api.js';

const EMPTY: Buffer = Buffer.alloc(0);
const PNP_LOWER = PNP_NOTIFICATION.toLowerCase();
export const isPnpName = (n: string): boolean => n.toLowerCase() === PNP_LOWER;

/** The view of the reader table a wait needs. */
export interface ReaderTable {
  find(name: string): ReaderSnapshot | undefined;
  /** Number of listed readers. */
  count(): number;
  /** Bumped on every reader addition and removal. */
  generation(): number;
}

/** Bits whose difference between the caller's and the current state is a change. */
const WATCHED = STATE.UNAVAILABLE | STATE.EMPTY | STATE.PRESENT | STATE.MUTE | STATE.EXCLUSIVE | STATE.INUSE;

/** dwEventState for one named reader (not the PnP entry), and whether it differs from `current`. */
export function evaluateReader(current: number, r: ReaderSnapshot | undefined): { eventState: number; atr: Buffer; changed: boolean } {
  if (!r) {
    // Gone since the call started.
    const e = STATE.UNKNOWN | STATE.UNAVAILABLE;
    const changed = (current & STATE.UNKNOWN) === 0;
    return { eventState: changed ? e | STATE.CHANGED : e, atr: EMPTY, changed };
  }
  let changed = current === STATE.UNAWARE || (current & STATE.UNKNOWN) !== 0;
  const known = current >>> 16;
  if (known !== 0 && known !== r.eventCounter) changed = true;
  let e: number;
  let atr = EMPTY;
  if (r.state & CARD_STATE.UNKNOWN) {
    // pcsc-lite: UNAVAILABLE alone, counter bits cleared.
    e = STATE.UNAVAILABLE;
  } else {
    e = 0;
    if (r.state & CARD_STATE.PRESENT) atr = r.atr;
    if (r.state & CARD_STATE.ABSENT) e |= STATE.EMPTY;
    else if (r.state & CARD_STATE.PRESENT) {
      e |= STATE.PRESENT;
      if (r.state & CARD_STATE.SWALLOWED) e |= STATE.MUTE;
    }
    if (r.sharing === -1) e |= STATE.EXCLUSIVE;
    else if (r.sharing >= 1 && r.state & CARD_STATE.PRESENT) e |= STATE.INUSE;
  }
  if ((e & WATCHED) !== (current & WATCHED)) changed = true;
  if (!(r.state & CARD_STATE.UNKNOWN)) e = (e | ((r.eventCounter & 0xffff) << 16)) >>> 0;
  if (changed) e |= STATE.CHANGED;
  return { eventState: e >>> 0, atr, changed };
}

interface Waiter {
  ctx: number;
  queries: ReaderStateQuery[];
  startCount: number;
  startGeneration: number;
  resolve: (r: ReaderStateResult[]) => void;
  reject: (e: PcscError) => void;
  timer: NodeJS.Timeout | undefined;
}

export class StatusChangeBus {
  private readonly waiters = new Set<Waiter>();

  constructor(private readonly table: ReaderTable) {}

  get waiting(): number {
    return this.waiters.size;
  }

  wait(ctx: number, queries: ReaderStateQuery[], timeoutMs: number): Promise<ReaderStateResult[]> {
    if (!Array.isArray(queries)) return Promise.reject(new PcscError(SCARD.E_INVALID_PARAMETER, 'reader states must be a list'));
    for (const q of queries) {
      if (!q || typeof q.reader !== 'string') return Promise.reject(new PcscError(SCARD.E_INVALID_VALUE, 'a reader state has no reader name'));
      if (!Number.isInteger(q.currentState) || q.currentState < 0 || q.currentState > 0xffffffff) {
        return Promise.reject(new PcscError(SCARD.E_INVALID_VALUE, `currentState of "${q.reader}" must be a 32-bit unsigned integer`));
      }
    }
    if (!Number.isInteger(timeoutMs) || timeoutMs < 0 || timeoutMs > INFINITE) {
      return Promise.reject(new PcscError(SCARD.E_INVALID_VALUE, `timeout must be 0..${INFINITE} ms (INFINITE), got ${timeoutMs}`));
    }
    const active = queries.filter((q) => !(q.currentState & STATE.IGNORE));
    if (active.length === 0) {
      return Promise.resolve(queries.map((q) => ({ reader: q.reader, eventState: q.currentState & STATE.IGNORE ? STATE.IGNORE : 0, atr: EMPTY })));
    }
    for (const q of active) {
      if (!isPnpName(q.reader) && !this.table.find(q.reader)) {
        return Promise.reject(new PcscError(SCARD.E_UNKNOWN_READER, `no reader named "${q.reader}"`));
      }
    }
    const w: Omit<Waiter, 'resolve' | 'reject'> = {
      ctx,
      queries,
      startCount: this.table.count(),
      startGeneration: this.table.generation(),
      timer: undefined,
    };
    const first = this.evaluate(w);
    if (first.changed) return Promise.resolve(first.results);
    if (timeoutMs === 0) return Promise.reject(new PcscError(SCARD.E_TIMEOUT, 'no change'));
    return new Promise<ReaderStateResult[]>((resolve, reject) => {
      const waiter: Waiter = { ...w, resolve, reject };
      if (timeoutMs !== INFINITE) {
        waiter.timer = setTimeout(() => {
          this.waiters.delete(waiter);
          reject(new PcscError(SCARD.E_TIMEOUT, `no change within ${timeoutMs} ms`));
        }, Math.min(timeoutMs, 0x7fffffff));
      }
      this.waiters.add(waiter);
    });
  }

  /** The table changed: answer every waiter that now sees a difference. */
  notify(): void {
    for (const w of this.waiters) {
      const r = this.evaluate(w);
      if (r.changed) this.settle(w).resolve(r.results);
    }
  }

  /** SCardCancel: wake this context's waits with `code` (E_CANCELLED). True when one was waiting. */
  cancel(ctx: number, code: number = SCARD.E_CANCELLED, detail = 'cancelled'): boolean {
    let any = false;
    for (const w of this.waiters) {
      if (w.ctx !== ctx) continue;
      any = true;
      this.settle(w).reject(new PcscError(code, detail));
    }
    return any;
  }

  cancelAll(code: number, detail: string): void {
    for (const w of this.waiters) this.settle(w).reject(new PcscError(code, detail));
  }

  private settle(w: Waiter): Waiter {
    this.waiters.delete(w);
    if (w.timer) clearTimeout(w.timer);
    return w;
  }

  private evaluate(w: Pick<Waiter, 'queries' | 'startCount' | 'startGeneration'>): { changed: boolean; results: ReaderStateResult[] } {
    let any = false;
    const results = w.queries.map((q): ReaderStateResult => {
      if (q.currentState & STATE.IGNORE) return { reader: q.reader, eventState: STATE.IGNORE, atr: EMPTY };
      if (isPnpName(q.reader)) {
        // pcsc-lite compares reader counts; a removal plus an addition is caught by the generation too.
        const changed = this.table.count() !== w.startCount || this.table.generation() !== w.startGeneration;
        if (changed) any = true;
        return { reader: q.reader, eventState: changed ? STATE.CHANGED : 0, atr: EMPTY };
      }
      const r = evaluateReader(q.currentState, this.table.find(q.reader));
      if (r.changed) any = true;
      return { reader: q.reader, eventState: r.eventState, atr: r.atr };
    });
    return { changed: any, results };
  }
}
