/**
 * bench/pcsc: the same libpcsclite client (apdu-bench.c, built here) against
 * (a) Debian's pcscd + vsmartcard's vpcd and (b) scardgate + its vpcd driver,
 * each with its own fast vicc-side card, both daemons running side by side on
 * free ports. scardgate is the daemon as installed (its bundle, node flags and
 * environment: make bench-pcsc builds it).
 * After one cold run of each call type on each daemon (reported apart: a JIT warms up, pcscd does not),
 * every call type is measured in pairs, pcscd then scardgate (A B A B ...),
 * unpinned and pinned (daemon, card and client on CPU 0): each pair's ratio and
 * the median ratio per call type. Then RSS idle / after load / after 30 s idle,
 * card-insertion latency, and one JSON object per line.
 *
 *   make bench-pcsc   (BENCH_PCSC_PAIRS=5 pairs; BENCH_PCSC_N=5000 APDUs/calls per run;
 *                      BENCH_PCSC_KINDS=select,case4,clients4,status,connect,establish to pick;
 *                      BENCH_PCSC_WARMUP=0 no cold first run per call type before the pairs;
 *                      BENCH_PCSC_ROUNDS=20 insertions; BENCH_PCSC_IDLE_S=30; BENCH_PCSC_CARD=fast-vicc
 *                      for emulators/vicc's card in this process instead of the C one;
 *                      BENCH_PCSC_SERVER=core for the core + pcsc socket alone, bench/pcsc/serve-scardgate.ts;
 *                      BENCH_PCSC_BASELINE=<a copy of an earlier dist/bundle>/scardgated.js in pcscd's place,
 *                      BENCH_PCSC_BASELINE_NODE_FLAGS='...' the baseline's node flags instead of DAEMON_NODE_FLAGS, to
 *                      compare two sets of flags: BENCH_PCSC_BASELINE=dist/bundle/scardgated.js for the same build)
 */
import { execFile, spawn, type ChildProcess } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createInterface } from 'node:readline';
import { promisify } from 'node:util';
import { build, buildServer } from './build.js';
import { benchConfig, lean, startCompiled, tempDir, DAEMONS, DAEMON_ENV, NODE_FLAGS } from '../startup/spawn.js';
import { startPcscd } from '../../test/pcsc/helpers/pcscd.js';
import { freePorts } from '../../test/vpcd/ports.js';
import { FastVicc } from '../../emulators/vicc/fast-vicc.js';
import { allCpus, cpuUs, pin } from './proc.js';

const execFileP = promisify(execFile);
const N = Number(process.env.BENCH_PCSC_N ?? 5000);
const PAIRS = Number(process.env.BENCH_PCSC_PAIRS ?? 5);
const ROUNDS = Number(process.env.BENCH_PCSC_ROUNDS ?? 20);
const IDLE_S = Number(process.env.BENCH_PCSC_IDLE_S ?? 30);
const READER = 'Virtual PCD 00 00';
const CARD = process.env.BENCH_PCSC_CARD ?? 'c';
const SERVER = process.env.BENCH_PCSC_SERVER ?? 'daemon';
/** A copy of an earlier build's dist/bundle/scardgated.js: it takes pcscd's place (A), to compare two builds of scardgate. */
const BASELINE = process.env.BENCH_PCSC_BASELINE;

/** Call types: what the client runs. SELECT with no data back (case 3) and a case-4 SELECT returning FCI. */
const KINDS: Record<string, string[]> = {
  select: ['transmit', READER, '', '00A4040C07A0000000041010', '1'],
  case4: ['transmit', READER, '', '00A4040007A000000004101000', '1'],
  clients4: ['transmit', READER, '', '00A4040007A000000004101000', '4'],
  status: ['calls', 'status', READER, ''],
  connect: ['calls', 'connect', READER, ''],
  establish: ['calls', 'establish', READER, ''],
};
/** BENCH_PCSC_WARMUP=0: no cold runs before the pairs (they then include each daemon's warm-up). */
const WARMUP = process.env.BENCH_PCSC_WARMUP !== '0';
const KIND_NAMES = (process.env.BENCH_PCSC_KINDS ?? Object.keys(KINDS).join(',')).split(',');

interface Backend {
  name: string;
  env: NodeJS.ProcessEnv;
  pid: number;
  stop(): Promise<void>;
}

/**
 * scardgate as installed: the daemon's bundle with the daemon's node flags and
 * environment (the Makefile's DAEMON_NODE_FLAGS and DAEMON_ENV, through
 * bench/startup/spawn.ts), the lean set-up (control channel + pcsc socket;
 * MQTT and HTTP off), no simulated readers, the vpcd driver on `port`.
 */
async function startDaemon(port: number, bundle?: string): Promise<Backend> {
  const t = tempDir('bench-pcsc-');
  const base = benchConfig(t.dir);
  const config: Record<string, any> = { ...lean(base), pcsc: { ...base.pcsc, enabled: true } };
  config.drivers = { ...config.drivers, sim: { ...config.drivers.sim, readers: [] }, vpcd: { ...config.drivers.vpcd, enabled: true, port, slots: 1 } };
  // Another build of the daemon's bundle (BENCH_PCSC_BASELINE) runs through the same start-up as the tsc form's.
  if (bundle) (DAEMONS as Record<string, string>).tsc = bundle;
  const flags = [...NODE_FLAGS];
  if (bundle && process.env.BENCH_PCSC_BASELINE_NODE_FLAGS !== undefined) NODE_FLAGS.splice(0, NODE_FLAGS.length, ...process.env.BENCH_PCSC_BASELINE_NODE_FLAGS.split(/\s+/).filter(Boolean));
  const d = await startCompiled(t.dir, config, bundle ? 'tsc' : 'bundle').finally(() => NODE_FLAGS.splice(0, NODE_FLAGS.length, ...flags));
  return {
    name: bundle ? 'baseline' : 'scardgate',
    env: { ...process.env, PCSCLITE_CSOCK_NAME: config.pcsc.socket as string },
    pid: d.proc.pid!,
    async stop() {
      await d.stop();
      t.remove();
    },
  };
}

/** BENCH_PCSC_SERVER=core: the core, vpcd driver and pcsc socket alone (bench/pcsc/serve-scardgate.ts), same flags and environment. */
async function startCoreServer(port: number): Promise<Backend> {
  const dir = mkdtempSync(join(tmpdir(), 'bench-pcsc-'));
  const socket = join(dir, 'pcscd.comm');
  const proc: ChildProcess = spawn(process.execPath, [...NODE_FLAGS, buildServer(), socket, String(port)], {
    stdio: ['ignore', 'pipe', 'inherit'],
    env: { ...process.env, ...DAEMON_ENV },
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
  // pcscd runs under unshare + sh: the daemon is the exec'd process, same pid.
  return { name: 'pcscd', env: p.env, pid: p.proc.pid!, stop: () => p.stop() };
}

function rssMb(pid: number): number {
  const m = /VmRSS:\s+(\d+) kB/.exec(readFileSync(`/proc/${pid}/status`, 'utf8'));
  return m ? +(Number(m[1]) / 1024).toFixed(1) : NaN;
}

interface RunResult {
  rate: number;
  p50_us: number;
  p99_us: number;
  /** The daemon's own CPU time per call (every thread's), µs: what load from other processes disturbs least. */
  cpu_us: number;
}

/** The process's CPU time so far, user + system, µs. */
const cpuTotalUs = (pid: number): number => {
  const c = cpuUs(pid);
  return c.user + c.sys;
};

async function runOnce(bin: string, b: Backend, kind: string, cpu?: string): Promise<RunResult> {
  const args = KINDS[kind].map((a) => (a === '' ? String(N) : a));
  const env = b.env;
  const t0 = cpuTotalUs(b.pid);
  const { stdout } = cpu === undefined ? await execFileP(bin, args, { env }) : await execFileP('taskset', ['-c', cpu, bin, ...args], { env });
  const used = cpuTotalUs(b.pid) - t0;
  const r = JSON.parse(stdout.trim()) as { count: number; apdu_per_s?: number; calls_per_s?: number; p50_us: number; p99_us: number };
  return { rate: r.apdu_per_s ?? r.calls_per_s ?? 0, p50_us: r.p50_us, p99_us: r.p99_us, cpu_us: +(used / r.count).toFixed(1) };
}

const median = (xs: number[]): number => {
  const s = [...xs].sort((a, b) => a - b);
  return s.length % 2 ? s[(s.length - 1) / 2] : (s[s.length / 2 - 1] + s[s.length / 2]) / 2;
};

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
      await execFileP(bin, ['transmit', READER, '1', '00B0000000', '1'], { env });
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
  const backends: Backend[] = [];
  const cards: Card[] = [];
  const lines: Record<string, unknown>[] = [];
  try {
    for (const name of ['pcscd', 'scardgate'] as const) {
      // Free loopback ports (vsmartcard's vpcd also takes port+1 for its second slot): two runs never collide.
      const port = await freePorts(name === 'pcscd' ? 2 : 1);
      const backend =
        name === 'pcscd'
          ? BASELINE
            ? await startDaemon(port, BASELINE)
            : await startReference(port)
          : SERVER === 'core'
            ? await startCoreServer(port)
            : await startDaemon(port);
      backends.push(backend);
      const card: Card = CARD === 'fast-vicc' ? new ViccCard(port) : new FastCard(bin, port);
      cards.push(card);
      await card.connect();
      await waitPresent(bin, backend.env);
      progress(`${name}: card present`);
    }
    const rssIdle = backends.map((b) => rssMb(b.pid));
    progress(`idle RSS: pcscd ${rssIdle[0]} MB, scardgate ${rssIdle[1]} MB`);
    if (WARMUP) {
      // One run per call type on each daemon first, unpinned: a JIT warms up and pcscd does not, so the pairs below
      // measure both in their steady state; these first runs are the cold figures, printed apart.
      console.log('cold (first run of each call type after start, unpinned, not in the medians):');
      for (const kind of KIND_NAMES) {
        if (!KINDS[kind]) continue;
        const a = await runOnce(bin, backends[0], kind, undefined);
        const b = await runOnce(bin, backends[1], kind, undefined);
        const l = { bench: 'pcsc', phase: 'cold', kind, n: N, ratio: +(b.rate / a.rate).toFixed(3), pcscd_per_s: a.rate, scardgate_per_s: b.rate, pcscd_cpu_us: a.cpu_us, scardgate_cpu_us: b.cpu_us };
        console.log(`  ${kind.padEnd(9)} pcscd ${a.rate}/s, scardgate ${b.rate}/s: ratio ${l.ratio} (CPU us/call ${a.cpu_us} / ${b.cpu_us})`);
        lines.push(l);
      }
    }
    console.log('kind      mode      pair  pcscd/s   p99us  scardgate/s  p99us  ratio  CPU us/call pcscd scardgate');
    for (const mode of ['unpinned', 'pinned'] as const) {
      const cpu = mode === 'pinned' ? '0' : undefined;
      const pinAll = (c: string): void => {
        for (const b of backends) pin(b.pid, c);
        for (const k of cards) if (k.pid !== undefined && k.pid !== process.pid) pin(k.pid, c);
      };
      if (cpu !== undefined) pinAll(cpu);
      try {
        for (const kind of KIND_NAMES) {
          if (!KINDS[kind]) throw new Error(`BENCH_PCSC_KINDS: no call type ${kind} (${Object.keys(KINDS).join(', ')})`);
          const ratios: number[] = [];
          const runs: RunResult[][] = [[], []];
          for (let pair = 0; pair < PAIRS; pair++) {
            const a = await runOnce(bin, backends[0], kind, cpu);
            const b = await runOnce(bin, backends[1], kind, cpu);
            runs[0].push(a);
            runs[1].push(b);
            const ratio = b.rate / a.rate;
            ratios.push(ratio);
            console.log(
              `${kind.padEnd(9)} ${mode.padEnd(9)} ${String(pair + 1).padStart(4)} ${String(a.rate).padStart(8)} ${String(a.p99_us).padStart(7)} ${String(b.rate).padStart(12)} ${String(b.p99_us).padStart(6)}  ${ratio.toFixed(3)}  ${String(a.cpu_us).padStart(6)} ${String(b.cpu_us).padStart(6)}`,
            );
          }
          const line = {
            bench: 'pcsc',
            kind,
            mode,
            pairs: PAIRS,
            n: N,
            median_ratio: +median(ratios).toFixed(3),
            pcscd_per_s: median(runs[0].map((r) => r.rate)),
            scardgate_per_s: median(runs[1].map((r) => r.rate)),
            pcscd_p50_us: median(runs[0].map((r) => r.p50_us)),
            scardgate_p50_us: median(runs[1].map((r) => r.p50_us)),
            pcscd_p99_us: median(runs[0].map((r) => r.p99_us)),
            scardgate_p99_us: median(runs[1].map((r) => r.p99_us)),
            pcscd_cpu_us: median(runs[0].map((r) => r.cpu_us)),
            scardgate_cpu_us: median(runs[1].map((r) => r.cpu_us)),
          };
          console.log(
            `${kind} ${mode}: median ratio ${line.median_ratio} (pcscd ${line.pcscd_per_s}/s p99 ${line.pcscd_p99_us} us CPU ${line.pcscd_cpu_us} us/call, scardgate ${line.scardgate_per_s}/s p99 ${line.scardgate_p99_us} us CPU ${line.scardgate_cpu_us} us/call)`,
          );
          lines.push(line);
        }
      } finally {
        if (cpu !== undefined) pinAll(cpus);
      }
    }
    const rssLoad = backends.map((b) => rssMb(b.pid));
    progress(`after load RSS: pcscd ${rssLoad[0]} MB, scardgate ${rssLoad[1]} MB; idling ${IDLE_S} s`);
    await new Promise((r) => setTimeout(r, IDLE_S * 1000));
    const rssRest = backends.map((b) => rssMb(b.pid));
    console.log(`RSS MB idle / after load / after ${IDLE_S} s idle: pcscd ${rssIdle[0]} / ${rssLoad[0]} / ${rssRest[0]}, scardgate ${rssIdle[1]} / ${rssLoad[1]} / ${rssRest[1]}`);
    backends.forEach((b, i) => lines.push({ bench: 'pcsc', daemon: b.name, rss_idle_mb: rssIdle[i], rss_after_load_mb: rssLoad[i], rss_after_idle_mb: rssRest[i], idle_s: IDLE_S }));
    for (let i = 0; i < backends.length && ROUNDS > 0; i++) {
      const insert = await insertionLatency(bin, backends[i].env, cards[i]);
      const l = { bench: 'pcsc', daemon: backends[i].name, mode: 'insertion', rounds: ROUNDS, p50_ms: pct(insert, 0.5) / 1000, p99_ms: pct(insert, 0.99) / 1000, max_ms: Math.max(...insert) / 1000 };
      console.log(`${l.daemon}: insertion p50 ${l.p50_ms.toFixed(2)} ms p99 ${l.p99_ms.toFixed(2)} ms`);
      lines.push(l);
    }
  } finally {
    for (const c of cards) await c.stop();
    for (const b of backends) await b.stop();
  }
  for (const l of lines) console.log(JSON.stringify(l));
}

await main();
