/**
 * bench-pcsc-floor: what one request/reply exchange on a Unix socket costs a
 * server that does nothing else, in C the way pcscd serves (a thread per
 * client, blocking read, write) and in Node the way scardgate's pcsc socket
 * does (src/net/socket-io.ts, the daemon's node flags and environment). Every
 * libpcsclite call is one such exchange (SCardStatus two: the reader states,
 * then the status), so the Node server's figure is the ceiling for any
 * pcscd-compatible daemon in Node, whatever its dispatch does.
 * Interleaved pairs (C then Node), unpinned and pinned (server and client on
 * CPU 0, as bench-pcsc's pinned runs); each pair's ratio (Node/C exchanges per
 * second) and the servers' CPU per exchange; one JSON object per line at the end.
 *
 *   make bench-pcsc-floor   (BENCH_FLOOR_PAIRS=5, BENCH_FLOOR_N=20000 exchanges per run,
 *                            BENCH_FLOOR_REQUEST=8 and BENCH_FLOOR_REPLY=160 bytes: a Status-sized exchange)
 */
import { execFile, execFileSync, spawn, type ChildProcess } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { createInterface } from 'node:readline';
import { fileURLToPath } from 'node:url';
import { promisify } from 'node:util';
import { DAEMON_ENV, NODE_FLAGS } from '../startup/spawn.js';
import { allCpus, cpuUs, pin } from './proc.js';

const execFileP = promisify(execFile);
const here = dirname(fileURLToPath(import.meta.url));
const PAIRS = Number(process.env.BENCH_FLOOR_PAIRS ?? 5);
const N = Number(process.env.BENCH_FLOOR_N ?? 20000);
const REQUEST = Number(process.env.BENCH_FLOOR_REQUEST ?? 8);
const REPLY = Number(process.env.BENCH_FLOOR_REPLY ?? 160);

const dir = mkdtempSync(join(tmpdir(), 'bench-floor-'));
process.once('exit', () => rmSync(dir, { recursive: true, force: true }));
const bin = join(dir, 'floor');
execFileSync('gcc', ['-O2', '-Wall', '-pthread', '-o', bin, join(here, 'floor.c')], { stdio: 'inherit' });
const bundle = join(dir, 'floor-server.mjs');
execFileSync('npx', ['esbuild', join(here, 'floor-server.ts'), '--bundle', '--platform=node', '--format=esm', '--target=node20', `--outfile=${bundle}`, '--log-level=warning'], {
  stdio: 'inherit',
});

interface Server {
  name: 'c' | 'node';
  path: string;
  proc: ChildProcess;
}

async function start(name: 'c' | 'node'): Promise<Server> {
  const path = join(dir, `${name}.sock`);
  const proc =
    name === 'c'
      ? spawn(bin, ['serve', path, String(REPLY)], { stdio: ['ignore', 'pipe', 'inherit'] })
      : spawn(process.execPath, [...NODE_FLAGS, bundle, path, String(REPLY)], { stdio: ['ignore', 'pipe', 'inherit'], env: { ...process.env, ...DAEMON_ENV } });
  await new Promise<void>((resolve, reject) => {
    createInterface({ input: proc.stdout! }).once('line', (l) => (l === 'ready' ? resolve() : reject(new Error(`${name}: ${l}`))));
    proc.once('exit', (c) => reject(new Error(`${name} server exited with ${c}`)));
  });
  return { name, path, proc };
}

const cpuTotalUs = (pid: number): number => {
  const c = cpuUs(pid);
  return c.user + c.sys;
};

async function run(s: Server, pinned: boolean): Promise<{ perS: number; p99: number; cpu: number }> {
  const args = ['ping', s.path, String(N), String(REQUEST), String(REPLY)];
  const c0 = cpuTotalUs(s.proc.pid!);
  const { stdout } = pinned ? await execFileP('taskset', ['-c', '0', bin, ...args]) : await execFileP(bin, args);
  const cpu = (cpuTotalUs(s.proc.pid!) - c0) / N;
  const r = JSON.parse(stdout.trim()) as { per_s: number; p99_us: number };
  return { perS: r.per_s, p99: r.p99_us, cpu };
}

const median = (xs: number[]): number => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)];

const servers = [await start('c'), await start('node')];
const results: Record<string, unknown>[] = [];
try {
  console.log('mode      pair  C/s     p99us  node/s  p99us  ratio  CPU us/exchange C  node');
  for (const mode of ['unpinned', 'pinned'] as const) {
    const pinned = mode === 'pinned';
    for (const s of servers) pin(s.proc.pid!, pinned ? '0' : allCpus());
    const ratios: number[] = [];
    const rows: { c: Awaited<ReturnType<typeof run>>; n: Awaited<ReturnType<typeof run>> }[] = [];
    for (let p = 1; p <= PAIRS; p++) {
      const c = await run(servers[0], pinned);
      const n = await run(servers[1], pinned);
      ratios.push(n.perS / c.perS);
      rows.push({ c, n });
      console.log(
        `${mode.padEnd(9)} ${String(p).padStart(4)} ${String(c.perS).padStart(7)} ${String(c.p99).padStart(6)} ${String(n.perS).padStart(7)} ${String(n.p99).padStart(6)}  ${(n.perS / c.perS).toFixed(3)}  ${c.cpu.toFixed(1).padStart(6)} ${n.cpu.toFixed(1).padStart(6)}`,
      );
    }
    const m = median(ratios);
    const row = {
      bench: 'pcsc-floor',
      mode,
      pairs: PAIRS,
      n: N,
      request_bytes: REQUEST,
      reply_bytes: REPLY,
      median_ratio: Math.round(m * 1000) / 1000,
      c_per_s: median(rows.map((r) => r.c.perS)),
      node_per_s: median(rows.map((r) => r.n.perS)),
      c_p99_us: median(rows.map((r) => r.c.p99)),
      node_p99_us: median(rows.map((r) => r.n.p99)),
      c_cpu_us: Math.round(median(rows.map((r) => r.c.cpu)) * 10) / 10,
      node_cpu_us: Math.round(median(rows.map((r) => r.n.cpu)) * 10) / 10,
    };
    console.log(`${mode}: median ratio node/C ${row.median_ratio} (C ${row.c_per_s}/s ${row.c_cpu_us} us CPU per exchange, node ${row.node_per_s}/s ${row.node_cpu_us} us)`);
    results.push(row);
  }
} finally {
  for (const s of servers) s.proc.kill('SIGTERM');
}
for (const r of results) console.log(JSON.stringify(r));
