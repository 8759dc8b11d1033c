/**
 * CCID benchmark (make bench-ccid).
 *
 * - APDU round trip through the core to a card behind the emulated USB path
 *   (CCID driver -> UsbBinding -> emulators/ccid firmware -> card model), at
 *   each exchange level, against the same card model in the in-process sim
 *   reader (the core's T=0/T=1 engines run in both where the level is TPDU).
 *   Batches interleaved A B A B. The difference of medians is the CCID path's
 *   cost per APDU: driver (message build, bSeq/status checks, device lock)
 *   plus the emulated transfer (one event-loop turn per command, firmware
 *   parsing). A real reader adds USB and card time that is not modelled.
 * - Plug-to-reader-listed: from the binding's attach event to the core's
 *   reader-added (descriptor parse, claim, GetSlotStatus per slot), for a
 *   one-interface TPDU reader and the two-interface ACR1252U, interleaved.
 *
 * Ends with one JSON object per line.
 */
import { availableParallelism, loadavg } from 'node:os';
import pino from 'pino';
import { ResourceManager } from '../../src/core/index.js';
import type { ReaderSnapshot } from '../../src/core/api.js';
import { PROTOCOL, SHARE } from '../../src/pcsc/constants.js';
import { SimDriver } from '../../drivers/sim/index.js';
import { CcidDriver } from '../../drivers/ccid/index.js';
import { EmulatedUsbBinding } from '../../emulators/ccid/binding.js';
import type { CcidExchangeLevel } from '../../drivers/ccid/descriptor.js';

const log = pino({ level: 'silent' });
const figures: Record<string, unknown>[] = [];
const ROUNDS = Number(process.env.ROUNDS ?? 6);
const BATCH = Number(process.env.BATCH ?? 300);
const PLUGS = Number(process.env.PLUGS ?? 40);
const SELECT = Buffer.from('00A4040C0AF0736361726467617465', 'hex');
const READ = Buffer.from('00B0000010', 'hex');

function stats(xs: number[]): { n: number; p50: number; p95: number; mean: number } {
  const s = [...xs].sort((a, b) => a - b);
  const q = (p: number): number => s[Math.min(s.length - 1, Math.floor(p * s.length))];
  const r = (x: number): number => Math.round(x * 100) / 100;
  return { n: s.length, p50: r(q(0.5)), p95: r(q(0.95)), mean: r(s.reduce((a, b) => a + b, 0) / s.length) };
}

const config = {
  enabled: true,
  escape: false,
  voltage: 'auto' as const,
  commandTimeoutMs: 5000,
  maxTimeExtensions: 200,
  pollIntervalMs: 400,
  hotplugPollMs: 1000,
  emulate: [],
};

type Card = 'iso7816' | 'iso7816-t0' | 'iso7816-t1-tpdu';

async function connectTo(core: ResourceManager, name: string): Promise<(apdu: Buffer) => Promise<Buffer>> {
  const ctx = core.establishContext('bench');
  const c = await core.connect(ctx, name, SHARE.SHARED, PROTOCOL.T0 | PROTOCOL.T1);
  return (apdu) => core.transmit(c.handle, c.protocol, apdu);
}

async function batch(send: (a: Buffer) => Promise<Buffer>, out: number[]): Promise<void> {
  for (let i = 0; i < BATCH; i++) {
    const t0 = performance.now();
    await send(i & 1 ? READ : SELECT);
    out.push((performance.now() - t0) * 1000);
  }
}

async function roundTrip(card: Card, level: CcidExchangeLevel): Promise<void> {
  const sim = new ResourceManager({ transmitTimeoutMs: 5000, log });
  await sim.addDriver(new SimDriver({ readers: [{ name: 'Ref', card }] }, { log }));
  const bus = new EmulatedUsbBinding();
  const core = new ResourceManager({ transmitTimeoutMs: 5000, log });
  await core.addDriver(new CcidDriver(config, { log }, { binding: bus }));
  const added = new Promise<ReaderSnapshot>((r) => core.once('reader-added', r));
  bus.add('omnikey-class', { level }).insert(card);
  const name = (await added).name;
  const a = await connectTo(sim, 'Ref 00 00');
  const b = await connectTo(core, name);
  await batch(a, []);
  await batch(b, []);
  const simUs: number[] = [];
  const ccidUs: number[] = [];
  for (let r = 0; r < ROUNDS; r++) {
    await batch(a, simUs);
    await batch(b, ccidUs);
  }
  const s = stats(simUs);
  const c = stats(ccidUs);
  const fig = { figure: 'ccid_apdu_round_trip', level, card, sim_p50_us: s.p50, ccid_p50_us: c.p50, ccid_p95_us: c.p95, overhead_p50_us: Math.round((c.p50 - s.p50) * 100) / 100, n: c.n };
  console.log(`${level.padEnd(13)} ${card.padEnd(16)} sim p50 ${s.p50} us, CCID p50 ${c.p50} us (p95 ${c.p95}): overhead ${fig.overhead_p50_us} us/APDU`);
  figures.push(fig);
  await core.stop();
  await sim.stop();
}

async function plugLatency(): Promise<void> {
  const bus = new EmulatedUsbBinding();
  const core = new ResourceManager({ transmitTimeoutMs: 5000, log });
  await core.addDriver(new CcidDriver(config, { log }, { binding: bus }));
  const res: Record<string, number[]> = { 'gempc-twin': [], acr1252u: [] };
  for (let i = 0; i < PLUGS; i++) {
    for (const key of ['gempc-twin', 'acr1252u'] as const) {
      const want = key === 'acr1252u' ? 2 : 1;
      let seen = 0;
      let t0 = 0;
      const done = new Promise<number>((resolve) => {
        const on = (): void => {
          if (++seen === want) {
            core.off('reader-added', on);
            resolve(performance.now() - t0);
          }
        };
        core.on('reader-added', on);
      });
      bus.once('attach', () => (t0 = performance.now()));
      const dev = bus.add(key);
      res[key].push(await done);
      const gone = new Promise<void>((resolve) => {
        let left = 0;
        const on = (): void => {
          if (++left === want) {
            core.off('reader-removed', on);
            resolve();
          }
        };
        core.on('reader-removed', on);
      });
      bus.delete(dev);
      await gone;
    }
  }
  for (const [key, xs] of Object.entries(res)) {
    const s = stats(xs);
    console.log(`plug -> listed ${key.padEnd(11)} p50 ${s.p50} ms, p95 ${s.p95} ms (n ${s.n})`);
    figures.push({ figure: 'ccid_plug_to_listed', reader: key, p50_ms: s.p50, p95_ms: s.p95, n: s.n });
  }
  await core.stop();
}

console.log(`CCID bench: ${ROUNDS} interleaved rounds of ${BATCH} APDUs per side; load average ${loadavg().map((x) => x.toFixed(2)).join(' ')} on ${availableParallelism()} CPUs (shared with other engineers' work)`);
for (const [card, level] of [
  ['iso7816-t0', 'tpdu'],
  ['iso7816-t1-tpdu', 'tpdu'],
  ['iso7816', 'short-apdu'],
  ['iso7816', 'extended-apdu'],
] as const)
  await roundTrip(card, level);
await plugLatency();
figures.push({ figure: 'ccid_bench_load', loadavg_1m: Math.round(loadavg()[0] * 100) / 100, cpus: availableParallelism() });
for (const f of figures) console.log(JSON.stringify(f));
