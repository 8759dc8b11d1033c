/**
 * A CPU profile of the daemon (as bench-pcsc starts it, plus --cpu-prof) under
 * one call type of bench/pcsc's C client, and the top functions by self time.
 *
 *   npx tsx bench/pcsc/profile.ts KIND [N] [OUT_DIR]   (KIND: status, connect, establish, select, case4;
 *        BENCH_PCSC_PINNED=1 pins daemon, card and client to CPU 0 as bench-pcsc's pinned runs do)
 */
import { execFile, spawn } from 'node:child_process';
import { mkdirSync, readdirSync, readFileSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { promisify } from 'node:util';
import { build } from './build.js';
import { benchConfig, lean, startCompiled, tempDir, NODE_FLAGS } from '../startup/spawn.js';
import { freePorts } from '../../test/vpcd/ports.js';
import { startPcscd } from '../../test/pcsc/helpers/pcscd.js';
import { cpuUs, pin } from './proc.js';

const execFileP = promisify(execFile);
const READER = 'Virtual PCD 00 00';
const ARGS: Record<string, string[]> = {
  select: ['transmit', READER, '', '00A4040C07A0000000041010', '1'],
  case4: ['transmit', READER, '', '00A4040007A000000004101000', '1'],
  status: ['calls', 'status', READER, ''],
  connect: ['calls', 'connect', READER, ''],
  establish: ['calls', 'establish', READER, ''],
};
const [kind = 'status', nArg = '20000', outArg = 'bench/pcsc/profiles'] = process.argv.slice(2);
if (!ARGS[kind]) throw new Error(`no call type ${kind} (${Object.keys(ARGS).join(', ')})`);
const out = resolve(outArg);
mkdirSync(out, { recursive: true });
const pinned = process.env.BENCH_PCSC_PINNED === '1';

const bin = build();
if (process.env.BENCH_PCSC_DAEMON === 'pcscd') {
  // The reference's CPU per call, measured the same way (no profile).
  const port = await freePorts(2);
  const p = await startPcscd({ port });
  const card = spawn(bin, ['card', String(port)], { stdio: 'ignore' });
  try {
    await cpuPerCall(p.proc.pid!, card.pid!, p.env);
  } finally {
    card.kill('SIGKILL');
    await p.stop();
  }
  process.exit(0);
}
const port = await freePorts(1);
const t = tempDir('bench-pcsc-prof-');
const base = benchConfig(t.dir);
const config: Record<string, any> = { ...lean(base), pcsc: { ...base.pcsc, enabled: true } };
config.drivers = { ...config.drivers, sim: { ...config.drivers.sim, readers: [] }, vpcd: { ...config.drivers.vpcd, enabled: true, port, slots: 1 } };
const profiling = process.env.BENCH_PCSC_PROFILE !== '0';
// The daemon writes the profile when it exits (SIGTERM: its orderly stop).
if (profiling) NODE_FLAGS.push('--cpu-prof', `--cpu-prof-dir=${out}`, `--cpu-prof-name=${kind}${pinned ? '-pinned' : ''}-${Date.now()}.cpuprofile`);
const d = await startCompiled(t.dir, config, 'bundle');
const card = spawn(bin, ['card', String(port)], { stdio: 'ignore' });
const env = { ...process.env, PCSCLITE_CSOCK_NAME: config.pcsc.socket as string };
try {
  await cpuPerCall(d.proc.pid!, card.pid!, env);
} finally {
  card.kill('SIGKILL');
  await d.stop();
  t.remove();
}

async function cpuPerCall(daemon: number, cardPid: number, env: NodeJS.ProcessEnv): Promise<void> {
  for (let i = 0; ; i++) {
    try {
      await execFileP(bin, ['transmit', READER, '1', '00B0000000', '1'], { env });
      break;
    } catch {
      if (i > 100) throw new Error('the card never showed up');
      await new Promise((r) => setTimeout(r, 100));
    }
  }
  if (pinned) for (const pid of [daemon, cardPid]) pin(pid, '0');
  const args = ARGS[kind].map((a) => (a === '' ? nArg : a));
  // BENCH_PCSC_STRACE=1: the daemon's system calls during the run, counted (strace -c; slows every call down).
  const strace =
    process.env.BENCH_PCSC_STRACE === '1'
      ? spawn('strace', ['-c', '-f', '-p', String(daemon)], { stdio: ['ignore', 'inherit', 'inherit'] })
      : process.env.BENCH_PCSC_PERF
        ? // BENCH_PCSC_PERF=FILE: perf record of the daemon's threads during the run (perf report -i FILE)
          spawn('perf', ['record', '-q', '-F', '4999', '-g', '-o', process.env.BENCH_PCSC_PERF, '-p', String(daemon)], { stdio: ['ignore', 'inherit', 'inherit'] })
        : undefined;
  if (strace) await new Promise((r) => setTimeout(r, 1000));
  const cpu0 = cpuUs(daemon);
  const { stdout } = pinned ? await execFileP('taskset', ['-c', '0', bin, ...args], { env }) : await execFileP(bin, args, { env });
  const cpu = cpuUs(daemon);
  if (strace) {
    const gone = new Promise((r) => strace.once('exit', r));
    strace.kill('SIGINT');
    await gone;
  }
  console.log(stdout.trim());
  console.log(`daemon CPU per call: ${((cpu.user - cpu0.user) / Number(nArg)).toFixed(1)} us user + ${((cpu.sys - cpu0.sys) / Number(nArg)).toFixed(1)} us system`);
}

if (!profiling) process.exit(0);

interface Node {
  id: number;
  callFrame: { functionName: string; url: string; lineNumber: number };
  children?: number[];
}
const file = readdirSync(out)
  .filter((f) => f.startsWith(`${kind}${pinned ? '-pinned' : ''}-`))
  .sort()
  .pop()!;
const prof = JSON.parse(readFileSync(join(out, file), 'utf8')) as { nodes: Node[]; samples: number[]; timeDeltas: number[] };
const self = new Map<number, number>();
prof.samples.forEach((id, i) => self.set(id, (self.get(id) ?? 0) + (prof.timeDeltas[i] ?? 0)));
const byFn = new Map<string, number>();
let total = 0;
for (const n of prof.nodes) {
  const us = self.get(n.id) ?? 0;
  total += us;
  const f = n.callFrame;
  const key = `${f.functionName || '(anonymous)'} ${f.url.replace(/^.*\//, '')}:${f.lineNumber + 1}`;
  byFn.set(key, (byFn.get(key) ?? 0) + us);
}
const idle = [...byFn].filter(([k]) => k.startsWith('(idle)')).reduce((a, [, v]) => a + v, 0);
console.log(`${file}: ${(total / 1000).toFixed(0)} ms sampled, ${((total - idle) / 1000).toFixed(0)} ms busy`);
for (const [k, v] of [...byFn].filter(([k]) => !k.startsWith('(idle)')).sort((a, b) => b[1] - a[1]).slice(0, 25)) {
  console.log(`${((100 * v) / (total - idle || 1)).toFixed(1).padStart(5)} % of busy  ${(v / 1000).toFixed(1).padStart(7)} ms  ${k}`);
}
