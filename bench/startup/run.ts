/**
 * Start-up: process start to the "ready" line, 4 simulated readers. Goal <= 300 ms.
 * Several runs each (p50 and max) of:
 *  - bundle / tsc: the daemon as esbuild bundles it (dist/bundle: what make run and the installed wrapper
 *    start, the headline) and as tsc emits it (dist/src/bin), both with the daemon's node flags;
 *  - default / lean: the embedded default with every frontend (pcsc, MQTT with the built-in broker,
 *    HTTP + web UI), or only the control channel and the pcsc socket (shows the frontends' share).
 * The daemon's ready line carries per-step timings; their medians are printed too.
 */
import { NODE_FLAGS, benchConfig, lean, startCompiled, tempDir, type DaemonForm } from './spawn.js';

const RUNS = Number(process.env.RUNS ?? 10);

const median = (xs: number[]): number => [...xs].sort((a, b) => a - b)[Math.floor((xs.length - 1) / 2)];
const r1 = (x: number): number => Math.round(x * 10) / 10;

async function measure(form: DaemonForm, setup: 'default' | 'lean'): Promise<{ p50: number; max: number; readers: number }> {
  const times: number[] = [];
  const steps: Record<string, number[]> = {};
  let readers = 0;
  // One state directory per variant, kept across its runs: each run after the first is a restart of an
  // installed gateway (the first one also creates the state: web UI password hash, event outbox).
  const t = tempDir('scardgate-bench-startup-');
  try {
    for (let i = 0; i < RUNS + 1; i++) {
      const base = benchConfig(t.dir);
      const d = await startCompiled(t.dir, setup === 'lean' ? lean(base) : base, form);
      const code = await d.stop();
      if (code !== 0) throw new Error(`daemon exited ${code} on SIGTERM`);
      if (i === 0) continue; // first start: creates the state and warms the page cache
      times.push(d.readyMs);
      readers = Number(d.ready.readers);
      const tm = { node_and_imports: Number(d.ready.sinceProcessStartMs) - Number(d.ready.startupMs), ...(d.ready.timings as Record<string, number>) };
      for (const [k, v] of Object.entries(tm)) (steps[k] ??= []).push(v);
    }
  } finally {
    t.remove();
  }
  const medSteps = Object.fromEntries(Object.entries(steps).map(([k, v]) => [k, r1(median(v))]));
  process.stdout.write(`${form}/${setup}: p50 ${r1(median(times))} ms, max ${r1(Math.max(...times))} ms; median steps (ms) ${JSON.stringify(medSteps)}\n`);
  return { p50: r1(median(times)), max: r1(Math.max(...times)), readers };
}

const bundleDefault = await measure('bundle', 'default');
const bundleLean = await measure('bundle', 'lean');
const tscDefault = await measure('tsc', 'default');
const tscLean = await measure('tsc', 'lean');
process.stdout.write(
  `${JSON.stringify({
    bench: 'startup',
    runs: RUNS,
    readers: bundleDefault.readers,
    node_flags: NODE_FLAGS.join(' '),
    startup_p50_ms: bundleDefault.p50,
    startup_max_ms: bundleDefault.max,
    lean_startup_p50_ms: bundleLean.p50,
    lean_startup_max_ms: bundleLean.max,
    tsc_startup_p50_ms: tscDefault.p50,
    tsc_startup_max_ms: tscDefault.max,
    tsc_lean_startup_p50_ms: tscLean.p50,
    tsc_lean_startup_max_ms: tscLean.max,
    goal_ms: 300,
    pass: bundleDefault.p50 <= 300,
  })}\n`,
);
