/**
 * The byte pipe an OSDP CP or PD talks through: a serial port (RS-485
 * adapter), a pseudo-terminal in tests, or an in-memory pair. serialport's
 * SerialPort satisfies it through serialLink(); emulators and tests plug in
 * the same way.
 */
import { EventEmitter } from 'node:events';

export interface ByteLinkEvents {
  data: [chunk: Buffer];
  /** The transport failed or closed underneath (adapter unplugged). */
  lost: [reason: string];
}

export interface ByteLink extends EventEmitter<ByteLinkEvents> {
  write(b: Buffer): void;
  /** Change the line speed (osdp_COMSET); a no-op where there is no line. */
  setBaudRate(baud: number): Promise<void>;
  readonly baudRate: number;
  close(): Promise<void>;
}

/** What the code needs of serialport's SerialPort (injected so emulators and tests plug in). */
export interface SerialPortLike extends EventEmitter {
  open(cb: (err: Error | null) => void): void;
  write(b: Buffer): boolean;
  update(o: { baudRate: number }, cb: (err: Error | null) => void): void;
  close(cb: (err: Error | null) => void): void;
  readonly isOpen: boolean;
}

export type SerialPortFactory = (o: { path: string; baudRate: number; dataBits: 8; stopBits: 1; parity: 'none'; autoOpen: false }) => SerialPortLike;

export async function defaultSerialPortFactory(): Promise<SerialPortFactory> {
  const { SerialPort } = await import('serialport');
  return (o) => new SerialPort(o) as unknown as SerialPortLike;
}

class SerialLink extends EventEmitter<ByteLinkEvents> implements ByteLink {
  private closing = false;
  constructor(
    private readonly port: SerialPortLike,
    public baudRate: number,
  ) {
    super();
    port.on('data', (d: Buffer) => this.emit('data', d));
    port.on('close', () => {
      if (!this.closing) this.emit('lost', 'port closed');
    });
    port.on('error', (e: Error) => {
      if (!this.closing) this.emit('lost', e.message);
    });
  }

  write(b: Buffer): void {
    if (this.port.isOpen) this.port.write(b);
  }

  setBaudRate(baud: number): Promise<void> {
    return new Promise((resolve, reject) =>
      this.port.update({ baudRate: baud }, (err) => {
        if (err) return reject(err);
        this.baudRate = baud;
        resolve();
      }),
    );
  }

  close(): Promise<void> {
    this.closing = true;
    if (!this.port.isOpen) return Promise.resolve();
    return new Promise((resolve) => this.port.close(() => resolve()));
  }
}

/** Open `path` at `baudRate`, 8N1. */
export async function openSerialLink(path: string, baudRate: number, factory?: SerialPortFactory): Promise<ByteLink> {
  const f = factory ?? (await defaultSerialPortFactory());
  const port = f({ path, baudRate, dataBits: 8, stopBits: 1, parity: 'none', autoOpen: false });
  await new Promise<void>((resolve, reject) => port.open((err) => (err ? reject(err) : resolve())));
  return new SerialLink(port, baudRate);
}

export interface MemoryLinkOptions {
  /** Probability that a byte is corrupted on the way (0..1). */
  corruptRate?: number;
  /** Random source in [0,1) (seeded in tests). */
  random?: () => number;
  /** Nominal speed (the CP sizes its reply timeout from it). */
  baudRate?: number;
  /** Deliver bytes after their wire time at baudRate (10 bit times a byte), one after the other, as a real line would. */
  pace?: boolean;
}

class MemoryEnd extends EventEmitter<ByteLinkEvents> implements ByteLink {
  peer!: MemoryEnd;
  baudRate: number;
  closed = false;
  corrupted = 0;
  constructor(readonly o: MemoryLinkOptions) {
    super();
    this.baudRate = o.baudRate ?? 115200;
  }

  write(b: Buffer): void {
    if (this.closed) return;
    const out = Buffer.from(b);
    const rate = this.o.corruptRate ?? 0;
    if (rate > 0) {
      const rnd = this.o.random ?? Math.random;
      for (let i = 0; i < out.length; i++) {
        if (rnd() < rate) {
          out[i] ^= 1 + Math.floor(rnd() * 255);
          this.corrupted++;
        }
      }
    }
    const peer = this.peer;
    const deliver = (): void => {
      if (!peer.closed) peer.emit('data', out);
    };
    if (!this.o.pace) {
      setImmediate(deliver);
      return;
    }
    const now = performance.now();
    const start = Math.max(now, this.busyUntil);
    this.busyUntil = start + (out.length * 10 * 1000) / this.baudRate;
    setTimeout(deliver, Math.max(0, this.busyUntil - now));
  }

  private busyUntil = 0;

  async setBaudRate(baud: number): Promise<void> {
    this.baudRate = baud;
  }

  async close(): Promise<void> {
    this.closed = true;
  }
}

/** Two connected in-memory ends; bytes written on one arrive on the other (optionally corrupted). */
export function memoryLinkPair(o: MemoryLinkOptions = {}): [ByteLink & { corrupted: number }, ByteLink & { corrupted: number }] {
  const a = new MemoryEnd(o);
  const b = new MemoryEnd(o);
  a.peer = b;
  b.peer = a;
  return [a, b];
}

/** serialport's interface over one end of a memory pair (so code that opens a port by path can run on it). */
export function memorySerialPort(end: ByteLink): SerialPortLike {
  const port = new EventEmitter() as SerialPortLike & { isOpen: boolean };
  port.isOpen = false;
  end.on('data', (d) => port.emit('data', d));
  port.open = (cb) => {
    port.isOpen = true;
    cb(null);
  };
  port.write = (b) => {
    end.write(b);
    return true;
  };
  port.update = (o, cb) => {
    void end.setBaudRate(o.baudRate).then(() => cb(null));
  };
  port.close = (cb) => {
    port.isOpen = false;
    cb(null);
  };
  return port;
}
