/**
 * Fake GPIO lines with onoff's Gpio interface subset (read, write, watch,
 * unwatchAll, unexport; edge detection), numbered like sysfs. The emulated
 * PN532 drives its P70_IRQ line and listens to RSTPDN through them; LED and
 * buzzer lines record what the driver wrote.
 */
import type { BinaryValue, GpioFactory, GpioLike } from '../../drivers/pn532/gpio.js';
import type { Pn532Chip } from './chip.js';

type Edge = 'none' | 'rising' | 'falling' | 'both';

export class FakeLine {
  value: BinaryValue = 1;
  /** Values written by the host, with times (LED / buzzer assertions). */
  readonly writes: { value: BinaryValue; at: number }[] = [];
  readonly listeners = new Set<(v: BinaryValue) => void>();
  exported = false;
  direction: string = 'in';

  /** Driven by the device side (IRQ). */
  drive(v: BinaryValue): void {
    if (v === this.value) return;
    this.value = v;
    for (const l of [...this.listeners]) l(v);
  }
}

class FakeGpio implements GpioLike {
  private watchers: ((err: Error | null | undefined, v: BinaryValue) => void)[] = [];
  private readonly onChange = (v: BinaryValue): void => {
    const hit = this.edge === 'both' || (this.edge === 'falling' && v === 0) || (this.edge === 'rising' && v === 1);
    if (hit) for (const w of [...this.watchers]) setImmediate(() => w(null, v));
  };

  constructor(
    private readonly line: FakeLine,
    private readonly edge: Edge,
    private readonly onWrite?: (v: BinaryValue) => void,
  ) {
    line.exported = true;
    line.listeners.add(this.onChange);
  }

  async read(): Promise<BinaryValue> {
    return this.line.value;
  }

  async write(value: BinaryValue): Promise<void> {
    this.line.writes.push({ value, at: performance.now() });
    this.line.value = value;
    this.onWrite?.(value);
  }

  watch(callback: (err: Error | null | undefined, value: BinaryValue) => void): void {
    if (this.edge === 'none') throw new Error('EPERM: watch() on a GPIO without edge');
    this.watchers.push(callback);
  }

  unwatchAll(): void {
    this.watchers = [];
  }

  unexport(): void {
    this.line.listeners.delete(this.onChange);
    this.line.exported = false;
  }
}

/** A board: sysfs-numbered lines; wire a chip's IRQ and RSTPDN to some of them. */
export class FakeGpioBoard {
  readonly lines = new Map<number, FakeLine>();
  private writeHooks = new Map<number, (v: BinaryValue) => void>();

  line(n: number): FakeLine {
    let l = this.lines.get(n);
    if (!l) this.lines.set(n, (l = new FakeLine()));
    return l;
  }

  /** P70_IRQ of `chip` on sysfs line `irq`, its RSTPDN on `rst`. */
  wire(chip: Pn532Chip, pins: { irq?: number; rst?: number }): void {
    if (pins.irq !== undefined) {
      const l = this.line(pins.irq);
      l.value = chip.irq;
      chip.on('irq', (v) => l.drive(v));
    }
    if (pins.rst !== undefined) this.writeHooks.set(pins.rst, (v) => chip.setResetLine(v));
  }

  /** onoff-compatible constructor function for the driver. */
  readonly factory: GpioFactory = (n, direction, edge) => {
    const l = this.line(n);
    l.direction = direction;
    if (direction === 'high') l.value = 1;
    if (direction === 'low') l.value = 0;
    return new FakeGpio(l, edge ?? 'none', this.writeHooks.get(n));
  };
}
