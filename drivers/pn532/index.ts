/**
 * PN532 driver: one reader per configured module (HSU or I2C). Each module's
 * transport is watched: when it goes away (USB-serial adapter pulled) the
 * reader is removed, the port is retried with back-off and the reader comes
 * back when the port does.
 */
import { EventEmitter } from 'node:events';
import type { Driver, DriverContext, DriverEvents } from '../../src/driver/contract.js';
import { pn532ReaderDefaults, type Pn532ConfigT, type Pn532ReaderConfigT } from './config.js';
import { bcmGpioBase, IrqLine, onoffFactory, type GpioFactory, type GpioLike } from './gpio.js';
import { directIoBinding } from './serial-io.js';
import { HsuLink, I2cLink, type FrameLink, type I2cBusLike, type SerialPortFactory, type SerialPortLike } from './link.js';
import { MAX_BACKOFF_MS, Pn532Reader, type ReaderPins, type ReaderTuning } from './reader.js';

export { Pn532Reader, Pn532Slot } from './reader.js';
export { bcmGpioBase } from './gpio.js';

/** Transports and timings, injectable so emulators plug in and tests run fast. */
export interface Pn532Deps {
  /** serialport's SerialPort (default). */
  serialPort?: SerialPortFactory;
  /** i2c-bus module (default) or anything with its openPromisified. */
  i2c?: { openPromisified(busNumber: number): Promise<I2cBusLike> };
  /** onoff's Gpio (default). */
  gpio?: GpioFactory;
  /** BCM -> sysfs offset (default: bcmGpioBase() from /sys/class/gpio). */
  gpioBase?: () => Promise<number>;
  /** Port reopen back-off. */
  reopenMs?: { initial: number; max: number };
  tuning?: Partial<ReaderTuning>;
}

const DEFAULT_TUNING: ReaderTuning = { detectWaitMs: 10000, recoverBackoffMs: { initial: 250, max: MAX_BACKOFF_MS } };

class Module {
  reader?: Pn532Reader;
  private running = false;
  private retry?: NodeJS.Timeout;
  private backoff: number;
  private lines: GpioLike[] = [];
  private irq?: IrqLine;

  constructor(
    private readonly driver: Pn532Driver,
    readonly config: Pn532ReaderConfigT,
  ) {
    this.backoff = driver.reopenMs.initial;
  }

  get label(): string {
    const t = this.config.transport;
    return t.type === 'hsu' ? t.path : `i2c-${t.bus}@0x${t.address.toString(16)}`;
  }

  async start(): Promise<void> {
    this.running = true;
    await this.attach();
  }

  async stop(): Promise<void> {
    this.running = false;
    clearTimeout(this.retry);
    const r = this.reader;
    this.reader = undefined;
    if (r) {
      await r.stop();
      await r.link.close();
      this.driver.emit('reader-removed', r);
    }
    this.releaseLines();
  }

  private releaseLines(): void {
    this.irq?.close();
    this.irq = undefined;
    for (const l of this.lines) {
      try {
        l.unexport();
      } catch {
        /* already gone */
      }
    }
    this.lines = [];
  }

  private async pins(): Promise<ReaderPins> {
    const c = this.config;
    const wanted = [c.irqPin, c.resetPin, c.ledPin, c.buzzerPin].some((p) => p !== undefined);
    if (!wanted) return {};
    const gpio = this.driver.deps.gpio ?? (await onoffFactory());
    const base = await (this.driver.deps.gpioBase ?? (() => bcmGpioBase()))();
    const make = (bcm: number, dir: 'in' | 'high' | 'low', edge?: 'falling'): GpioLike => {
      const g = gpio(base + bcm, dir, edge);
      this.lines.push(g);
      return g;
    };
    const pins: ReaderPins = {};
    if (c.irqPin !== undefined) {
      this.irq = new IrqLine(make(c.irqPin, 'in', 'falling'));
      pins.irq = true;
    }
    if (c.resetPin !== undefined) pins.reset = make(c.resetPin, 'high');
    if (c.ledPin !== undefined) pins.led = make(c.ledPin, 'low');
    if (c.buzzerPin !== undefined) pins.buzzer = make(c.buzzerPin, 'low');
    return pins;
  }

  private async makeLink(): Promise<FrameLink> {
    const t = this.config.transport;
    if (t.type === 'hsu') {
      const factory = this.driver.deps.serialPort ?? (await defaultSerialPort());
      // a silent gap inside a frame longer than ~50 byte times (min 10 ms) means bytes were lost
      return new HsuLink(factory, t.path, t.baudRate, Math.max(10, Math.ceil((50 * 10 * 1000) / t.baudRate)));
    }
    const i2c = this.driver.deps.i2c ?? (await import('i2c-bus')).default;
    return new I2cLink((n) => i2c.openPromisified(n), t.bus, t.address, this.config.i2cPollMs, this.irq);
  }

  /** Open the transport, bring the module up, announce the reader; on failure retry with back-off. */
  private async attach(): Promise<void> {
    if (!this.running) return;
    let link: FrameLink | undefined;
    try {
      const pins = await this.pins();
      link = await this.makeLink();
      await link.open();
      const reader = new Pn532Reader(this.config, link, pins, this.driver.tuning, this.driver.log);
      await reader.init();
      if (!this.running) {
        await link.close();
        return;
      }
      link.on('lost', (why) => void this.lost(reader, why));
      this.reader = reader;
      this.backoff = this.driver.reopenMs.initial;
      this.driver.emit('reader-added', reader);
      reader.start();
    } catch (e) {
      await link?.close().catch(() => undefined);
      this.releaseLines();
      this.driver.log.warn({ module: this.label, err: (e as Error).message, retryMs: this.backoff }, 'PN532 not available; retrying');
      this.scheduleRetry();
    }
  }

  private scheduleRetry(): void {
    if (!this.running) return;
    clearTimeout(this.retry);
    this.retry = setTimeout(() => void this.attach(), this.backoff);
    this.backoff = Math.min(this.backoff * 2, this.driver.reopenMs.max, MAX_BACKOFF_MS);
  }

  private async lost(reader: Pn532Reader, why: string): Promise<void> {
    if (this.reader !== reader) return;
    this.reader = undefined;
    this.driver.log.warn({ module: this.label, why }, 'PN532 transport lost');
    reader.detached();
    await reader.stop().catch(() => undefined);
    await reader.link.close().catch(() => undefined);
    this.releaseLines();
    reader.slots[0].emit('availability', false, why);
    this.driver.emit('reader-removed', reader);
    this.scheduleRetry();
  }
}

async function defaultSerialPort(): Promise<SerialPortFactory> {
  const { SerialPort } = await import('serialport');
  // reads and writes without serialport's thread-pool hand-offs (drivers/pn532/serial-io.ts)
  const binding = directIoBinding(SerialPort.binding);
  return (o) => new SerialPort({ ...o, binding } as never) as unknown as SerialPortLike;
}

export class Pn532Driver extends EventEmitter<DriverEvents> implements Driver {
  readonly name = 'pn532';
  readonly modules: Module[];
  readonly tuning: ReaderTuning;
  readonly reopenMs: { initial: number; max: number };
  readonly log: DriverContext['log'];

  constructor(
    config: Pn532ConfigT | { readers: (Partial<Pn532ReaderConfigT> & Pick<Pn532ReaderConfigT, 'transport'>)[] },
    ctx: DriverContext,
    readonly deps: Pn532Deps = {},
  ) {
    super();
    this.log = ctx.log.child({ driver: 'pn532' });
    this.tuning = { ...DEFAULT_TUNING, ...deps.tuning };
    // a re-plugged module is back within 5 s: no reopen attempt is further apart than MAX_BACKOFF_MS
    this.reopenMs = deps.reopenMs ?? { initial: 500, max: MAX_BACKOFF_MS };
    this.modules = config.readers.map((r) => new Module(this, pn532ReaderDefaults(r)));
  }

  /** Every module gets one attempt before start resolves; missing ones keep retrying in the background. */
  async start(): Promise<void> {
    await Promise.all(this.modules.map((m) => m.start()));
  }

  async stop(): Promise<void> {
    await Promise.all(this.modules.map((m) => m.stop()));
  }

  readers(): Pn532Reader[] {
    return this.modules.flatMap((m) => (m.reader ? [m.reader] : []));
  }

  diagnostics(): Record<string, unknown> {
    return { modules: this.modules.map((m) => ({ module: m.label, attached: !!m.reader, ...(m.reader?.diagnostics() ?? {}) })) };
  }
}

export function createPn532Driver(config: Pn532ConfigT, ctx: DriverContext, deps: Pn532Deps = {}): Pn532Driver {
  return new Pn532Driver(config, ctx, deps);
}
