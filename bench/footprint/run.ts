/**
 * Footprint of the idle daemon with 4 simulated readers: RSS (goals: whole
 * gateway <= 60 MB, lean <= 50 MB) and CPU over 30 s idle (goal < 0.5 %), both from /proc/<pid>, measured
 * after a settle period (start-up garbage collection is not idle work).
 * Figures for the bundle on the embedded default with the daemon's node flags
 * (what make run and the installed wrapper start: the headline), and for the
 * tsc output and the lean set-up (control + pcsc only) to show where memory goes.
 */
import { readFileSync, readdirSync } from 'node:fs';
import { NODE_FLAGS, benchConfig, lean, startCompiled, tempDir, type DaemonForm } from '../startup/spawn.js';

const IDLE_S = Number(process.env.IDLE_S ?? 30);
const SETTLE_S = Number(process.env.SETTLE_S ?? 15);
/**
 * Nanoseconds on a CPU, all threads (/proc/<pid>/task/<tid>/schedstat, first field): exact, where the utime and
 * stime ticks of /proc/<pid>/stat are sampled at the clock tick and overcount a process that wakes briefly.
 */
function cpuNs(pid: number): number {
  let ns = 0;
  for (const tid of readdirSync(`/proc/${pid}/task`)) {
    try {
      ns += Number(readFileSync(`/proc/${pid}/task/${tid}/schedstat`, 'utf8').split(' ')[0]);
    } catch {
      // a thread that ended between the listing and the read
    }
  }
  return ns;
}

function rssMb(pid: number): number {
  const m = /VmRSS:\s+(\d+) kB/.exec(readFileSync(`/proc/${pid}/status`, 'utf8'));
  return m ? Number(m[1]) / 1024 : NaN;
}

const sleep = (s: number): Promise<void> => new Promise((r) => setTimeout(r, s * 1000));
const r1 = (x: number): number => Math.round(x * 10) / 10;

/** RSS after settling, max over the idle window, CPU % over it. */
async function measure(form: DaemonForm, setup: 'default' | 'lean', idleS: number): Promise<{ rss: number; rssMax: number; cpu: number; readers: number }> {
  const t = tempDir('scardgate-bench-footprint-');
  try {
    const base = benchConfig(t.dir);
    const d = await startCompiled(t.dir, setup === 'lean' ? lean(base) : base, form);
    const pid = d.proc.pid!;
    await sleep(SETTLE_S);
    const c0 = cpuNs(pid);
    const w0 = performance.now();
    let rssMax = rssMb(pid);
    for (let i = 0; i < idleS; i++) {
      await sleep(1);
      rssMax = Math.max(rssMax, rssMb(pid));
    }
    const c1 = cpuNs(pid);
    const wall = (performance.now() - w0) / 1000;
    const rss = rssMb(pid);
    const cpu = ((c1 - c0) / 1e9 / wall) * 100;
    const code = await d.stop();
    if (code !== 0) throw new Error(`daemon exited ${code} on SIGTERM`);
    process.stdout.write(`${form}/${setup}: RSS ${r1(rss)} MB (max ${r1(rssMax)}), ${Math.round((c1 - c0) / 1e6)} ms on a CPU in ${wall.toFixed(1)} s idle = ${cpu.toFixed(3)} %\n`);
    return { rss: r1(rss), rssMax: r1(rssMax), cpu: Math.round(cpu * 1000) / 1000, readers: Number(d.ready.readers) };
  } finally {
    t.remove();
  }
}

const GOAL_WHOLE_MB = 60;
const GOAL_LEAN_MB = 50;
const main = await measure('bundle', 'default', IDLE_S);
const bundleLean = await measure('bundle', 'lean', 5);
const tsc = await measure('tsc', 'default', 5);
const tscLean = await measure('tsc', 'lean', 5);
process.stdout.write(
  `${JSON.stringify({
    bench: 'footprint',
    readers: main.readers,
    node_flags: NODE_FLAGS.join(' '),
    rss_mb: main.rss,
    rss_max_mb: main.rssMax,
    cpu_idle_percent: main.cpu,
    idle_s: IDLE_S,
    lean_rss_mb: bundleLean.rss,
    tsc_rss_mb: tsc.rss,
    tsc_lean_rss_mb: tscLean.rss,
    // #12's goals: the whole gateway under 60 MB idle, the lean daemon (control + pcsc) under 50.
    goal_rss_mb: GOAL_WHOLE_MB,
    goal_lean_rss_mb: GOAL_LEAN_MB,
    goal_cpu_percent: 0.5,
    pass: main.rssMax <= GOAL_WHOLE_MB && bundleLean.rssMax <= GOAL_LEAN_MB && main.cpu < 0.5,
  })}\n`,
);
