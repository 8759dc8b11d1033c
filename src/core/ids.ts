/**
 * Context and card handle numbers: random, non-zero, 31-bit and unique, as
 * pcscd makes them, so a guessed or stale number from another client does
 * not land on a live handle by accident.
 */
import { randomInt } from 'node:crypto';

export class IdPool {
  private readonly used = new Set<number>();

  take(): number {
    for (;;) {
      const n = randomInt(1, 0x7fffffff);
      if (!this.used.has(n)) {
        this.used.add(n);
        return n;
      }
    }
  }

  release(n: number): void {
    this.used.delete(n);
  }
}
