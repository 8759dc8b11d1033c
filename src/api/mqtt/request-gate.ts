/**
 * Bounds the requests the MQTT frontend works on at once. A client flooding
 * `request/...` (thousands per second: a buggy back-end, a replayed session)
 * would otherwise put every request in flight at the same time: each holds
 * its parsed payload, promises and answer until the card or the core gets to
 * it, the heap grows by tens of MB (and V8 keeps it), and every other client
 * waits behind the flood. Up to `maxRunning` run; up to `maxWaiting` more wait
 * in arrival order; beyond that a request is refused at once ("busy").
 */
export class RequestGate {
  private running = 0;
  private readonly waiting: Array<() => Promise<void>> = [];
  /** Refused because the queue was full. */
  refused = 0;
  /** Most requests waiting at once. */
  peakWaiting = 0;

  constructor(
    private readonly maxRunning: number,
    private readonly maxWaiting: number,
  ) {}

  /** Run `job` now or later; false (and nothing runs) when the queue is full. */
  submit(job: () => Promise<void>): boolean {
    if (this.running < this.maxRunning) {
      this.run(job);
      return true;
    }
    if (this.waiting.length >= this.maxWaiting) {
      this.refused++;
      return false;
    }
    this.waiting.push(job);
    if (this.waiting.length > this.peakWaiting) this.peakWaiting = this.waiting.length;
    return true;
  }

  get pending(): number {
    return this.running + this.waiting.length;
  }

  private run(job: () => Promise<void>): void {
    this.running++;
    void job()
      .catch(() => undefined)
      .finally(() => {
        this.running--;
        const next = this.waiting.shift();
        if (next) this.run(next);
      });
  }
}
