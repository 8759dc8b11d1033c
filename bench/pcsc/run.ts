/**
 * bench/pcsc: the same libpcsclite client (apdu-bench.c, built here) against
 * (a) Debian's pcscd + vsmartcard's vpcd and (b) scardgate + its vpcd driver,
 * both with the same fast vicc-side card. Throughput and latency unpinned and
 * pinned to one CPU, 4 concurrent clients on one reader, and card-insertion
 * detection latency. Ends with one JSON object per line.
 *
 *   make bench-pcsc            (N=20000 APDUs per run, 50 insertions; BENCH_PCSC_N, BENCH_PCSC_ROUNDS to change;
 *                               BENCH_PCSC_CARD=fast-vicc for emulators/vicc's card instead of the C one;
 *                               each throughput figure is the median of BENCH_PCSC_RUNS=3 runs)
 */
import { execFile, execFileSync, spawn, type ChildProcess } from 'node:child_process';
import { mkdirSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { createInterface } from 'node:readline';
import { promisify } from 'node:util';
import { startPcscd } from '../../test/pcsc/helpers/pcscd.js';
import { FastVicc } from '../../emulators/vicc/fast-vicc.js';

const execFileP = promisify(execFile);
const here = dirname(fileURLToPath(import.meta.url));
const N = Number(process.env.BENCH_PCSC_N ?? 20000);
const ROUNDS = Number(process.env.BENCH_PCSC_ROUNDS ?? 50);
const READER = 'Virtual PCD 00 00';
const APDU = '00B0000000';
const CARD = process.env.BENCH_PCSC_CARD ?? 'c';
const RUNS = Number(process.env.BENCH_PCSC_RUNS ?? 3);
const PORTS = { pcscd: 42100, scardgate: 42200 };

interface Backend {
  name: 'pcscd' | 'scardgate';
  env: NodeJS.ProcessEnv;
  pid: number;
  stop(): Promise<void>;
}

const BUILD = join(here, 'build');
/** scardgate as the daemon ships it: one esbuild bundle run by plain node (no TypeScript loader). */
const SERVER_BUNDLE = join(BUILD, 'serve-scardgate.mjs');

function build(): string {
  mkdirSync(BUILD, { recursive: true });
  const bin = join(BUILD, 'apdu-bench');
  const flags = execFileSync('pkg-config', ['--cflags', '--libs', 'libpcsclite'], { encoding: 'utf8' }).trim().split(/\s+/);
  execFileSync('gcc', ['-O2', '-Wall', '-o', bin, join(here, 'apdu-bench.c'), ...flags], { stdio: 'inherit' });
  const external = ['serialport', 'usb', 'i2c-bus', 'onoff', 'epoll'].map((e) => `--external:${e}`);
  execFileSync(
    'npx',
    ['esbuild', join(here, 'serve-scardgate.ts'), '--bundle', '--platform=node', '--format=esm', '--target=node20', `--outfile=${SERVER_BUNDLE}`,
      '--log-level=warning', ...external, "--banner:js=import { createRequire as __r } from 'node:module'; const require = __r(import.meta.url);"],
    { stdio: 'inherit' },
  );
  return bin;
}

async function startScardgate(port: number): Promise<Backend> {
  const dir = mkdtempSync(join(tmpdir(), 'bench-pcsc-'));
  const socket = join(dir, 'pcscd.comm');
  const proc: ChildProcess = spawn(process.execPath, [SERVER_BUNDLE, socket, String(port)], {
    stdio: ['ignore', 'pipe', 'inherit'],
  });
  await new Promise<void>((resolve, reject) => {
    const rl = createInterface({ input: proc.stdout! });
    rl.once('line', (l) => (l === 'ready' ? resolve() : reject(new Error(`scardgate: ${l}`))));
    proc.once('exit', (c) => reject(new Error(`scardgate exited with ${c}`)));
  });
  return {
    name: 'scardgate',
    env: { ...process.env, PCSCLITE_CSOCK_NAME: socket },
    pid: proc.pid!,
    async stop() {
      const gone = new Promise((r) => proc.once('exit', r));
      proc.kill('SIGTERM');
      await gone;
      rmSync(dir, { recursive: true, force: true });
    },
  };
}

async function startReference(port: number): Promise<Backend> {
  const p = await startPcscd({ port });
  return { name: 'pcscd', env: p.env, pid: p.proc.pid!, stop: () => p.stop() };
}

/** Pins every thread of a process (pcscd has one per client and reader; node has its pool). */
function pin(pid: number, cpus: string): void {
  execFileSync('taskset', ['-a', '-p', '-c', cpus, String(pid)], { stdio: 'ignore' });
}

function allCpus(): string {
  return execFileSync('nproc', ['--all'], { encoding: 'utf8' }).trim() === '1' ? '0' : `0-${Number(execFileSync('nproc', ['--all'], { encoding: 'utf8' })) - 1}`;
}

interface TransmitResult {
  count: number;
  clients: number;
  seconds: number;
  apdu_per_s: number;
  p50_us: number;
  p99_us: number;
}

// The card may run in this process: clients must never be run synchronously.
async function transmitOnce(bin: string, env: NodeJS.ProcessEnv, clients: number, cpu?: string): Promise<TransmitResult> {
  const args = ['transmit', READER, String(N), APDU, String(clients)];
  const { stdout } = cpu === undefined ? await execFileP(bin, args, { env }) : await execFileP('taskset', ['-c', cpu, bin, ...args], { env });
  return JSON.parse(stdout.trim()) as TransmitResult;
}

/**
 * RUNS runs, the one with the median throughput: on a shared machine one run
 * can lose its CPU to other tenants; both daemons get the same treatment.
 */
async function transmit(bin: string, env: NodeJS.ProcessEnv, clients: number, cpu?: string): Promise<TransmitResult> {
  const runs: TransmitResult[] = [];
  for (let i = 0; i < RUNS; i++) runs.push(await transmitOnce(bin, env, clients, cpu));
  runs.sort((a, b) => a.apdu_per_s - b.apdu_per_s);
  return runs[Math.floor(runs.length / 2)];
}

interface Card {
  /** Inserts the card; resolves with the CLOCK_MONOTONIC instant (ns) just before its TCP connect. */
  connect(): Promise<bigint>;
  disconnect(): Promise<void>;
  /** Process serving the card (pinned with the daemon). */
  readonly pid: number | undefined;
  stop(): Promise<void>;
}

/**
 * emulators/vicc/fast-vicc's card, in this process (BENCH_PCSC_CARD=fast-vicc).
 * Node cannot set TCP_QUICKACK: behind vsmartcard's vpcd, which writes the
 * length and the payload separately with Nagle on, every APDU then waits for
 * a delayed ACK (~20 APDU/s), so the default is the C card below.
 */
class ViccCard implements Card {
  private card: FastVicc | null = null;
  constructor(private readonly port: number) {}
  async connect(): Promise<bigint> {
    const t0 = process.hrtime.bigint();
    this.card = await FastVicc.connect({ port: this.port });
    return t0;
  }
  async disconnect(): Promise<void> {
    const c = this.card;
    this.card = null;
    await c?.close();
  }
  get pid(): number {
    return process.pid;
  }
  stop(): Promise<void> {
    return this.disconnect();
  }
}

/** The fast card (apdu-bench card): a process; running = inserted. */
class FastCard implements Card {
  private proc: ChildProcess | null = null;
  constructor(
    private readonly bin: string,
    private readonly port: number,
  ) {}

  /** Inserts the card; resolves with the CLOCK_MONOTONIC instant (ns) just before its TCP connect. */
  async connect(): Promise<bigint> {
    const proc = spawn(this.bin, ['card', String(this.port)], { stdio: ['ignore', 'pipe', 'inherit'] });
    this.proc = proc;
    const lines = createInterface({ input: proc.stdout! })[Symbol.asyncIterator]();
    const first = await lines.next();
    const m = /^connecting (\d+)$/.exec(String(first.value));
    if (!m) throw new Error(`fast card: ${String(first.value)}`);
    const second = await lines.next();
    if (second.value !== 'connected') throw new Error(`fast card on port ${this.port} did not connect`);
    return BigInt(m[1]);
  }

  async disconnect(): Promise<void> {
    const p = this.proc;
    this.proc = null;
    if (!p || p.exitCode !== null) return;
    const gone = new Promise((r) => p.once('exit', r));
    p.kill('SIGKILL');
    await gone;
  }

  get pid(): number | undefined {
    return this.proc?.pid;
  }

  stop(): Promise<void> {
    return this.disconnect();
  }
}

/** Card connects (TCP) -> SCardGetStatusChange returns, ROUNDS times. Microseconds. */
async function insertionLatency(bin: string, env: NodeJS.ProcessEnv, card: Card): Promise<number[]> {
  await card.disconnect();
  const proc = spawn(bin, ['insert', READER, String(ROUNDS)], { env, stdio: ['ignore', 'pipe', 'inherit'] });
  const exited = new Promise((r) => proc.once('exit', r));
  const lines = createInterface({ input: proc.stdout! })[Symbol.asyncIterator]();
  const out: number[] = [];
  for (let i = 0; i < ROUNDS; i++) {
    const ready = await lines.next();
    if (ready.done || ready.value !== 'ready') throw new Error(`apdu-bench insert: ${String(ready.value)}`);
    // Let the client enter its wait; a random extra delay samples every phase of a polling daemon's cycle.
    await new Promise((r) => setTimeout(r, 50 + Math.random() * 400));
    const t0 = await card.connect();
    const ins = await lines.next();
    const m = /^inserted (\d+)$/.exec(String(ins.value));
    if (!m) throw new Error(`apdu-bench insert: ${String(ins.value)}`);
    out.push(Number(BigInt(m[1]) - t0) / 1000);
    await card.disconnect();
  }
  await exited;
  return out;
}

const progress = (msg: string): void => void process.stderr.write(`bench-pcsc: ${msg}\n`);

const pct = (xs: number[], p: number): number => {
  const s = [...xs].sort((a, b) => a - b);
  return s[Math.min(s.length - 1, Math.floor(s.length * p))];
};

async function waitPresent(bin: string, env: NodeJS.ProcessEnv): Promise<void> {
  // A one-APDU run connects only once the daemon shows the card (it fails fast otherwise): retry.
  for (let i = 0; i < 100; i++) {
    try {
      await execFileP(bin, ['transmit', READER, '1', APDU, '1'], { env });
      return;
    } catch {
      await new Promise((r) => setTimeout(r, 100));
    }
  }
  throw new Error('the card never showed up');
}

async function main(): Promise<void> {
  const bin = build();
  const cpus = allCpus();
  const results: Record<string, Record<string, unknown>> = {};
  for (const name of ['pcscd', 'scardgate'] as const) {
    const port = PORTS[name];
    const backend = name === 'pcscd' ? await startReference(port) : await startScardgate(port);
    const card: Card = CARD === 'fast-vicc' ? new ViccCard(port) : new FastCard(bin, port);
    try {
      await card.connect();
      await waitPresent(bin, backend.env);
      progress(`${name}: card present`);
      const unpinned = await transmit(bin, backend.env, 1);
      // Pinned: daemon, card and client share CPU 0.
      pin(backend.pid, '0');
      pin(card.pid!, '0');
      const pinned = await transmit(bin, backend.env, 1, '0');
      pin(backend.pid, cpus);
      pin(card.pid!, cpus);
      progress(`${name}: pinned done`);
      const concurrent = await transmit(bin, backend.env, 4);
      progress(`${name}: 4 clients done`);
      const insert = await insertionLatency(bin, backend.env, card);
      results[name] = {
        unpinned,
        pinned,
        concurrent,
        insert_p50_ms: pct(insert, 0.5) / 1000,
        insert_p90_ms: pct(insert, 0.9) / 1000,
        insert_p99_ms: pct(insert, 0.99) / 1000,
        insert_max_ms: Math.max(...insert) / 1000,
      };
      console.log(`${name}: unpinned ${unpinned.apdu_per_s}/s p50 ${unpinned.p50_us} us p99 ${unpinned.p99_us} us; pinned ${pinned.apdu_per_s}/s p50 ${pinned.p50_us} us p99 ${pinned.p99_us} us; 4 clients ${concurrent.apdu_per_s}/s p99 ${concurrent.p99_us} us; insertion p50 ${(pct(insert, 0.5) / 1000).toFixed(2)} ms p99 ${(pct(insert, 0.99) / 1000).toFixed(2)} ms`);
    } finally {
      await card.stop();
      await backend.stop();
    }
  }
  const p = results.pcscd as Record<string, TransmitResult & number>;
  const s = results.scardgate as Record<string, TransmitResult & number>;
  const lines: Record<string, unknown>[] = [];
  for (const daemon of ['pcscd', 'scardgate'] as const) {
    const r = results[daemon] as Record<string, TransmitResult>;
    for (const mode of ['unpinned', 'pinned', 'concurrent'] as const) {
      lines.push({ bench: 'pcsc', daemon, mode, card: CARD, clients: r[mode].clients, apdu: N, apdu_per_s: r[mode].apdu_per_s, p50_us: r[mode].p50_us, p99_us: r[mode].p99_us });
    }
    const r2 = results[daemon];
    lines.push({ bench: 'pcsc', daemon, mode: 'insertion', rounds: ROUNDS, p50_ms: r2.insert_p50_ms, p90_ms: r2.insert_p90_ms, p99_ms: r2.insert_p99_ms, max_ms: r2.insert_max_ms });
  }
  for (const mode of ['unpinned', 'pinned', 'concurrent'] as const) {
    lines.push({
      bench: 'pcsc',
      ratio: `scardgate/pcscd ${mode}`,
      throughput_ratio: +(s[mode].apdu_per_s / p[mode].apdu_per_s).toFixed(3),
      p99_ratio: +(s[mode].p99_us / p[mode].p99_us).toFixed(3),
    });
  }
  for (const l of lines) console.log(JSON.stringify(l));
}

await main();
