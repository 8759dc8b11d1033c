/**
 * Core transmit benchmark: APDUs through the ResourceManager to a simulated
 * zero-latency card, in process. Reports APDU/s and per-APDU latency
 * percentiles in microseconds, next to the same card driven directly (no
 * core), so the core's own overhead per APDU is visible. A second run uses
 * drivers/sim's ISO 7816 card model (its own processing time included).
 *
 * Run: make bench-core   (or: npx tsx bench/core/transmit.ts [--n 200000])
 * Ends with one JSON object per line.
 */
import { EventEmitter } from 'node:events';
import type { Driver, DriverEvents } from '../../src/driver/contract.js';
import { ResourceManager } from '../../src/core/index.js';
import { DISPOSITION, PROTOCOL, SHARE } from '../../src/pcsc/constants.js';
import { SimReader } from '../../drivers/sim/index.js';
import { createCard } from '../../drivers/sim/cards/index.js';
import { ZeroLatencyDriver } from './zero-latency-reader.js';

const argN = process.argv.indexOf('--n');
const N = argN > 0 ? Number(process.argv[argN + 1]) : 200000;
const WARMUP = Math.min(20000, N);
/** SELECT MF: a realistic short command the sim card answers at once. */
const APDU = Buffer.from('00A40000023F00', 'hex');

/** A one-reader driver around the sim driver's reader model (no config, no logger needed). */
class OneSimReader extends EventEmitter<DriverEvents> implements Driver {
  readonly name = 'sim';
  readonly reader = new SimReader('bench-0', 'Bench Reader');
  async start(): Promise<void> {
    this.reader.slot.insertCard(createCard('iso7816'));
    this.emit('reader-added', this.reader);
  }
  async stop(): Promise<void> {}
}

function percentile(sorted: Float64Array, p: number): number {
  return sorted[Math.min(sorted.length - 1, Math.floor((p / 100) * sorted.length))];
}

async function measure(label: string, send: () => Promise<Buffer>): Promise<{ rate: number; p50: number; p99: number; mean: number }> {
  for (let i = 0; i < WARMUP; i++) await send();
  const lat = new Float64Array(N);
  const t0 = performance.now();
  for (let i = 0; i < N; i++) {
    const s = performance.now();
    await send();
    lat[i] = performance.now() - s;
  }
  const total = performance.now() - t0;
  lat.sort();
  const r = { rate: Math.round((N / total) * 1000), p50: percentile(lat, 50) * 1000, p99: percentile(lat, 99) * 1000, mean: (total / N) * 1000 };
  console.log(`${label}: ${r.rate} APDU/s, mean ${r.mean.toFixed(2)} us, p50 ${r.p50.toFixed(2)} us, p99 ${r.p99.toFixed(2)} us`);
  return r;
}

/** Several handles transmitting at once: the queue's throughput under contention. */
async function concurrent(core: ResourceManager, name: string, clients: number): Promise<number> {
  const ctxs = Array.from({ length: clients }, () => core.establishContext('bench'));
  const hs = await Promise.all(ctxs.map((c) => core.connect(c, name, SHARE.SHARED, PROTOCOL.ANY)));
  const per = Math.floor(N / clients);
  const t0 = performance.now();
  await Promise.all(
    hs.map(async ({ handle, protocol }) => {
      for (let i = 0; i < per; i++) await core.transmit(handle, protocol, APDU);
    }),
  );
  const total = performance.now() - t0;
  await Promise.all(ctxs.map((c) => core.releaseContext(c)));
  const rate = Math.round(((per * clients) / total) * 1000);
  console.log(`core, ${clients} concurrent handles: ${rate} APDU/s`);
  return rate;
}

interface Suite {
  rate: number;
  p50: number;
  p99: number;
  overhead: number;
  direct: number;
  inTxn: number;
  concurrent: number;
}

async function suite(label: string, driver: Driver, slot: { transmit(d: Buffer, p: number): Promise<Buffer> }): Promise<Suite> {
  const core = new ResourceManager({ transmitTimeoutMs: 30000 });
  await core.addDriver(driver);
  const name = core.readers()[0].name;
  const ctx = core.establishContext('bench');
  const { handle, protocol } = await core.connect(ctx, name, SHARE.SHARED, PROTOCOL.ANY);
  const check = await core.transmit(handle, protocol, APDU);
  if (check.readUInt16BE(check.length - 2) !== 0x9000) throw new Error(`bench APDU failed: ${check.toString('hex')}`);
  console.log(`--- ${label}: ${N} x ${APDU.toString('hex').toUpperCase()}`);
  const direct = await measure('card alone (driver slot, no core)', () => slot.transmit(APDU, protocol));
  const viaCore = await measure('through the core', () => core.transmit(handle, protocol, APDU));
  await core.beginTransaction(handle);
  const inTxn = await measure('through the core, inside a transaction', () => core.transmit(handle, protocol, APDU));
  await core.endTransaction(handle, DISPOSITION.LEAVE);
  const conc = await concurrent(core, name, 8);
  await core.disconnect(handle, DISPOSITION.LEAVE);
  await core.releaseContext(ctx);
  await core.stop();
  const overhead = viaCore.mean - direct.mean;
  console.log(`core overhead per APDU: ${overhead.toFixed(2)} us (mean), ${(viaCore.p50 - direct.p50).toFixed(2)} us (p50)`);
  return { rate: viaCore.rate, p50: viaCore.p50, p99: viaCore.p99, overhead, direct: direct.rate, inTxn: inTxn.rate, concurrent: conc };
}

async function main(): Promise<void> {
  console.log(`core transmit benchmark, node ${process.version}`);
  const zero = new ZeroLatencyDriver();
  const z = await suite('zero-latency card', zero, zero.slot);
  const sim = new OneSimReader();
  const s = await suite('drivers/sim iso7816 card', sim, sim.reader.slot);
  const round = (x: number): number => Math.round(x * 100) / 100;
  const out = (figure: string, value: number, goal?: string): void =>
    console.log(JSON.stringify({ bench: 'core', figure, value: round(value), ...(goal ? { goal } : {}) }));
  out('transmit_apdu_per_s', z.rate, '>= 100000');
  out('transmit_p50_us', z.p50);
  out('transmit_p99_us', z.p99);
  out('core_overhead_us_per_apdu', z.overhead, '<= 10');
  out('transmit_in_transaction_apdu_per_s', z.inTxn);
  out('transmit_8_handles_apdu_per_s', z.concurrent);
  out('sim_card_transmit_apdu_per_s', s.rate);
  out('sim_card_transmit_p50_us', s.p50);
  out('sim_card_transmit_p99_us', s.p99);
  out('sim_card_alone_apdu_per_s', s.direct);
}

main().catch((e) => {
  console.error(e);
  process.exit(1);
});
