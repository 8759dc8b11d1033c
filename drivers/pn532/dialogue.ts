/**
 * The host side of the PN532 dialogue (docs/pn532.md §2): send a command
 * frame, wait for the ACK, wait for the response; NACK a damaged response so
 * the module sends it again; resend a command the module never acknowledged.
 */
import { ACK_FRAME, NACK_FRAME, TFI_HOST, TFI_PN532, encodeFrame, type Frame } from './frame.js';
import { LinkError, type FrameLink } from './link.js';

export interface DialogueTiming {
  /** Wait for the ACK after a command frame. */
  ackTimeoutMs: number;
  /** Default wait for the response after the ACK. */
  responseTimeoutMs: number;
  /** Quiet time after a damaged frame before asking for it again with NACK. */
  settleMs: number;
  /** Resends of a command the module did not acknowledge. */
  retries: number;
  /** NACKs for one response. */
  nackRetries: number;
}

export const DEFAULT_TIMING: DialogueTiming = {
  ackTimeoutMs: 60,
  responseTimeoutMs: 350,
  settleMs: 15,
  retries: 2,
  nackRetries: 3,
};

/** The module answered with the application error frame (syntax error, bad parameters). */
export class Pn532SyntaxError extends Error {
  constructor(code: number) {
    super(`PN532 refused command 0x${code.toString(16).padStart(2, '0')} (error frame)`);
    this.name = 'Pn532SyntaxError';
  }
}

/** No usable answer after every retry: the caller resynchronises the module. */
export class Pn532NoResponse extends Error {
  constructor(
    readonly code: number,
    readonly acked: boolean,
    detail: string,
  ) {
    super(`PN532 command 0x${code.toString(16).padStart(2, '0')}: ${detail}`);
    this.name = 'Pn532NoResponse';
  }
}

export interface DialogueCounters {
  commands: number;
  resends: number;
  /** Diagnose-echo resynchronisations after a resend or NACK. */
  syncs: number;
  /** Frames dropped by a resynchronisation (answers that came twice). */
  staleFrames: number;
  nacks: number;
  ackTimeouts: number;
  responseTimeouts: number;
  badFrames: number;
  errorFrames: number;
}

export interface CommandOptions {
  timeoutMs?: number;
  /**
   * Safe to send again after the module acknowledged it but its answer was
   * lost. False for exchanges with the card (a MIFARE write or an APDU must
   * not run twice).
   */
  idempotent?: boolean;
  /**
   * No answer in time is an expected outcome (waiting for a card to come, or
   * for a card's verdict), not link trouble: it does not make the link suspect.
   */
  expectSilence?: boolean;
}

/** How long link trouble keeps the link suspect (repeatable reads are then verified by a second read). */
const SUSPECT_MS = 30000;

export class Dialogue {
  readonly counters: DialogueCounters = { commands: 0, resends: 0, syncs: 0, staleFrames: 0, nacks: 0, ackTimeouts: 0, responseTimeouts: 0, badFrames: 0, errorFrames: 0 };
  /**
   * A sign that the module reset itself since the last initialisation: a
   * command lost and its resend answered (the lost frame woke the chip, docs/pn532.md §3),
   * or an error frame for a command it answered before. The reader re-runs its init.
   */
  resetSuspected = false;
  /** Called when resetSuspected becomes true. */
  onResetSuspected?: () => void;
  /** When the link last showed trouble (damaged frame, NACK, resend, lost answer). */
  private troubleAt = -Infinity;
  /** Command codes the module answered since the last initialisation. */
  private answered = new Set<number>();
  /** Serialises commands: one frame exchange on the wire at a time. */
  private chain: Promise<unknown> = Promise.resolve();

  constructor(
    readonly link: FrameLink,
    readonly timing: DialogueTiming,
  ) {}

  /** Damaged or lost frames lately: a checksum-passing answer may still be wrong (docs/pn532.md §2.4). */
  get linkSuspect(): boolean {
    return Date.now() - this.troubleAt < SUSPECT_MS;
  }

  private trouble(): void {
    this.troubleAt = Date.now();
  }

  private suspectReset(why: string): void {
    this.lastResetSign = why;
    if (this.resetSuspected) return;
    this.resetSuspected = true;
    this.onResetSuspected?.();
  }
  lastResetSign = '';

  /** A fresh initialisation: forget reset signs and the stream's uncertainty (the init's own answers re-synchronise it). */
  initialised(): void {
    this.resetSuspected = false;
    this.answered.clear();
  }

  /** The next command starts with a resynchronisation (after an abort whose answer may still come). */
  markUncertain(): void {
    this.uncertain = true;
  }

  /** Drop the pending resynchronisation: a module that may be in LowVbat ignores the echo (init sends SAMConfiguration first). */
  forgetUncertain(): void {
    this.uncertain = false;
  }

  /** Run `fn` with the module to itself (commands inside must use the `*Locked` forms). */
  exclusive<T>(fn: () => Promise<T>): Promise<T> {
    const run = this.chain.then(fn, fn);
    this.chain = run.catch(() => undefined);
    return run;
  }

  /** One command; resolves with the response body after the response code. */
  command(code: number, params: Uint8Array = Buffer.alloc(0), opts: CommandOptions = {}): Promise<Buffer> {
    return this.exclusive(() => this.commandLocked(code, params, opts));
  }

  /** Abort the command in progress (host ACK, §1.2). */
  async abortLocked(): Promise<void> {
    await this.link.send(ACK_FRAME).catch(() => undefined);
  }

  /**
   * A resend after a missing ACK, or a NACK, may leave a second ACK/answer
   * in flight (the module did get the first copy, or the first answer was
   * only slow). Taken for the next command's answer, it would put every later
   * exchange one answer behind. So after such an exchange the stream is
   * re-synchronised: a Diagnose echo with a fresh nonce, and everything read
   * before that echo is dropped.
   */
  private uncertain = false;
  private nonce = 0;

  async commandLocked(code: number, params: Uint8Array = Buffer.alloc(0), opts: CommandOptions = {}): Promise<Buffer> {
    if (this.uncertain) await this.syncLocked();
    try {
      return await this.exchangeLocked(code, params, opts);
    } finally {
      if (this.uncertain) await this.syncLocked().catch(() => undefined);
    }
  }

  private async syncLocked(): Promise<void> {
    this.counters.syncs++;
    this.nonce = (this.nonce + 1) & 0xffff;
    const tag = Buffer.from([0x73, 0x79, this.nonce >> 8, this.nonce & 0xff]);
    const frame = encodeFrame(TFI_HOST, Buffer.concat([Buffer.from([0x00, 0x00]), tag]));
    for (let attempt = 0; attempt <= this.timing.retries; attempt++) {
      this.link.discardInput();
      await this.link.send(frame);
      const deadline = Date.now() + this.timing.responseTimeoutMs;
      for (;;) {
        const left = deadline - Date.now();
        if (left <= 0) break;
        let f: Frame;
        try {
          f = await this.link.receive(left);
        } catch (e) {
          if (!(e instanceof LinkError) || e.kind === 'closed' || e.kind === 'io' || e.kind === 'aborted') throw e;
          if (e.kind === 'timeout') break;
          continue;
        }
        if (f.kind === 'info' && f.tfi === TFI_PN532 && f.body.length === 6 && f.body[0] === 0x01 && f.body[1] === 0x00 && f.body.subarray(2).equals(tag)) {
          this.uncertain = false;
          return;
        }
        if (f.kind !== 'ack') {
          this.counters.staleFrames++;
          this.trouble();
        }
      }
    }
    throw new Pn532NoResponse(0x00, false, 'no answer to the resynchronisation echo');
  }

  private async exchangeLocked(code: number, params: Uint8Array, opts: CommandOptions): Promise<Buffer> {
    const frame = encodeFrame(TFI_HOST, Buffer.concat([Buffer.from([code]), params]));
    const timeout = opts.timeoutMs ?? this.timing.responseTimeoutMs;
    const idempotent = opts.idempotent ?? true;
    this.counters.commands++;
    let lastProblem = 'no ACK';
    let acked = false;
    let lostAck = false;
    const answered = (body: Buffer): Buffer => {
      // a command that got no ACK at all and then an answer to its resend: the first copy woke a sleeping chip
      if (lostAck) this.suspectReset(`command 0x${code.toString(16).padStart(2, '0')} lost, its resend answered`);
      this.answered.add(code);
      return body;
    };
    for (let attempt = 0; attempt <= this.timing.retries; attempt++) {
      if (attempt > 0) {
        this.counters.resends++;
        this.uncertain = true;
        this.trouble();
      }
      this.link.discardInput();
      await this.link.send(frame);
      let first: Frame | undefined;
      try {
        // A command that must not run twice waits longer before it is sent again: a stalled host
        // (GC, a loaded board) must not turn a slow ACK into a second execution.
        first = await this.link.receive(idempotent ? this.timing.ackTimeoutMs : this.timing.ackTimeoutMs * 4, true);
      } catch (e) {
        if (!(e instanceof LinkError) || e.kind === 'closed' || e.kind === 'io' || e.kind === 'aborted') throw e;
        if (e.kind === 'timeout') {
          this.counters.ackTimeouts++;
          lostAck = true;
        } else this.counters.badFrames++;
        this.trouble();
        lastProblem = e.kind === 'timeout' ? 'no ACK' : `damaged ACK (${e.message})`;
        // A damaged ACK still means the command arrived; the response may follow.
        if (e.kind === 'timeout') continue;
      }
      if (first?.kind === 'error') {
        this.counters.errorFrames++;
        if (this.answered.has(code)) this.suspectReset(`error frame for command 0x${code.toString(16).padStart(2, '0')}, answered before`);
        throw new Pn532SyntaxError(code);
      }
      if (first?.kind === 'info') {
        const body = this.matchResponse(first, code);
        if (body) return answered(body); // the ACK got lost but the answer did not
        lastProblem = 'unexpected frame instead of ACK';
        continue;
      }
      if (first && first.kind !== 'ack') {
        lastProblem = `unexpected ${first.kind} instead of ACK`;
        continue;
      }
      acked = true;
      if (lostAck) this.suspectReset(`command 0x${code.toString(16).padStart(2, '0')} lost, its resend acknowledged`);
      const r = await this.awaitResponse(code, timeout);
      if (r.body) return answered(r.body);
      lastProblem = r.problem;
      await this.abortLocked();
      // an answer already on its way when the abort arrived must not be taken for the next command's
      this.uncertain = true;
      if (!opts.expectSilence) this.trouble();
      if (!idempotent) throw new Pn532NoResponse(code, true, lastProblem);
    }
    throw new Pn532NoResponse(code, acked, `${lastProblem} after ${this.timing.retries + 1} tries`);
  }

  /** Wait for the response of `code`; NACK damaged frames; never resends the command. */
  private async awaitResponse(code: number, timeoutMs: number): Promise<{ body?: Buffer; problem: string }> {
    const deadline = Date.now() + timeoutMs;
    let sawBad = false;
    let nacks = 0;
    for (;;) {
      const left = deadline - Date.now();
      const wait = sawBad ? Math.min(this.timing.settleMs, Math.max(0, left)) : Math.max(0, left);
      let f: Frame;
      try {
        f = await this.link.receive(wait);
      } catch (e) {
        if (!(e instanceof LinkError) || e.kind === 'closed' || e.kind === 'io' || e.kind === 'aborted') throw e;
        if (e.kind === 'bad-frame') {
          this.counters.badFrames++;
          this.trouble();
          sawBad = true;
          continue;
        }
        // timeout
        if (sawBad && nacks < this.timing.nackRetries) {
          // The damaged frame was the answer and the module has gone quiet: ask again.
          nacks++;
          this.counters.nacks++;
          this.uncertain = true;
          sawBad = false;
          this.link.discardInput();
          await this.link.send(NACK_FRAME);
          // give the repeat its own time on the wire
          if (deadline - Date.now() < this.timing.ackTimeoutMs) return this.awaitResponse(code, this.timing.ackTimeoutMs);
          continue;
        }
        this.counters.responseTimeouts++;
        return { problem: sawBad ? 'damaged response' : `no response within ${timeoutMs} ms` };
      }
      if (f.kind === 'ack') continue; // a repeated or late ACK
      if (f.kind === 'error') {
        this.counters.errorFrames++;
        if (this.answered.has(code)) this.suspectReset(`error frame for command 0x${code.toString(16).padStart(2, '0')}, answered before`);
        throw new Pn532SyntaxError(code);
      }
      const body = f.kind === 'info' ? this.matchResponse(f, code) : undefined;
      if (body) return { body, problem: '' };
      sawBad = true; // a frame that is not our answer: treat like damage
    }
  }

  private matchResponse(f: Extract<Frame, { kind: 'info' }>, code: number): Buffer | undefined {
    if (f.tfi !== TFI_PN532 || f.body.length < 1 || f.body[0] !== ((code + 1) & 0xff)) return undefined;
    return f.body.subarray(1);
  }
}
