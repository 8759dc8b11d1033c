/**
 * OSDP benchmark (make bench-osdp).
 *
 * - Card tap -> osdp_RAW at the panel: a card put on a simulated reader of the
 *   gateway (real core, sim driver, the OSDP PD frontend) until the emulated
 *   panel (CP, 50 ms poll interval, Secure Channel on) has the osdp_RAW. The
 *   line is an in-memory pair that delivers each packet after its wire time at
 *   the baud rate (10 bit times a byte), so 9600 and 115200 differ as on RS-485.
 *   Bound: wire time of the POLL and of the RAW reply plus one poll interval
 *   (the tap can land just after a poll).
 * - Polls per second sustained by one PD with Secure Channel on, the CP polling
 *   back to back: on the paced line at 115200 (bound: 1 / wire time of a secure
 *   POLL + ACK) and on an unpaced line (CPU-bound: MAC work, both ends in this process).
 *
 * Ends with one JSON object per line.
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { availableParallelism, loadavg, tmpdir } from 'node:os';
import { join } from 'node:path';
import pino from 'pino';
import { startTestGateway } from '../../test/helpers/gateway.js';
import { OsdpService, coreReaderOps } from '../../src/api/osdp/index.js';
import { OsdpConfig } from '../../src/api/osdp/config.js';
import { memoryLinkPair, memorySerialPort } from '../../src/osdp/link.js';
import { EmulatedCp } from '../../emulators/osdp/cp.js';
import { EmulatedPd } from '../../emulators/osdp/pd.js';
import { encodePacket } from '../../src/osdp/packet.js';
import { CMD, REPLY, SCS } from '../../src/osdp/codes.js';
import { Value } from '@sinclair/typebox/value';
import type { Static } from '@sinclair/typebox';

const KEY = Buffer.from('00112233445566778899aabbccddeeff', 'hex');
const POLL_MS = 50;
const TAPS = Number(process.env.OSDP_BENCH_TAPS ?? 30);
const figures: Record<string, unknown>[] = [];
const now = (): number => performance.now();
const sleep = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms));
const r3 = (x: number): number => Math.round(x * 1000) / 1000;

function stats(xs: number[]): Record<string, number> {
  const s = [...xs].sort((a, b) => a - b);
  const q = (p: number): number => s[Math.min(s.length - 1, Math.floor(p * s.length))];
  return { n: s.length, p50: r3(q(0.5)), p95: r3(q(0.95)), min: r3(s[0]), max: r3(s[s.length - 1]), mean: r3(s.reduce((a, b) => a + b, 0) / s.length) };
}

const wireMs = (bytes: number, baud: number): number => (bytes * 10 * 1000) / baud;

/** Sizes of the secure packets involved (the MAC and padding make them longer than the plain ones). */
function secureBytes(code: number, dataLen: number, reply: boolean): number {
  const encLen = dataLen ? (Math.floor(dataLen / 16) + 1) * 16 : 0;
  return encodePacket(
    { address: 1, reply, sqn: 1, crc: true, code, data: Buffer.alloc(encLen), scb: { type: reply ? (dataLen ? SCS.S18 : SCS.S16) : dataLen ? SCS.S17 : SCS.S15, data: Buffer.alloc(0) } },
    () => Buffer.alloc(4),
  ).length;
}

async function waitFor(cond: () => boolean, what: string, ms = 20000): Promise<void> {
  const end = Date.now() + ms;
  while (!cond()) {
    if (Date.now() > end) throw new Error(`timed out waiting for ${what}`);
    await sleep(1);
  }
}

async function tapLatency(baud: number): Promise<void> {
  const gw = await startTestGateway({ logLevel: 'silent', config: { drivers: { sim: { readers: [{ name: 'Door' }] } }, events: { debounceMs: 0 } } });
  const dir = mkdtempSync(join(tmpdir(), 'osdp-bench-'));
  const [cpEnd, pdEnd] = memoryLinkPair({ baudRate: baud, pace: true });
  const cfg = Value.Default(OsdpConfig, {
    enabled: true,
    path: 'memory',
    baudRate: baud,
    pds: [{ address: 1, reader: 'Door', format: 'wiegand26', scbk: KEY.toString('hex') }],
  }) as Static<typeof OsdpConfig>;
  const svc = new OsdpService(cfg, dir, pino({ level: 'silent' }), coreReaderOps(gw.core), { serialPort: () => memorySerialPort(pdEnd) });
  await svc.start();
  const cp = new EmulatedCp(cpEnd, { pds: [{ address: 1, secure: true, scbk: KEY }], pollIntervalMs: POLL_MS, offlineAfterMs: 8000 });
  cp.start();
  await waitFor(() => cp.bus.isOnline(1), 'PD online');
  const reader = gw.core.readers()[0].name;
  const lat: number[] = [];
  for (let i = 0; i < TAPS; i++) {
    await sleep(Math.random() * POLL_MS);
    const before = cp.cards.length;
    const t0 = now();
    await gw.core.simulateInsert(reader, { type: 'mifare-classic-1k', uid: `04${(0xa1b2c3 + i).toString(16).padStart(6, '0')}` });
    await waitFor(() => cp.cards.length > before, 'osdp_RAW at the CP');
    lat.push(now() - t0);
    await gw.core.simulateRemove(reader);
  }
  const pollBytes = secureBytes(CMD.POLL, 0, false);
  const rawBytes = secureBytes(REPLY.RAW, 8, true);
  const bound = wireMs(pollBytes + rawBytes, baud) + POLL_MS;
  figures.push({
    figure: 'osdp_tap_to_raw_ms',
    baud,
    pollIntervalMs: POLL_MS,
    secure: true,
    ...stats(lat),
    wireBoundMs: r3(bound),
    wirePollRawMs: r3(wireMs(pollBytes + rawBytes, baud)),
    pollBytes,
    rawBytes,
  });
  await cp.stop();
  await svc.stop();
  await gw.stop();
  rmSync(dir, { recursive: true, force: true });
}

async function pollRate(paced: boolean): Promise<void> {
  const baud = 115200;
  const [a, b] = memoryLinkPair({ baudRate: paced ? baud : 1e9, pace: paced });
  const pd = new EmulatedPd(b, { scbk: KEY, installMode: false });
  const cp = new EmulatedCp(a, { pds: [{ address: 1, secure: true, scbk: KEY }], pollIntervalMs: 0, offlineAfterMs: 8000, replyTimeoutMs: 200 });
  cp.start();
  await waitFor(() => cp.bus.isOnline(1), 'PD online');
  const polls = (): number => (cp.bus.diagnostics().pds as Array<{ polls: number }>)[0].polls;
  const p0 = polls();
  const t0 = now();
  await sleep(3000);
  const n = polls() - p0;
  const secs = (now() - t0) / 1000;
  const exch = secureBytes(CMD.POLL, 0, false) + secureBytes(REPLY.ACK, 0, true);
  figures.push({
    figure: 'osdp_secure_polls_per_s',
    line: paced ? `paced ${baud} baud` : 'unpaced (CPU-bound)',
    pollsPerS: Math.round(n / secs),
    ...(paced ? { wireBoundPerS: Math.round(1000 / wireMs(exch, baud)), bytesPerExchange: exch } : {}),
    sessions: pd.engine.counters.sessions,
  });
  await cp.stop();
}

async function main(): Promise<void> {
  for (const baud of [9600, 115200]) await tapLatency(baud);
  await pollRate(true);
  await pollRate(false);
  process.stdout.write(`# load average ${loadavg().map((x) => x.toFixed(2)).join(' ')} on ${availableParallelism()} cores (machine shared with other engineers' runs)\n`);
  for (const f of figures) process.stdout.write(`${JSON.stringify({ ...f, loadavg1: r3(loadavg()[0]) })}\n`);
  process.exit(0);
}

main().catch((e: Error) => {
  process.stderr.write(`bench-osdp: ${e.stack ?? e.message}\n`);
  process.exit(1);
});
