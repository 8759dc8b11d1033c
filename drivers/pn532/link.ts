/**
 * Frame links: how frames reach a PN532 over HSU (a serial port) or I2C.
 * Both take their transport injected (serialport's SerialPort class, an
 * i2c-bus PromisifiedBus opener), so an emulator plugs in where the module would.
 */
import { EventEmitter } from 'node:events';
import { parseFrame, type Frame } from './frame.js';

/** Why a receive failed; the dialogue answers with NACK or a resend. */
export class LinkError extends Error {
  constructor(
    readonly kind: 'timeout' | 'bad-frame' | 'closed' | 'io' | 'aborted',
    message: string,
  ) {
    super(message);
    this.name = 'LinkError';
  }
}

export interface LinkCounters {
  bytesOut: number;
  bytesIn: number;
  junkBytes: number;
  badFrames: number;
}

export interface LinkEvents {
  /** The transport went away (port unplugged, bus error); the link is closed. */
  lost: [reason: string];
}

export interface FrameLink extends EventEmitter<LinkEvents> {
  readonly kind: 'hsu' | 'i2c';
  readonly counters: LinkCounters;
  open(): Promise<void>;
  close(): Promise<void>;
  /** Bytes to the module, as they are (a frame, ACK, NACK, wake-up preamble). */
  send(bytes: Buffer): Promise<void>;
  /** The next frame from the module; rejects with LinkError. `ack` hints that a 6-byte ACK is expected (I2C read size). */
  receive(timeoutMs: number, ack?: boolean): Promise<Frame>;
  /** Forget buffered input (before a command, after a receive error). */
  discardInput(): void;
  /** Wake the module from LowVbat / power-down before the first command. */
  wakeup(): Promise<void>;
  /** HSU: the current line speed, and switching the host side of it (docs/pn532.md §6). */
  readonly baud?: number;
  setBaud?(baud: number): Promise<void>;
  /** Abort the receive in progress and every later one (stop, transport lost); open() clears it. */
  abort(): void;
  /** Let receives run again after abort() (the shutdown commands that follow the aborted detection wait). */
  resume(): void;
}

// ------------------------------------------------------------------ HSU

/** The subset of serialport's SerialPort the HSU link uses. */
export interface SerialPortLike extends EventEmitter {
  readonly isOpen: boolean;
  open(cb?: (err: Error | null) => void): void;
  write(data: Buffer, cb?: (err: Error | null | undefined) => void): boolean;
  drain(cb?: (err: Error | null) => void): void;
  close(cb?: (err: Error | null) => void): void;
  flush?(cb?: (err: Error | null) => void): void;
  update?(opts: { baudRate: number }, cb?: (err: Error | null | undefined) => void): void;
  set?(opts: { lowLatency?: boolean }, cb?: (err: Error | null | undefined) => void): void;
}

export type SerialPortFactory = (opts: { path: string; baudRate: number; autoOpen: false }) => SerialPortLike;

/** 55 55 then zeros (libnfc): the 5th rising edge wakes the chip (docs/pn532.md §3). */
export const HSU_WAKEUP = Buffer.from([0x55, 0x55, ...new Array<number>(14).fill(0)]);
/** Worst-case oscillator start-up after the wake-up edges, during which the chip hears nothing (docs/pn532.md §3). */
export const WAKE_GUARD_MS = 2;

export class HsuLink extends EventEmitter<LinkEvents> implements FrameLink {
  readonly kind = 'hsu' as const;
  readonly counters: LinkCounters = { bytesOut: 0, bytesIn: 0, junkBytes: 0, badFrames: 0 };
  private port?: SerialPortLike;
  private buf: Buffer = Buffer.alloc(0);
  private waiter?: () => void;
  private closing = false;

  /** The speed the port runs at now (SetSerialBaudRate changes it). */
  baud: number;

  constructor(
    private readonly factory: SerialPortFactory,
    readonly path: string,
    readonly baudRate: number,
    /** Silence inside a started frame after which it counts as truncated (dropped bytes). */
    private readonly interByteMs: number,
  ) {
    super();
    this.baud = baudRate;
  }

  async open(): Promise<void> {
    this.closing = false;
    this.aborted = false;
    this.baud = this.baudRate;
    const port = this.factory({ path: this.path, baudRate: this.baudRate, autoOpen: false });
    await new Promise<void>((resolve, reject) => port.open((err) => (err ? reject(err) : resolve())));
    this.port = port;
    this.buf = Buffer.alloc(0);
    // USB-serial adapters may hold received bytes until a latency timer runs out (docs/pn532.md §16): ask for
    // the kernel's low-latency mode; a port that cannot (a pty, a UART without it) keeps its default
    port.set?.({ lowLatency: true }, () => undefined);
    port.on('data', (d: Buffer) => {
      this.counters.bytesIn += d.length;
      this.buf = this.buf.length ? Buffer.concat([this.buf, d]) : d;
      this.waiter?.();
    });
    port.on('error', () => {
      /* a 'close' follows when the port is gone */
    });
    port.on('close', () => {
      if (this.port !== port) return;
      this.port = undefined;
      this.waiter?.();
      if (!this.closing) this.emit('lost', `serial port ${this.path} closed`);
    });
  }

  async close(): Promise<void> {
    this.closing = true;
    const port = this.port;
    this.port = undefined;
    this.waiter?.();
    if (port?.isOpen) {
      await new Promise<void>((resolve) => {
        const timer = setTimeout(resolve, 1000);
        port.close(() => {
          clearTimeout(timer);
          resolve();
        });
      });
    }
  }

  async send(bytes: Buffer): Promise<void> {
    const port = this.port;
    if (!port) throw new LinkError('closed', `serial port ${this.path} is not open`);
    this.counters.bytesOut += bytes.length;
    // A port that closes under a pending write may never call the write back: the close (or a bound
    // on the write) settles it, so a dialogue never hangs on a vanished adapter.
    await new Promise<void>((resolve, reject) => {
      const done = (err?: LinkError): void => {
        clearTimeout(timer);
        port.off('close', onClose);
        if (err) reject(err);
        else resolve();
      };
      const onClose = (): void => done(new LinkError('closed', `serial port ${this.path} closed during a write`));
      const timer = setTimeout(() => done(new LinkError('io', `write to ${this.path} did not complete`)), 2000);
      port.once('close', onClose);
      port.write(bytes, (err) => done(err ? new LinkError('io', `write to ${this.path}: ${err.message}`) : undefined));
    });
  }

  discardInput(): void {
    this.counters.junkBytes += this.buf.length;
    this.buf = Buffer.alloc(0);
  }

  abort(): void {
    this.aborted = true;
    this.waiter?.();
  }
  private aborted = false;

  resume(): void {
    this.aborted = false;
  }

  /**
   * The wake-up preamble, then silence until it has left the wire and the
   * oscillator has started: a command sent sooner is lost (docs/pn532.md §3).
   */
  async wakeup(): Promise<void> {
    await this.send(HSU_WAKEUP);
    await this.drainWire(HSU_WAKEUP.length);
    await new Promise((r) => setTimeout(r, WAKE_GUARD_MS + 1));
  }

  /** Wait until `bytes` just written have been clocked out (the OS buffer drained, then their wire time). */
  private async drainWire(bytes: number): Promise<void> {
    const port = this.port;
    if (port) await new Promise<void>((resolve) => port.drain(() => resolve()));
    await new Promise((r) => setTimeout(r, Math.ceil((bytes * 10 * 1000) / this.baud)));
  }

  /** Switch the host side of the line (after the module acknowledged SetSerialBaudRate and got our ACK). */
  async setBaud(baud: number): Promise<void> {
    const port = this.port;
    if (!port) throw new LinkError('closed', `serial port ${this.path} is not open`);
    if (baud === this.baud) return;
    if (!port.update) throw new LinkError('io', `serial port ${this.path} cannot change speed`);
    await new Promise<void>((resolve, reject) =>
      port.update!({ baudRate: baud }, (err) => (err ? reject(new LinkError('io', `${this.path}: ${baud} baud: ${err.message}`)) : resolve())),
    );
    this.baud = baud;
    this.buf = Buffer.alloc(0);
  }

  /** The host ACK that lets a SetSerialBaudRate take effect, clocked out completely before the port changes speed. */
  async sendAndDrain(bytes: Buffer): Promise<void> {
    await this.send(bytes);
    await this.drainWire(bytes.length);
  }

  receive(timeoutMs: number): Promise<Frame> {
    return new Promise<Frame>((resolve, reject) => {
      let idle: NodeJS.Timeout | undefined;
      const finish = (err: LinkError | undefined, frame?: Frame): void => {
        clearTimeout(overall);
        clearTimeout(idle);
        this.waiter = undefined;
        if (err) reject(err);
        else resolve(frame!);
      };
      const overall = setTimeout(() => finish(new LinkError('timeout', `no frame from the PN532 within ${timeoutMs} ms`)), timeoutMs);
      const check = (): void => {
        if (!this.port) return finish(new LinkError('closed', `serial port ${this.path} closed`));
        if (this.aborted) return finish(new LinkError('aborted', 'receive aborted'));
        for (;;) {
          const r = parseFrame(this.buf);
          if (r.status === 'frame') {
            this.counters.junkBytes += r.skipped;
            this.buf = this.buf.subarray(r.consumed);
            return finish(undefined, r.frame);
          }
          if (r.status === 'bad') {
            this.counters.badFrames++;
            this.buf = this.buf.subarray(r.consumed);
            return finish(new LinkError('bad-frame', r.reason));
          }
          this.counters.junkBytes += r.consumed;
          this.buf = this.buf.subarray(r.consumed);
          clearTimeout(idle);
          // A frame that started and then stalls lost bytes on the way: report it instead of waiting out the timeout.
          if (r.started) {
            idle = setTimeout(() => {
              // the rest will never come: drop the stump so the next wait sees silence, not the same stump
              this.counters.badFrames++;
              this.counters.junkBytes += this.buf.length;
              this.buf = Buffer.alloc(0);
              finish(new LinkError('bad-frame', 'frame truncated (bytes lost)'));
            }, this.interByteMs);
          }
          return;
        }
      };
      this.waiter = check;
      check();
    });
  }
}

// ------------------------------------------------------------------ I2C

/** The subset of i2c-bus's PromisifiedBus the I2C link uses. */
export interface I2cBusLike {
  i2cRead(address: number, length: number, buffer: Buffer): Promise<{ bytesRead: number; buffer: Buffer }>;
  i2cWrite(address: number, length: number, buffer: Buffer): Promise<{ bytesWritten: number; buffer: Buffer }>;
  close(): Promise<void>;
}

export type I2cOpener = (busNumber: number) => Promise<I2cBusLike>;

/** Something that says when the module has a frame ready (the P70_IRQ falling edge). */
export interface ReadySignal {
  /** Resolves when the line is (or becomes) active; false on timeout. */
  wait(timeoutMs: number): Promise<boolean>;
}

/** Status byte + the largest frame (extended, 265 bytes of TFI+data, 11 bytes overhead). */
const I2C_MAX_READ = 1 + 265 + 11;
const I2C_SEND_TRIES = 3;
/** libnfc's PN532_BUS_FREE_TIME (tBuf in the datasheet). */
const I2C_BUS_FREE_MS = 5;
const I2C_NAK_GIVE_UP_MS = 250;

export class I2cLink extends EventEmitter<LinkEvents> implements FrameLink {
  readonly kind = 'i2c' as const;
  readonly counters: LinkCounters = { bytesOut: 0, bytesIn: 0, junkBytes: 0, badFrames: 0 };
  private bus?: I2cBusLike;
  private aborted = false;
  private readonly statusBuf = Buffer.alloc(1);

  constructor(
    private readonly opener: I2cOpener,
    readonly busNumber: number,
    readonly address: number,
    /** Status-byte poll interval when no IRQ line is wired. */
    private readonly pollMs: number,
    private readonly irq?: ReadySignal,
  ) {
    super();
  }

  async open(): Promise<void> {
    this.aborted = false;
    this.bus = await this.opener(this.busNumber);
  }

  async close(): Promise<void> {
    const bus = this.bus;
    this.bus = undefined;
    this.aborted = true;
    await bus?.close().catch(() => undefined);
  }

  private lose(e: unknown): LinkError {
    const msg = `I2C bus ${this.busNumber} address 0x${this.address.toString(16)}: ${(e as Error).message}`;
    return new LinkError('io', msg);
  }

  async send(bytes: Buffer): Promise<void> {
    const bus = this.bus;
    if (!bus) throw new LinkError('closed', `I2C bus ${this.busNumber} is not open`);
    let last: unknown;
    for (let i = 0; i < I2C_SEND_TRIES; i++) {
      try {
        await bus.i2cWrite(this.address, bytes.length, bytes);
        this.counters.bytesOut += bytes.length;
        return;
      } catch (e) {
        last = e;
        // a busy or waking PN532 may not acknowledge its address: give it the bus-free time libnfc uses
        await new Promise((r) => setTimeout(r, I2C_BUS_FREE_MS));
      }
    }
    throw this.lose(last);
  }

  discardInput(): void {
    /* I2C has no input buffer: an unread frame is replaced by the next one */
  }

  abort(): void {
    this.aborted = true;
  }

  resume(): void {
    if (this.bus) this.aborted = false;
  }

  async wakeup(): Promise<void> {
    // The PN532 wakes on its address (clock stretching); nothing to send.
  }

  private async ready(deadline: number): Promise<boolean> {
    const bus = this.bus;
    if (!bus) throw new LinkError('closed', `I2C bus ${this.busNumber} is not open`);
    let nakSince: number | undefined;
    for (;;) {
      if (this.aborted) throw new LinkError('aborted', 'receive aborted');
      const left = deadline - Date.now();
      if (this.irq) {
        // in slices, so that abort() is seen while the line stays quiet
        if (await this.irq.wait(Math.max(0, Math.min(left, 100)))) return true;
        if (left <= 100) return false;
        continue;
      }
      try {
        await bus.i2cRead(this.address, 1, this.statusBuf);
        nakSince = undefined;
        if (this.statusBuf[0] & 0x01) return true;
      } catch (e) {
        // a NAK while the module works is "not ready"; one that lasts the whole wait is a lost device
        nakSince ??= Date.now();
        if (left <= 0 || Date.now() - nakSince > I2C_NAK_GIVE_UP_MS) throw this.lose(e);
      }
      if (left <= 0) return false;
      await new Promise((r) => setTimeout(r, Math.min(this.pollMs, Math.max(1, left))));
    }
  }

  async receive(timeoutMs: number, ack = false): Promise<Frame> {
    const deadline = Date.now() + timeoutMs;
    for (;;) {
      if (!(await this.ready(deadline))) throw new LinkError('timeout', `no frame from the PN532 within ${timeoutMs} ms`);
      const bus = this.bus;
      if (!bus) throw new LinkError('closed', `I2C bus ${this.busNumber} is not open`);
      const n = ack ? 7 : I2C_MAX_READ;
      const buf = Buffer.alloc(n);
      try {
        await bus.i2cRead(this.address, n, buf);
      } catch (e) {
        throw this.lose(e);
      }
      this.counters.bytesIn += n;
      if (!(buf[0] & 0x01)) {
        // RDY dropped between the status poll and the read (or a spurious IRQ): poll again, after a
        // pause, so an IRQ line stuck low (wedged module) does not spin and starve the event loop
        if (Date.now() >= deadline) throw new LinkError('timeout', `no frame from the PN532 within ${timeoutMs} ms`);
        await new Promise((r) => setTimeout(r, Math.min(this.pollMs, Math.max(1, deadline - Date.now()))));
        continue;
      }
      const r = parseFrame(buf.subarray(1));
      if (r.status === 'frame') return r.frame;
      this.counters.badFrames++;
      throw new LinkError('bad-frame', r.status === 'bad' ? r.reason : 'frame truncated');
    }
  }
}
