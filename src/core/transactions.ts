/**
 * The transaction lock of one reader (pcscd's hLockId + LockCount), with
 * pcscd's rules (docs/pcsc.md §4). Waiting for the lock is not done
 * here: lock grants are jobs in the reader's SlotQueue, so waiting handles
 * are served in FIFO order instead of pcscd's 100 ms retry loop.
 */
import { SCARD } from '../pcsc/constants.js';
import { PcscError } from '../pcsc/error.js';

export class TransactionLock {
  /** Handle holding the lock, 0 = free. */
  holder = 0;
  /** Nesting depth; an exclusive handle's connection counts as the base level. */
  count = 0;

  /** May `owner` use the reader now? (lock free or its own) */
  allows(owner: number): boolean {
    return this.holder === 0 || this.holder === owner;
  }

  heldByOther(h: number): boolean {
    return this.holder !== 0 && this.holder !== h;
  }

  /** Begin (or nest) a transaction; the caller made sure the lock allows `h`. */
  acquire(h: number): void {
    if (this.holder === 0) {
      this.holder = h;
      this.count = 1;
    } else this.count++;
  }

  /**
   * End one level (SCardEndTransaction). An exclusive handle never drops its
   * base level; ending more often than begun is SCARD_E_NOT_TRANSACTED.
   */
  end(h: number, exclusive: boolean): void {
    if (this.heldByOther(h)) throw new PcscError(SCARD.E_SHARING_VIOLATION, 'another handle holds the transaction');
    if (exclusive) {
      if (this.count > 1) this.count--;
      else throw new PcscError(SCARD.E_NOT_TRANSACTED, 'no transaction to end');
      return;
    }
    if (this.holder !== h || this.count === 0) throw new PcscError(SCARD.E_NOT_TRANSACTED, 'no transaction to end');
    if (--this.count === 0) this.holder = 0;
  }

  /** Drop every level held by `h` (disconnect, context release). True when it held the lock. */
  releaseAll(h: number): boolean {
    if (this.holder !== h || h === 0) return false;
    this.holder = 0;
    this.count = 0;
    return true;
  }

  /** Card removed: pcscd clears owner and count. */
  clear(): void {
    this.holder = 0;
    this.count = 0;
  }
}
