/**
 * The emulated PN532 behind an object with i2c-bus's promise API
 * (`openPromisified(busNumber)` -> PromisifiedBus: i2cRead / i2cWrite / close,
 * same signatures and result shapes), so the driver's I2C path runs unchanged.
 * Devices at other addresses do not answer (EREMOTEIO, as the kernel reports a NAK).
 */
import type { Pn532Chip } from './chip.js';

export interface I2cTransaction {
  dir: 'read' | 'write';
  address: number;
  bytes: Buffer;
}

export class FakeI2cBus {
  closed = false;
  /** Every transaction, for byte-level assertions (bounded). */
  readonly log: I2cTransaction[] = [];
  logLimit = 200;

  constructor(
    readonly busNumber: number,
    private readonly devices: Map<number, Pn532Chip>,
  ) {}

  private device(address: number): Pn532Chip {
    if (this.closed) throw Object.assign(new Error('Bus is closed'), { code: 'EBADF' });
    const d = this.devices.get(address);
    if (!d) throw Object.assign(new Error(`Remote I/O error (no device at 0x${address.toString(16)})`), { code: 'EREMOTEIO', errno: 121 });
    return d;
  }

  private record(t: I2cTransaction): void {
    this.log.push(t);
    if (this.log.length > this.logLimit) this.log.shift();
  }

  async i2cRead(address: number, length: number, buffer: Buffer): Promise<{ bytesRead: number; buffer: Buffer }> {
    const chip = this.device(address);
    if (length > buffer.length) throw new RangeError(`length ${length} exceeds buffer size ${buffer.length}`);
    const data = chip.i2cRead(length);
    data.copy(buffer, 0, 0, length);
    this.record({ dir: 'read', address, bytes: Buffer.from(data) });
    return { bytesRead: length, buffer };
  }

  async i2cWrite(address: number, length: number, buffer: Buffer): Promise<{ bytesWritten: number; buffer: Buffer }> {
    const chip = this.device(address);
    if (length > buffer.length) throw new RangeError(`length ${length} exceeds buffer size ${buffer.length}`);
    const bytes = Buffer.from(buffer.subarray(0, length));
    this.record({ dir: 'write', address, bytes });
    chip.i2cWrite(bytes);
    return { bytesWritten: length, buffer };
  }

  async close(): Promise<void> {
    this.closed = true;
  }
}

/** `i2c.openPromisified` for a bus with the given devices (address -> chip). */
export function fakeI2c(devicesByBus: Record<number, Record<number, Pn532Chip>>): {
  openPromisified(busNumber: number): Promise<FakeI2cBus>;
  opened: FakeI2cBus[];
} {
  const opened: FakeI2cBus[] = [];
  return {
    opened,
    async openPromisified(busNumber: number) {
      const devs = devicesByBus[busNumber];
      if (!devs) throw Object.assign(new Error(`ENOENT: no such file or directory, open '/dev/i2c-${busNumber}'`), { code: 'ENOENT' });
      const bus = new FakeI2cBus(busNumber, new Map(Object.entries(devs).map(([a, c]) => [Number(a), c])));
      opened.push(bus);
      return bus;
    },
  };
}
