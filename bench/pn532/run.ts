/**
 * PN532 benchmark (make bench-pn532).
 *
 * - APDU round trip through the HSU path at 115200 baud and at the highest
 *   switched speed (SetSerialBaudRate to 921600): the driver (this process,
 *   serialport) talks to the emulator CLI (another process) over a real pty,
 *   whose master the emulator holds (BENCH_PN532_RIG=socat: a socat pair). A pty does not throttle to a baud rate, so the emulator paces
 *   both directions at the chip's current speed, 8N1 (10 bit times per byte):
 *   the wire is modelled, the card's RF time and the chip's firmware time are
 *   not (the emulated card answers at once), so the bound is the wire time
 *   alone: every byte of the exchange both ways (command frames, ACKs, answer
 *   frames, MI continuations, counted by the driver's link), back to back.
 *   Reported apart: the rig's pty floor (one per command turn) and the
 *   driver's own time (docs/pn532.md §16).
 * - Tap-to-event and removal-to-event latency: from the emulator accepting
 *   `tap` / `remove` to the driver's presence event, for ISO 14443-4 cards with
 *   FWI 7 and FWI 10, MIFARE Classic and NTAG215, with event-driven detection
 *   (IRQ wired: the module waits for the card and answers when it comes), with
 *   InAutoPoll (the module polls in 150 ms rounds) and with polling (no IRQ,
 *   100 ms interval); taps over I2C in process (fake bus,
 *   no wire timing).
 *
 * Ends with one JSON object per line.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { availableParallelism, loadavg, tmpdir } from 'node:os';
import { join } from 'node:path';
import { createInterface } from 'node:readline';
import pino from 'pino';
import { createPn532Driver, type Pn532Driver, type Pn532Reader } from '../../drivers/pn532/index.js';
import type { SerialPortFactory, SerialPortLike } from '../../drivers/pn532/link.js';
import { Pn532Chip } from '../../emulators/pn532/chip.js';
import { fieldCardOf } from '../../emulators/pn532/field.js';
import { FakeGpioBoard } from '../../emulators/pn532/gpio.js';
import { spawnOnPtyMaster } from '../../emulators/pn532/hsu.js';
import { fakeI2c } from '../../emulators/pn532/i2c.js';

/** BENCH_PN532_RIG=socat: the emulator behind a socat pty pair (as the tests run it) instead of holding the pty's master itself. */
const SOCAT = process.env.BENCH_PN532_RIG === 'socat';

const BAUD = 115200;
const log = pino({ level: 'silent' });
const now = (): number => performance.timeOrigin + performance.now();
const sleep = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms));
const figures: Record<string, unknown>[] = [];

function stats(xs: number[]): { n: number; mean: number; p50: number; p95: number; min: number; max: number } {
  const s = [...xs].sort((a, b) => a - b);
  const q = (p: number): number => s[Math.min(s.length - 1, Math.floor(p * s.length))];
  const r = (x: number): number => Math.round(x * 1000) / 1000;
  return { n: s.length, mean: r(s.reduce((a, b) => a + b, 0) / s.length), p50: r(q(0.5)), p95: r(q(0.95)), min: r(s[0]), max: r(s[s.length - 1]) };
}

/** The emulator CLI in its own process (its pacing timers must not share our event loop). */
class Emulator {
  private lines: string[] = [];
  private waiters: ((l: string) => void)[] = [];
  constructor(readonly proc: ChildProcess) {
    createInterface({ input: proc.stdout! }).on('line', (l) => {
      const w = this.waiters.shift();
      if (w) w(l);
      else this.lines.push(l);
    });
  }
  static async start(link: string): Promise<Emulator> {
    const args = ['emulators/pn532/cli.ts', '--link', link, '--baud', String(BAUD), ...(process.env.NOPACE ? ['--no-pace'] : [])];
    // the rig: by default one pty whose master the emulator holds (spawnOnPtyMaster); BENCH_PN532_RIG=socat for the socat pair
    const proc = SOCAT ? spawn('npx', ['tsx', ...args], { stdio: ['pipe', 'pipe', 'inherit'] }) : spawnOnPtyMaster(link, [process.execPath, '--import', 'tsx', ...args, '--pty-fd', '3']);
    const e = new Emulator(proc);
    const ready = await Promise.race([
      e.line(),
      new Promise<never>((_, reject) =>
        proc.once('error', (err: NodeJS.ErrnoException) =>
          reject(new Error(err.code === 'ENOENT' ? `${SOCAT ? 'npx' : 'python3'} not found: the rig needs it (apt-get install python3, or BENCH_PN532_RIG=socat)` : err.message)),
        ),
      ),
    ]);
    if (!ready.startsWith('ready')) throw new Error(`emulator: ${ready}`);
    return e;
  }
  line(): Promise<string> {
    const l = this.lines.shift();
    if (l !== undefined) return Promise.resolve(l);
    return new Promise((r) => this.waiters.push(r));
  }
  async cmd(c: string): Promise<string> {
    this.proc.stdin!.write(`${c}\n`);
    const l = await this.line();
    if (!l.startsWith('ok')) throw new Error(`emulator: ${c}: ${l}`);
    return l;
  }
  async tapAt(spec: object): Promise<number> {
    const l = await this.cmd(`tap-json ${JSON.stringify(spec)}`);
    return Number(/at=([\d.]+)/.exec(l)![1]);
  }
  async removeAt(): Promise<number> {
    return Number(/at=([\d.]+)/.exec(await this.cmd('remove'))![1]);
  }
  stop(): Promise<void> {
    return new Promise((r) => {
      this.proc.once('exit', () => r());
      this.proc.stdin!.end('quit\n');
    });
  }
}

function presenceAt(reader: Pn532Reader, want: boolean): Promise<number> {
  return new Promise((resolve) => {
    const slot = reader.slots[0];
    const on = (p: boolean): void => {
      if (p !== want) return;
      slot.off('presence', on);
      resolve(now());
    };
    slot.on('presence', on);
  });
}

/** Host-side I/O moments of the driver's serial port (performance.now()): writes and data arrivals. */
const io: { w: number[]; d: number[] } = { w: [], d: [] };

/** The driver's own port (serialport with direct I/O, as in production), with its writes and arrivals time-stamped. */
async function tracedSerialPort(): Promise<SerialPortFactory> {
  const { SerialPort } = await import('serialport');
  const { directIoBinding } = await import('../../drivers/pn532/serial-io.js');
  const binding = directIoBinding(SerialPort.binding);
  return (o) => {
    const p = new SerialPort({ ...o, binding } as never);
    const write = p.write.bind(p) as (d: Buffer, cb?: (e: Error | null | undefined) => void) => boolean;
    (p as unknown as { write: typeof write }).write = (d, cb) => {
      const r = write(d, cb); // the write system call is made in here (direct I/O): it is the driver's time
      io.w.push(performance.now());
      return r;
    };
    p.on('data', () => io.d.push(performance.now()));
    return p as unknown as SerialPortLike;
  };
}

/**
 * The driver's own time in an exchange that started at t0 and resolved at t1:
 * from the start to its first write, from each arrival to the write it
 * caused (chained answers), from the last arrival to the resolve.
 */
function hostTurns(t0: number, t1: number): number {
  const ev = [...io.w.map((t) => ({ t, w: true })), ...io.d.map((t) => ({ t, w: false }))].sort((a, b) => a.t - b.t);
  let held = 0;
  let since: number | undefined = t0;
  for (const e of ev) {
    if (e.w) {
      if (since !== undefined) held += e.t - since;
      since = undefined;
    } else since = e.t;
  }
  return held + (since !== undefined ? t1 - since : 0);
}

async function hsuDriver(link: string, opts: Record<string, unknown>, maxBaudRate = BAUD): Promise<Pn532Driver> {
  const board = new FakeGpioBoard(); // the IRQ line only selects event-driven detection: HSU reads are data-driven
  const d = createPn532Driver(
    { readers: [{ transport: { type: 'hsu', path: link, baudRate: BAUD, maxBaudRate }, ...opts }] } as never,
    { log },
    { gpio: board.factory, gpioBase: async () => 0, serialPort: await tracedSerialPort() },
  );
  await d.start();
  // a loaded machine can make the first attempt miss its ACK windows: the driver retries with back-off
  if (!d.readers()[0]) {
    await Promise.race([
      new Promise((r) => d.once('reader-added', r)),
      sleep(20000).then(() => {
        throw new Error('PN532 reader did not come up within 20 s');
      }),
    ]);
  }
  return d;
}

const card = {
  type: 'iso14443-4',
  uid: '04B3E7A2C14D80',
  files: { fid: '3F00', children: [{ fid: '1001', sfi: 1, data: Buffer.from(Array.from({ length: 700 }, (_, i) => i & 0xff)).toString('hex') }] },
};

/**
 * The rig's own floor: one message each way through the same socat pty pair
 * with an echo process on the far end (no PN532, no driver). The pacing adds
 * the wire time after a frame has crossed the pty, so this latency sits on top
 * of the wire time in every exchange; it is reported so the driver's share can
 * be told apart from the rig's.
 */
async function ptyFloor(): Promise<number> {
  const { startPtyPair } = await import('../../emulators/pn532/hsu.js');
  const { SerialPort } = await import('serialport');
  const { directIoBinding } = await import('../../drivers/pn532/serial-io.js');
  // the far end does its I/O as the emulator's attachment does, on the same kind of rig
  let pty: { host: string; stop(): Promise<void> };
  let echo: ChildProcess;
  if (SOCAT) {
    const pair = await startPtyPair();
    pty = pair;
    const echoSrc = `import { SerialPort } from 'serialport'; import { directIoBinding } from './drivers/pn532/serial-io.ts';
      const p = new SerialPort({ path: ${JSON.stringify(pair.device)}, baudRate: ${BAUD}, binding: directIoBinding(SerialPort.binding) });
      p.on('open', () => console.log('open')); p.on('data', (d) => p.write(d));`;
    echo = spawn(process.execPath, ['--import', 'tsx', '--input-type=module', '-e', echoSrc], { stdio: ['ignore', 'pipe', 'inherit'] });
  } else {
    const dir = mkdtempSync(join(tmpdir(), 'bench-pn532-floor-'));
    pty = { host: join(dir, 'echo'), stop: async () => rmSync(dir, { recursive: true, force: true }) };
    const echoSrc = `import { ReadStream } from 'node:tty'; import { writeSync } from 'node:fs';
      const rs = new ReadStream(3); rs.on('data', (d) => writeSync(3, d)); console.log('open');`;
    echo = spawnOnPtyMaster(pty.host, [process.execPath, '--input-type=module', '-e', echoSrc], ['ignore', 'pipe', 'inherit']);
  }
  await new Promise((r) => echo.stdout!.once('data', r));
  const host = new SerialPort({ path: pty.host, baudRate: BAUD, autoOpen: false, binding: directIoBinding(SerialPort.binding) } as never);
  await new Promise<void>((r, j) => host.open((e) => (e ? j(e) : r())));
  const frame = Buffer.from('0000ff02fed4022a00', 'hex');
  const times: number[] = [];
  for (let i = 0; i < 320; i++) {
    const t0 = performance.now();
    await new Promise<void>((r) => {
      let got = 0;
      const on = (d: Buffer): void => {
        got += d.length;
        if (got >= frame.length) {
          host.off('data', on);
          r();
        }
      };
      host.on('data', on);
      host.write(frame);
    });
    if (i >= 20) times.push(performance.now() - t0);
  }
  await new Promise<void>((r) => host.close(() => r()));
  echo.kill();
  await pty.stop();
  const s = stats(times);
  process.stdout.write(`pty floor (${SOCAT ? 'socat pair' : 'one pty, master held by the far end'}, echo process, 9-byte frame each way): p50 ${s.p50} ms, min ${s.min} ms\n`);
  figures.push({ figure: 'pn532-rig-pty-roundtrip', rig: SOCAT ? 'socat' : 'pty-master', n: s.n, p50Ms: s.p50, minMs: s.min, p95Ms: s.p95 });
  return s.p50;
}

async function apduRoundTrip(emu: Emulator, link: string, floorMs: number, baud: number): Promise<void> {
  // no presence checks during the measurement: each one would put its own exchange on the wire
  const d = await hsuDriver(link, { irqPin: 25, removalCheckMs: 60000 }, baud);
  const reader = d.readers()[0];
  if (reader.link.baud !== baud) throw new Error(`HSU at ${reader.link.baud} baud, wanted ${baud}`);
  const present = presenceAt(reader, true);
  await emu.tapAt(card);
  await present;
  const slot = reader.slots[0];
  const cases: [string, Buffer][] = [
    ['read-16', Buffer.from('00B0810010', 'hex')],
    ['read-250', Buffer.from('00B08100FA', 'hex')],
    // extended Le: 600 bytes + SW come back in three InDataExchange frames (MI chaining)
    ['read-600-chained', Buffer.from('00B08100000258', 'hex')],
  ];
  const byteMs = (10 * 1000) / baud;
  let failures = 0;
  // an exchange that failed (a loaded machine can miss the ACK window): counted, not measured; the card is waited for again
  const exchange = async (apdu: Buffer): Promise<Buffer | undefined> => {
    try {
      return await slot.transmit(apdu, 2);
    } catch {
      failures++;
      if (!slot.isCardPresent()) await presenceAt(reader, true);
      return undefined;
    }
  };
  for (const [name, apdu] of cases) {
    for (let i = 0; i < 20; i++) await exchange(apdu); // warm-up
    const times: number[] = [];
    const wires: number[] = [];
    const hosts: number[] = [];
    const cmds: number[] = [];
    const before = { ...reader.dialogue.counters };
    for (let i = 0; i < 200; i++) {
      const b0 = reader.link.counters.bytesOut + reader.link.counters.bytesIn;
      const c0 = reader.dialogue.counters.commands;
      io.w = [];
      io.d = [];
      const t0 = performance.now();
      const r = await exchange(apdu);
      const t1 = performance.now();
      if (!r) continue;
      times.push(t1 - t0);
      hosts.push(hostTurns(t0, t1));
      cmds.push(reader.dialogue.counters.commands - c0);
      wires.push((reader.link.counters.bytesOut + reader.link.counters.bytesIn - b0) * byteMs);
      if (r.readUInt16BE(r.length - 2) !== 0x9000) throw new Error(`${name}: SW ${r.subarray(-2).toString('hex')}`);
    }
    const resends = reader.dialogue.counters.resends - before.resends;
    const s = stats(times);
    const wire = stats(wires);
    // each exchange against its own wire bound: on a link made suspect by earlier trouble a repeatable read is
    // sent twice (docs/pn532.md §2.4), and that exchange's bound holds both reads
    const pcts = (xs: number[]): ReturnType<typeof stats> => stats(xs.map((x, i) => ((x - wires[i]) / wires[i]) * 100));
    const over = pcts(times);
    const driver = stats(hosts.map((h, i) => (h / wires[i]) * 100));
    const beyond = pcts(times.map((x, i) => x - cmds[i] * floorMs));
    const host = stats(hosts);
    const minTurns = Math.min(...cmds);
    const verified = cmds.filter((c) => c > minTurns).length;
    const r1 = (x: number): number => Math.round(x * 10) / 10;
    process.stdout.write(
      `apdu ${name} @${baud}: mean ${s.mean} ms (min ${s.min}, p50 ${s.p50}, p95 ${s.p95}), wire bound p50 ${wire.p50} ms (${Math.round(wire.p50 / byteMs)} bytes both ways; no card/chip time: the emulator adds none), ` +
        `overhead per exchange mean ${r1(over.mean)}% p50 ${r1(over.p50)}% min ${r1(over.min)}%; driver's own time p50 ${host.p50} ms = ${r1(driver.p50)}% of wire; ` +
        `${minTurns} command turn(s) x rig floor ${floorMs} ms; overhead beyond rig p50 ${r1(beyond.p50)}%` +
        `${verified ? `; ${verified} exchange(s) read twice (link suspect)` : ''}\n`,
    );
    figures.push({
      figure: 'pn532-apdu-roundtrip',
      transport: 'hsu-pty',
      baud,
      apdu: name,
      n: s.n,
      meanMs: s.mean,
      p50Ms: s.p50,
      p95Ms: s.p95,
      minMs: s.min,
      wireBoundP50Ms: wire.p50,
      wireBytesP50: Math.round(wire.p50 / byteMs),
      overheadMeanPct: r1(over.mean),
      overheadP50Pct: r1(over.p50),
      overheadMinPct: r1(over.min),
      ptyFloorMs: floorMs,
      commandTurns: minTurns,
      overheadBeyondRigP50Pct: r1(beyond.p50),
      driverTimeP50Ms: host.p50,
      driverTimeP95Ms: host.p95,
      driverTimeP50PctOfWire: r1(driver.p50),
      verifiedReads: verified,
      goalOverheadPct: 10,
      resendsDuringRun: resends,
      failedExchanges: failures,
      loadAvg1m: Math.round(loadavg()[0] * 10) / 10,
    });
  }
  await emu.removeAt();
  await d.stop();
}

const FAMILIES: [string, (i: number) => object][] = [
  ['iso14443-4-fwi7', (i) => ({ type: 'iso14443-4', uid: `04A70000000${(i + 16).toString(16)}0`, ats: '7880700280' })],
  ['iso14443-4-fwi10', (i) => ({ type: 'iso14443-4', uid: `04A10000000${(i + 16).toString(16)}0`, ats: '7880A00280' })],
  ['mifare-classic-1k', (i) => ({ type: 'mifare-classic-1k', uid: `0A0B0C${(i + 16).toString(16)}` })],
  ['ntag215', (i) => ({ type: 'ntag215', uid: `04EE00000000${(i + 16).toString(16)}` })],
];

async function tapLatencyHsu(emu: Emulator, link: string, mode: 'irq' | 'poll' | 'autopoll'): Promise<void> {
  const d = await hsuDriver(link, mode === 'irq' ? { irqPin: 25 } : mode === 'autopoll' ? { irqPin: 25, autoPoll: true } : { pollIntervalMs: 100 });
  const reader = d.readers()[0];
  for (const [family, spec] of FAMILIES) {
    const taps: number[] = [];
    const removals: number[] = [];
    for (let i = 0; i < 12; i++) {
      await sleep(37 + ((i * 53) % 97)); // spread taps across the poll interval
      const p = presenceAt(reader, true);
      const at = await emu.tapAt(spec(i));
      taps.push((await p) - at);
      await sleep(20 + ((i * 31) % 150)); // spread removals across the presence check interval
      const g = presenceAt(reader, false);
      const rat = await emu.removeAt();
      removals.push((await g) - rat);
    }
    const s = stats(taps);
    const r = stats(removals);
    // the designed worst case (docs/pn532.md §8.1) for the ISO 14443-4 cards, next to the measured one
    const fwi = /fwi(\d+)/.exec(family);
    const bound = fwi ? Math.round(reader.removalBound(Number(fwi[1])).totalMs * 10) / 10 : null;
    process.stdout.write(
      `${family} hsu ${mode}: tap-to-event mean ${s.mean} ms p95 ${s.p95} max ${s.max}; removal-to-event mean ${r.mean} ms p95 ${r.p95} max ${r.max}${bound ? ` (designed worst case ${bound} ms at ${reader.link.baud} baud)` : ''}\n`,
    );
    const common = { transport: 'hsu-pty', detection: mode, card: family, loadAvg1m: Math.round(loadavg()[0] * 10) / 10 };
    figures.push({ figure: 'pn532-tap-to-event', ...common, pollIntervalMs: mode === 'poll' ? 100 : null, n: s.n, meanMs: s.mean, p50Ms: s.p50, p95Ms: s.p95, maxMs: s.max });
    figures.push({ figure: 'pn532-removal-to-event', ...common, removalCheckMs: 150, designedWorstCaseMs: bound, n: r.n, meanMs: r.mean, p50Ms: r.p50, p95Ms: r.p95, maxMs: r.max, goalMaxMs: 1000 });
  }
  await d.stop();
}

async function tapLatencyI2c(mode: 'irq' | 'poll'): Promise<void> {
  const chip = new Pn532Chip('i2c');
  const board = new FakeGpioBoard();
  board.wire(chip, { irq: 17 });
  const d = createPn532Driver(
    { readers: [{ transport: { type: 'i2c', bus: 1, address: 0x24 }, ...(mode === 'irq' ? { irqPin: 17 } : { pollIntervalMs: 100 }) }] } as never,
    { log },
    { i2c: fakeI2c({ 1: { 0x24: chip } }), gpio: board.factory, gpioBase: async () => 0 },
  );
  await d.start();
  const reader = d.readers()[0];
  const taps: number[] = [];
  for (let i = 0; i < 25; i++) {
    await sleep(37 + ((i * 53) % 97));
    const p = presenceAt(reader, true);
    const at = now();
    chip.tap(fieldCardOf({ type: 'mifare-classic-1k', uid: `0A0B0C${(i + 16).toString(16)}` }));
    taps.push((await p) - at);
    await sleep(20);
    const g = presenceAt(reader, false);
    chip.remove();
    await g;
  }
  const s = stats(taps);
  process.stdout.write(`tap-to-event i2c ${mode}: mean ${s.mean} ms p95 ${s.p95} max ${s.max}\n`);
  figures.push({ figure: 'pn532-tap-to-event', transport: 'i2c-fake-bus', detection: mode, pollIntervalMs: mode === 'poll' ? 100 : null, n: s.n, meanMs: s.mean, p50Ms: s.p50, p95Ms: s.p95, maxMs: s.max });
  await d.stop();
}

async function main(): Promise<void> {
  const dir = mkdtempSync(join(tmpdir(), 'bench-pn532-'));
  const link = join(dir, 'pn532');
  const emu = await Emulator.start(link);
  try {
    process.stdout.write(`PN532 emulator on ${link}, ${BAUD} baud paced, driver over serialport; load average ${loadavg().map((x) => x.toFixed(1)).join(' ')} on ${availableParallelism()} CPUs\n`);
    // BENCH_PN532_PARTS=apdu,tap picks parts (default: all)
    const parts = (process.env.BENCH_PN532_PARTS ?? 'apdu,tap,i2c').split(',');
    if (parts.includes('apdu')) {
      const floor = await ptyFloor();
      await apduRoundTrip(emu, link, floor, BAUD);
      await apduRoundTrip(emu, link, floor, 921600);
    }
    if (parts.includes('tap')) {
      await tapLatencyHsu(emu, link, 'irq');
      await tapLatencyHsu(emu, link, 'autopoll');
      await tapLatencyHsu(emu, link, 'poll');
    }
    if (parts.includes('i2c')) {
      await tapLatencyI2c('irq');
      await tapLatencyI2c('poll');
    }
  } finally {
    await emu.stop();
    rmSync(dir, { recursive: true, force: true });
  }
  for (const f of figures) process.stdout.write(`${JSON.stringify(f)}\n`);
}

main().then(
  () => process.exit(0),
  (e) => {
    process.stderr.write(`bench-pn532 failed: ${(e as Error).stack}\n`);
    process.exit(1);
  },
);
