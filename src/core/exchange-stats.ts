/**
 * Per-reader exchange figures for health views: how many APDUs went to the
 * card, which PC/SC codes failed them, and recent latencies (a bounded ring,
 * so memory stays flat on a gateway that runs for months).
 */
import { PcscError } from '../pcsc/error.js';

const RING = 256;

export interface ExchangeStatsJson {
  exchanges: number;
  failures: number;
  /** PC/SC error name (e.g. SCARD_W_REMOVED_CARD) -> count. */
  errorsByCode: Record<string, number>;
  lastError: { code: string; message: string; at: string } | null;
  /** Recent exchange durations in ms, oldest first, with the epoch ms each ended at. */
  recent: Array<[at: number, ms: number]>;
}

export class ExchangeStats {
  exchanges = 0;
  failures = 0;
  readonly errorsByCode = new Map<string, number>();
  lastError: ExchangeStatsJson['lastError'] = null;
  private readonly ring: Array<[number, number]> = [];

  record(ms: number, err?: unknown): void {
    this.exchanges++;
    if (err !== undefined) {
      this.failures++;
      const code = err instanceof PcscError ? err.codeName : 'SCARD_F_UNKNOWN_ERROR';
      this.errorsByCode.set(code, (this.errorsByCode.get(code) ?? 0) + 1);
      this.lastError = { code, message: (err as Error).message ?? String(err), at: new Date().toISOString() };
    }
    if (this.ring.length >= RING) this.ring.shift();
    this.ring.push([Date.now(), Math.round(ms * 100) / 100]);
  }

  toJSON(): ExchangeStatsJson {
    return { exchanges: this.exchanges, failures: this.failures, errorsByCode: Object.fromEntries(this.errorsByCode), lastError: this.lastError, recent: [...this.ring] };
  }
}
