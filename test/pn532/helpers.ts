/** Shared set-up for the PN532 driver tests: emulator on a real pty or a fake I2C bus, driver, waits. */
import { EventEmitter, once } from 'node:events';
import pino from 'pino';
import { createPn532Driver, type Pn532Deps, type Pn532Driver, type Pn532Reader } from '../../drivers/pn532/index.js';
import type { Pn532ReaderConfigT } from '../../drivers/pn532/config.js';
import { Pn532Chip, type ChipOptions } from '../../emulators/pn532/chip.js';
import { FakeGpioBoard } from '../../emulators/pn532/gpio.js';
import { HsuAttachment, startPtyPair, type PtyPair } from '../../emulators/pn532/hsu.js';
import { fakeI2c } from '../../emulators/pn532/i2c.js';

export const log = pino({ level: process.env.PN532_TEST_LOG ?? 'silent' });

export type ReaderOpts = Partial<Omit<Pn532ReaderConfigT, 'transport'>>;

export interface HsuRig {
  chip: Pn532Chip;
  pty: PtyPair;
  hsu: HsuAttachment;
  driver: Pn532Driver;
  board: FakeGpioBoard;
  reader(): Pn532Reader;
  close(): Promise<void>;
}

/** Emulator on one end of a socat pty pair, the driver on the other through serialport. */
export async function hsuRig(opts: ReaderOpts = {}, deps: Pn532Deps = {}, pace = false, chipOpts: ChipOptions = {}): Promise<HsuRig> {
  const pty = await startPtyPair();
  const chip = new Pn532Chip('hsu', chipOpts);
  const hsu = new HsuAttachment(chip, pty.device, { pace });
  await hsu.open();
  const board = new FakeGpioBoard();
  board.wire(chip, { irq: 512 + 25, rst: 512 + 24 }); // a Pi 5 style base of 512
  const driver = createPn532Driver({ readers: [{ ...opts, transport: { type: 'hsu', path: pty.host, baudRate: 115200 } }] } as never, { log }, {
    gpio: board.factory,
    gpioBase: async () => 512,
    reopenMs: { initial: 50, max: 400 },
    ...deps,
  });
  return {
    chip,
    pty,
    hsu,
    driver,
    board,
    reader: () => {
      const r = driver.readers()[0];
      if (!r) throw new Error('no PN532 reader attached');
      return r;
    },
    async close() {
      await driver.stop();
      await hsu.close();
      await pty.stop();
    },
  };
}

export interface I2cRig {
  chip: Pn532Chip;
  driver: Pn532Driver;
  board: FakeGpioBoard;
  bus: ReturnType<typeof fakeI2c>;
  reader(): Pn532Reader;
  close(): Promise<void>;
}

export async function i2cRig(opts: ReaderOpts = {}, deps: Pn532Deps = {}): Promise<I2cRig> {
  const chip = new Pn532Chip('i2c');
  const bus = fakeI2c({ 1: { 0x24: chip } });
  const board = new FakeGpioBoard();
  board.wire(chip, { irq: 17, rst: 27 });
  const driver = createPn532Driver({ readers: [{ ...opts, transport: { type: 'i2c', bus: 1, address: 0x24 } }] } as never, { log }, {
    i2c: bus,
    gpio: board.factory,
    gpioBase: async () => 0,
    reopenMs: { initial: 50, max: 400 },
    ...deps,
  });
  return {
    chip,
    driver,
    board,
    bus,
    reader: () => {
      const r = driver.readers()[0];
      if (!r) throw new Error('no PN532 reader attached');
      return r;
    },
    close: () => driver.stop(),
  };
}

/** Wait until `slot` reports presence `want` (skipping other presence events), failing after `ms` with what it waited for. */
export async function presence(slot: EventEmitter, want: boolean, ms: number, what = want ? 'card inserted' : 'card removed'): Promise<void> {
  const deadline = Date.now() + ms;
  for (;;) {
    const left = deadline - Date.now();
    if (left <= 0) throw new Error(`${what}: no presence ${want} event within ${ms} ms`);
    let v: [boolean];
    try {
      v = await waitFor<[boolean]>(slot, 'presence', left);
    } catch {
      throw new Error(`${what}: no presence ${want} event within ${ms} ms`);
    }
    if (v[0] === want) return;
  }
}

/** Wait for an event with a generous bound (a hang fails the test instead of the run). */
export async function waitFor<T extends unknown[]>(em: EventEmitter, event: string, ms = 5000): Promise<T> {
  const ac = new AbortController();
  const timer = setTimeout(() => ac.abort(), ms);
  try {
    return (await once(em, event, { signal: ac.signal })) as T;
  } catch (e) {
    if (ac.signal.aborted) throw new Error(`no '${event}' event within ${ms} ms`, { cause: e });
    throw e;
  } finally {
    clearTimeout(timer);
  }
}

export const sleep = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms));

export const hex = (s: string): Buffer => Buffer.from(s.replace(/\s+/g, ''), 'hex');

/** A strict PN532 on the device end of a socat pty pair (the driver opens `pty.host`); both closed at teardown. */
export async function ptyEmulator(t: { teardown(fn: () => Promise<void>): void }): Promise<{ pty: PtyPair; chip: Pn532Chip }> {
  const pty = await startPtyPair();
  const chip = new Pn532Chip('hsu');
  const hsu = new HsuAttachment(chip, pty.device, { pace: false });
  await hsu.open();
  t.teardown(async () => {
    await hsu.close();
    await pty.stop();
  });
  return { pty, chip };
}
