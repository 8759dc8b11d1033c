/**
 * Per-slot FIFO of everything that needs the card or the transaction lock:
 * exchanges, power operations, lock grants. It replaces pcscd's per-reader
 * mutex + 100 ms lock retry loop by one fair queue:
 *
 * - one wire job (exchange, power up, reset, PPS...) in flight at a time;
 * - jobs run in arrival order, except that a job whose owner is kept out by
 *   another handle's transaction waits without blocking the lock holder's own
 *   jobs behind it (so a transaction's exchanges are never interleaved with
 *   anyone else's, and waiting transactions are granted in FIFO order);
 * - a wire job that overruns the transmit timeout fails its caller with
 *   SCARD_E_TIMEOUT. The slot stays busy until the driver settles (never two
 *   exchanges on the wire), and while it is stuck new wire jobs fail at once
 *   instead of piling up behind a dead reader.
 */
import { SCARD } from '../pcsc/constants.js';
import { PcscError } from '../pcsc/error.js';

/** Owner of jobs the core runs for itself (power-up at insertion...): never kept out by a lock. */
export const SYSTEM_OWNER = 0;
/** Owner of jobs that need the lock to be free (connect: no handle yet). */
export const NO_HANDLE_OWNER = -1;

interface Job {
  owner: number;
  wire: boolean;
  fn: () => unknown;
  resolve: (v: any) => void;
  reject: (e: unknown) => void;
  settled: boolean;
  deadline: number;
}

export class SlotQueue {
  private jobs: Job[] = [];
  private current: Job | undefined;
  private busy = false;
  private stuck = false;
  private timer: NodeJS.Timeout | undefined;
  private closedWith: PcscError | undefined;

  /**
   * @param mayRun whether `owner` may use the slot now (lock free, or held by owner)
   * @param onTimeout told when a wire job overran the bound (reader.error)
   */
  constructor(
    private readonly mayRun: (owner: number) => boolean,
    private readonly timeoutMs: number,
    private readonly onTimeout: (err: PcscError) => void,
  ) {}

  get pending(): number {
    return this.jobs.length;
  }

  get inFlight(): boolean {
    return this.busy;
  }

  /**
   * Run `fn` for `owner` when its turn comes. `wire` jobs talk to the card and
   * hold the slot until their promise settles; other jobs run synchronously
   * (lock grants) but still take their place in the FIFO.
   */
  run<T>(owner: number, wire: boolean, fn: () => T | Promise<T>, front = false): Promise<T> {
    if (this.closedWith) return Promise.reject(this.closedWith);
    if (wire && this.stuck) return Promise.reject(stuckError());
    return new Promise<T>((resolve, reject) => {
      const job: Job = { owner, wire, fn, resolve, reject, settled: false, deadline: 0 };
      if (front) this.jobs.unshift(job);
      else this.jobs.push(job);
      this.pump();
    });
  }

  /** Re-examine the queue: call after the lock changed hands or a handle was flagged. */
  pump(): void {
    const jobs = this.jobs;
    while (jobs.length > 0) {
      let i = 0;
      while (i < jobs.length && !this.mayRun(jobs[i].owner)) i++;
      if (i === jobs.length) return;
      const job = jobs[i];
      if (job.wire && this.busy) return;
      if (i === 0) jobs.shift();
      else jobs.splice(i, 1);
      if (job.wire) {
        this.start(job);
        return;
      }
      try {
        job.resolve(job.fn());
      } catch (e) {
        job.reject(e);
      }
    }
  }

  /** Fail queued (not yet running) jobs of `owner`, e.g. those of a released handle; `err` is built only when there are some. */
  drop(owner: number, err: () => PcscError): void {
    if (this.jobs.length === 0) return;
    const keep: Job[] = [];
    let e: PcscError | undefined;
    for (const j of this.jobs) {
      if (j.owner === owner) j.reject((e ??= err()));
      else keep.push(j);
    }
    this.jobs = keep;
    this.pump();
  }

  /** Fail every queued job and refuse new ones (reader removed, service stopped). */
  close(err: PcscError): void {
    this.closedWith = err;
    const jobs = this.jobs;
    this.jobs = [];
    for (const j of jobs) j.reject(err);
    if (this.current && !this.current.settled) {
      this.current.settled = true;
      this.current.reject(err);
    }
    if (this.timer) clearTimeout(this.timer);
    this.timer = undefined;
  }

  private start(job: Job): void {
    this.busy = true;
    this.current = job;
    job.deadline = performance.now() + this.timeoutMs;
    // The watchdog keeps the process alive only while an exchange is pending.
    if (!this.timer) this.arm(this.timeoutMs);
    else this.timer.ref();
    let p: unknown;
    try {
      p = job.fn();
    } catch (e) {
      this.finish(job, false, e);
      return;
    }
    if (p !== null && typeof p === 'object' && typeof (p as PromiseLike<unknown>).then === 'function') {
      // One wire job at a time: `current` is this job until it settles, so no per-job closures.
      (p as PromiseLike<unknown>).then(this.onDone, this.onFail);
    } else {
      this.finish(job, true, p);
    }
  }

  private readonly onDone = (v: unknown): void => this.finish(this.current, true, v);
  private readonly onFail = (e: unknown): void => this.finish(this.current, false, e);

  private finish(job: Job | undefined, ok: boolean, v: unknown): void {
    if (!job) return;
    if (this.current === job) {
      this.current = undefined;
      this.busy = false;
      this.stuck = false;
      this.timer?.unref();
    }
    if (!job.settled) {
      job.settled = true;
      if (ok) job.resolve(v);
      else job.reject(v);
    }
    if (!this.closedWith) this.pump();
  }

  /** One timer per slot, re-armed lazily, instead of one per exchange. */
  private arm(ms: number): void {
    this.timer = setTimeout(() => this.watch(), Math.max(1, Math.ceil(ms)));
    if (!this.busy) this.timer.unref();
  }

  private watch(): void {
    this.timer = undefined;
    const job = this.current;
    if (!job || job.settled) return;
    const left = job.deadline - performance.now();
    if (left > 0) {
      this.arm(left);
      return;
    }
    job.settled = true;
    this.stuck = true;
    const err = new PcscError(SCARD.E_TIMEOUT, `the reader did not answer within ${this.timeoutMs} ms`);
    job.reject(err);
    // Queued wire jobs would only wait behind a dead exchange: fail them now.
    const keep: Job[] = [];
    for (const j of this.jobs) {
      if (j.wire) j.reject(stuckError());
      else keep.push(j);
    }
    this.jobs = keep;
    this.onTimeout(err);
  }
}

const stuckError = (): PcscError =>
  new PcscError(SCARD.E_TIMEOUT, 'the reader is still busy with an exchange that timed out');
