/**
 * Reconnect back-off with full jitter: attempt n waits a random time in
 * [floor, min(max, base * 2^n)]. A broker restart drops a whole fleet at the
 * same instant; without jitter every gateway would come back in the same
 * second (and again at each doubling), so the broker that just came up gets
 * the whole fleet's CONNECTs, TLS handshakes and session resumptions at once.
 */
export class Backoff {
  private attempt = 0;

  constructor(
    private readonly baseMs: number,
    private readonly maxMs: number,
    private readonly random: () => number = Math.random,
  ) {}

  /** The delay before the next attempt (and count it). */
  next(): number {
    const ceiling = Math.min(this.maxMs, this.baseMs * 2 ** Math.min(this.attempt, 30));
    this.attempt++;
    // Never 0 (mqtt.js takes reconnectPeriod 0 as "do not reconnect"), never below a tenth of the base.
    const floor = Math.max(1, Math.min(ceiling, Math.round(this.baseMs / 10)));
    return Math.max(floor, Math.round(this.random() * ceiling));
  }

  /** A connection was established: the next drop starts from the base again. */
  reset(): void {
    this.attempt = 0;
  }
}
