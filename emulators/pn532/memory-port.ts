/**
 * The emulated PN532 behind an in-memory object with the serialport calls the
 * HSU link uses (open, write, drain, update, close; 'data' and 'close'
 * events). No pty, no pacing: for long fault runs where the wire time does
 * not matter. Speed changes are modelled: while the host port and the chip
 * run at different baud rates, every byte arrives garbled both ways.
 */
import { EventEmitter } from 'node:events';
import type { Pn532Chip } from './chip.js';

export class MemorySerialPort extends EventEmitter {
  isOpen = false;
  baudRate: number;
  private readonly onOutput = (b: Buffer): void => {
    const data = this.garble(b);
    setImmediate(() => {
      if (!this.isOpen) return;
      this.emit('data', data);
      this.chip.outputDrained();
    });
  };

  constructor(
    readonly chip: Pn532Chip,
    readonly path: string,
    baudRate: number,
  ) {
    super();
    this.baudRate = baudRate;
  }

  private garble(b: Buffer): Buffer {
    return this.baudRate === this.chip.baudRate ? b : Buffer.from(b.map((x) => (x * 37 + 0x5b) & 0xff));
  }

  open(cb?: (err: Error | null) => void): void {
    this.isOpen = true;
    this.chip.on('output', this.onOutput);
    setImmediate(() => cb?.(null));
  }

  write(data: Buffer, cb?: (err: Error | null | undefined) => void): boolean {
    if (!this.isOpen) {
      setImmediate(() => cb?.(new Error('Port is not open')));
      return false;
    }
    const bytes = this.garble(Buffer.from(data));
    const byteMs = 10000 / this.baudRate;
    setImmediate(() => {
      this.chip.hostBytes(bytes, byteMs);
      cb?.(null);
    });
    return true;
  }

  drain(cb?: (err: Error | null) => void): void {
    setImmediate(() => cb?.(null));
  }

  update(opts: { baudRate: number }, cb?: (err: Error | null) => void): void {
    this.baudRate = opts.baudRate;
    setImmediate(() => cb?.(null));
  }

  /** The adapter is pulled: the port closes under the driver. */
  unplug(): void {
    if (!this.isOpen) return;
    this.isOpen = false;
    this.chip.off('output', this.onOutput);
    this.emit('close');
  }

  close(cb?: (err: Error | null) => void): void {
    const was = this.isOpen;
    this.isOpen = false;
    this.chip.off('output', this.onOutput);
    setImmediate(() => {
      if (was) this.emit('close');
      cb?.(null);
    });
  }
}

/** A serialport-style factory that hands out ports wired to `chip`. */
export function memorySerialPort(chip: Pn532Chip): ((o: { path: string; baudRate: number }) => MemorySerialPort) & { ports: MemorySerialPort[] } {
  const ports: MemorySerialPort[] = [];
  const f = (o: { path: string; baudRate: number }): MemorySerialPort => {
    const p = new MemorySerialPort(chip, o.path, o.baudRate);
    ports.push(p);
    return p;
  };
  return Object.assign(f, { ports });
}
