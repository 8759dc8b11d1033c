/**
 * GPIO lines of a PN532 module (P70_IRQ, RSTPDN) and of the reader's LED and
 * buzzer, over onoff's Gpio interface (injected: the emulator supplies fakes).
 *
 * Config names pins by BCM number. Since Linux 6.6 (and always on the
 * Raspberry Pi 5, whose header GPIOs sit on the RP1 chip) the sysfs number is
 * the gpiochip's base + BCM number, the base no longer 0, so the base of the
 * pin-controller chip is looked up once and added.
 */
import { readdir, readFile } from 'node:fs/promises';
import { join } from 'node:path';
import type { ReadySignal } from './link.js';

export type BinaryValue = 0 | 1;

/** The subset of onoff's Gpio used here. */
export interface GpioLike {
  read(): Promise<BinaryValue>;
  write(value: BinaryValue): Promise<void>;
  watch(callback: (err: Error | null | undefined, value: BinaryValue) => void): void;
  unwatchAll(): void;
  unexport(): void;
}

/** `new Gpio(sysfsNumber, direction, edge)` from onoff, or a fake. */
export type GpioFactory = (sysfsNumber: number, direction: 'in' | 'out' | 'high' | 'low', edge?: 'none' | 'rising' | 'falling' | 'both') => GpioLike;

/** Labels of the gpiochip that carries the BCM-numbered header pins (Pi 5 RP1, Pi 4, Pi 0-3). */
const BCM_PINCTRL = /^pinctrl-(rp1|bcm2712|bcm2711|bcm2835)$/;

/**
 * Base to add to a BCM number to get the sysfs GPIO number: the base of the
 * gpiochip whose label is the BCM pin controller, 0 when there is none (older
 * kernels number from 0; non-Pi boards: numbers are used as given).
 */
export async function bcmGpioBase(sysfsRoot = '/sys/class/gpio'): Promise<number> {
  let entries: string[];
  try {
    entries = await readdir(sysfsRoot);
  } catch {
    return 0;
  }
  const chips: { label: string; base: number }[] = [];
  for (const e of entries.filter((n) => /^gpiochip\d+$/.test(n))) {
    try {
      const label = (await readFile(join(sysfsRoot, e, 'label'), 'utf8')).trim();
      const base = Number.parseInt((await readFile(join(sysfsRoot, e, 'base'), 'utf8')).trim(), 10);
      if (Number.isInteger(base)) chips.push({ label, base });
    } catch {
      /* a chip without label/base: not ours */
    }
  }
  // rp1 first: a Pi 5 also lists the bcm2712 SoC controllers, which do not carry the header pins
  const order = ['pinctrl-rp1', 'pinctrl-bcm2712', 'pinctrl-bcm2711', 'pinctrl-bcm2835'];
  const found = chips.filter((c) => BCM_PINCTRL.test(c.label)).sort((a, b) => order.indexOf(a.label) - order.indexOf(b.label));
  return found[0]?.base ?? 0;
}

/** onoff's Gpio, loaded only when a pin is configured (it needs /sys/class/gpio). */
export async function onoffFactory(): Promise<GpioFactory> {
  const { Gpio } = await import('onoff');
  return (n, dir, edge) => new Gpio(n, dir, edge) as unknown as GpioLike;
}

/** P70_IRQ: active low; the PN532 pulls it down when a frame is ready. */
export class IrqLine implements ReadySignal {
  private waiters = new Set<() => void>();

  constructor(readonly gpio: GpioLike) {
    gpio.watch((err, value) => {
      if (err || value !== 0) return;
      for (const w of [...this.waiters]) w();
    });
  }

  async wait(timeoutMs: number): Promise<boolean> {
    let wake: (() => void) | undefined;
    const edge = new Promise<boolean>((resolve) => {
      wake = () => resolve(true);
      this.waiters.add(wake);
    });
    try {
      // the line may already be low (frame ready before we started to wait)
      if ((await this.gpio.read()) === 0) return true;
      let timer: NodeJS.Timeout | undefined;
      const timeout = new Promise<boolean>((resolve) => (timer = setTimeout(() => resolve(false), timeoutMs)));
      const r = await Promise.race([edge, timeout]);
      clearTimeout(timer);
      return r;
    } finally {
      this.waiters.delete(wake!);
    }
  }

  close(): void {
    this.gpio.unwatchAll();
    this.gpio.unexport();
  }
}
