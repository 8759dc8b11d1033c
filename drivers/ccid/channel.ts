/**
 * One CCID interface of an opened USB device: sends PC_to_RDR messages and
 * collects the matching RDR_to_PC reply (docs/ccid.md §3): bSeq checked and
 * stale frames discarded (bounded), time extensions honoured (bounded),
 * Abort on timeout. Every interface of one device shares one lock, so a
 * composite reader (ACR1252U PICC + SAM) has one command on the bus at a
 * time, as libccid serialises them; nothing is awaited while holding it but
 * the command itself, so two interfaces cannot deadlock.
 */
import { SCARD } from '../../src/pcsc/constants.js';
import { PcscError } from '../../src/pcsc/error.js';
import { isUsbError, type UsbDeviceHandle } from './binding.js';
import type { CcidDescriptor } from './descriptor.js';
import { CLASS_REQUEST, CMD, commandStatus, decodeMessage, encodeMessage, PC_TO_RDR, RDR_TO_PC, type CcidMessage } from './messages.js';

/** FIFO mutex; one per USB device. */
export class DeviceLock {
  private tail: Promise<void> = Promise.resolve();
  async run<T>(fn: () => Promise<T>): Promise<T> {
    const prev = this.tail;
    let release!: () => void;
    this.tail = new Promise<void>((r) => (release = r));
    await prev;
    try {
      return await fn();
    } finally {
      release();
    }
  }
}

export interface ChannelTuning {
  commandTimeoutMs: number;
  maxTimeExtensions: number;
  /** Stale frames (wrong bSeq or slot) discarded per command before giving up (libccid: 10). */
  maxStaleFrames: number;
}

export interface ChannelEndpoints {
  interfaceNumber: number;
  bulkOut: number;
  bulkIn: number;
  interrupt?: number;
}

/** What made the channel unusable: the driver recovers the device (reset, re-enumeration). */
export type ChannelFatal = (why: string) => void;

export class CcidChannel {
  private seq = 0;
  /** Set once the device is gone or being recovered: every call fails at once. */
  gone?: string;
  readonly counters = { commands: 0, staleFrames: 0, timeExtensions: 0, timeouts: 0, aborts: 0, stalls: 0 };

  constructor(
    readonly handle: UsbDeviceHandle,
    readonly ep: ChannelEndpoints,
    readonly descriptor: CcidDescriptor,
    private readonly lock: DeviceLock,
    readonly tuning: ChannelTuning,
    private readonly fatal: ChannelFatal,
  ) {}

  private unavailable(): PcscError {
    return new PcscError(SCARD.E_READER_UNAVAILABLE, `(${this.gone ?? 'reader gone'})`);
  }

  /** One command, one final reply. `what` names it in errors. */
  command(type: number, slot: number, p: readonly [number, number, number], data: Buffer, what: string, timeoutMs = this.tuning.commandTimeoutMs): Promise<CcidMessage> {
    if (this.gone) return Promise.reject(this.unavailable());
    return this.lock.run(async () => {
      if (this.gone) throw this.unavailable();
      this.counters.commands++;
      const seq = this.seq;
      this.seq = (this.seq + 1) & 0xff;
      try {
        await this.handle.bulkOut(this.ep.bulkOut, encodeMessage(type, slot, seq, p, data), timeoutMs);
      } catch (e) {
        throw await this.transferFailure(e, what);
      }
      let timeout = timeoutMs;
      let stale = 0;
      let extensions = 0;
      for (;;) {
        let raw: Buffer;
        try {
          raw = await this.handle.bulkIn(this.ep.bulkIn, this.descriptor.maxMessageLength + 64, timeout);
        } catch (e) {
          if (isUsbError(e, 'timeout')) {
            this.counters.timeouts++;
            await this.abort(slot, seq);
            throw new PcscError(SCARD.E_TIMEOUT, `(${what}: no answer from the reader within ${timeout} ms; command aborted)`);
          }
          throw await this.transferFailure(e, what);
        }
        const d = decodeMessage(raw);
        if (!d.ok) throw new PcscError(SCARD.F_COMM_ERROR, `(${what}: ${d.reason})`);
        const m = d.msg;
        if (m.seq !== seq || m.slot !== slot) {
          this.counters.staleFrames++;
          if (++stale > this.tuning.maxStaleFrames) throw new PcscError(SCARD.F_COMM_ERROR, `(${what}: ${stale} frames with another bSeq/slot than ${seq}/${slot}; giving up)`);
          continue;
        }
        if (commandStatus(m.p[0]) === CMD.TIME_EXTENSION) {
          this.counters.timeExtensions++;
          if (++extensions > this.tuning.maxTimeExtensions) {
            await this.abort(slot, seq);
            throw new PcscError(SCARD.E_TIMEOUT, `(${what}: more than ${this.tuning.maxTimeExtensions} time extensions; command aborted)`);
          }
          // bError carries the multiplier of the waiting time (docs/ccid.md §3.4).
          timeout = timeoutMs * Math.max(1, m.p[1]);
          continue;
        }
        return m;
      }
    });
  }

  /**
   * Abort (docs/ccid.md §3.6): the class request ABORT, then PC_to_RDR_Abort
   * with the same bSlot/bSeq; replies up to the Abort's SlotStatus are drained.
   * A reader that does not complete it is beyond help: the device is recovered.
   */
  private async abort(slot: number, seq: number): Promise<void> {
    this.counters.aborts++;
    const budget = Math.min(1000, this.tuning.commandTimeoutMs);
    try {
      await this.handle.controlTransfer({ bmRequestType: 0x21, bRequest: CLASS_REQUEST.ABORT, wValue: (seq << 8) | slot, wIndex: this.ep.interfaceNumber }, Buffer.alloc(0), budget);
      await this.handle.bulkOut(this.ep.bulkOut, encodeMessage(PC_TO_RDR.Abort, slot, seq, [0, 0, 0]), budget);
      for (let i = 0; i < this.tuning.maxStaleFrames + 2; i++) {
        const d = decodeMessage(await this.handle.bulkIn(this.ep.bulkIn, this.descriptor.maxMessageLength + 64, budget));
        if (d.ok && d.msg.type === RDR_TO_PC.SlotStatus && d.msg.seq === seq && d.msg.slot === slot) return;
      }
      throw new Error('no SlotStatus for the Abort');
    } catch (e) {
      this.fatal(`abort failed: ${(e as Error).message}`);
    }
  }

  private async transferFailure(e: unknown, what: string): Promise<PcscError> {
    if (e instanceof PcscError) return e;
    if (isUsbError(e, 'stall')) {
      this.counters.stalls++;
      // The reply is lost with the halted pipe; the next command may meet it as a stale frame.
      await this.handle.clearHalt(this.ep.bulkIn).catch((err: unknown) => this.fatal(`clear halt failed: ${(err as Error).message}`));
      return new PcscError(SCARD.F_COMM_ERROR, `(${what}: endpoint stalled)`);
    }
    if (isUsbError(e, 'no-device') || isUsbError(e, 'closed')) {
      this.gone ??= `reader unplugged or reset during ${what}`;
      return this.unavailable();
    }
    this.fatal(`${what}: ${(e as Error).message}`);
    return new PcscError(SCARD.F_COMM_ERROR, `(${what}: ${(e as Error).message})`);
  }
}
