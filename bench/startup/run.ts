/**
 * Start-up: process start to the "ready" line, compiled daemon, 4 simulated
 * readers. Goal <= 300 ms. Two set-ups, several runs each (p50 and max):
 *  - default: the embedded default, every frontend on (pcsc, MQTT with the built-in broker, HTTP + web UI);
 *  - lean: the same readers with only the control channel and the pcsc socket
 *    (what a gateway feeding a central broker over pcsc/control looks like; shows the frontends' share).
 * The daemon's ready line carries per-step timings, averaged here too.
 */
import { benchConfig, startCompiled, tempDir } from './spawn.js';

const RUNS = Number(process.env.RUNS ?? 10);

interface Figures {
  p50: number;
  max: number;
  steps: Record<string, number>;
  readers: number;
}

const median = (xs: number[]): number => [...xs].sort((a, b) => a - b)[Math.floor((xs.length - 1) / 2)];
const r1 = (x: number): number => Math.round(x * 10) / 10;

async function measure(name: string, tweak: (c: Record<string, any>) => void): Promise<Figures> {
  const times: number[] = [];
  const steps: Record<string, number[]> = {};
  let readers = 0;
  for (let i = 0; i < RUNS + 1; i++) {
    const t = tempDir('scardgate-bench-startup-');
    try {
      const c = benchConfig(t.dir);
      tweak(c);
      const d = await startCompiled(t.dir, c);
      const code = await d.stop();
      if (code !== 0) throw new Error(`daemon exited ${code} on SIGTERM`);
      if (i === 0) continue; // the first run warms the page cache
      times.push(d.readyMs);
      readers = Number(d.ready.readers);
      const tm = { node_and_imports: Number(d.ready.sinceProcessStartMs) - Number(d.ready.startupMs), ...(d.ready.timings as Record<string, number>) };
      for (const [k, v] of Object.entries(tm)) (steps[k] ??= []).push(v);
      process.stdout.write(`${name} run ${i}: ${d.readyMs.toFixed(1)} ms to ready; steps ${JSON.stringify(tm)}\n`);
    } finally {
      t.remove();
    }
  }
  return {
    p50: r1(median(times)),
    max: r1(Math.max(...times)),
    steps: Object.fromEntries(Object.entries(steps).map(([k, v]) => [k, r1(median(v))])),
    readers,
  };
}

const full = await measure('default', () => undefined);
const lean = await measure('lean', (c) => {
  c.mqtt = { ...c.mqtt, enabled: false };
  c.http = { ...c.http, enabled: false };
});
process.stdout.write(`median step times (ms), default: ${JSON.stringify(full.steps)}\n`);
process.stdout.write(`median step times (ms), lean: ${JSON.stringify(lean.steps)}\n`);
process.stdout.write(
  `${JSON.stringify({
    bench: 'startup',
    runs: RUNS,
    readers: full.readers,
    startup_p50_ms: full.p50,
    startup_max_ms: full.max,
    lean_startup_p50_ms: lean.p50,
    lean_startup_max_ms: lean.max,
    goal_ms: 300,
    pass: full.p50 <= 300,
  })}\n`,
);
