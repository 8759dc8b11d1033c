/**
 * Context and card handle numbers: random, non-zero, 31-bit and unique, as
 * pcscd makes them, so a guessed or stale number from another client does
 * not land on a live handle by accident.
 */
import { randomFillSync } from 'node:crypto';

/** Random words drawn from the CSPRNG at a time (one call per this many ids instead of one per id). */
const BATCH = 256;
const MAX = 0x7fffffff;

export class IdPool {
  private readonly used = new Set<number>();
  private readonly words = new Uint32Array(BATCH);
  private next = BATCH;

  /** 1..0x7ffffffe, uniformly (31 random bits; 0 and 0x7fffffff are drawn again). */
  take(): number {
    for (;;) {
      if (this.next === BATCH) {
        randomFillSync(this.words);
        this.next = 0;
      }
      const n = this.words[this.next++] & MAX;
      if (n !== 0 && n !== MAX && !this.used.has(n)) {
        this.used.add(n);
        return n;
      }
    }
  }

  release(n: number): void {
    this.used.delete(n);
  }
}
