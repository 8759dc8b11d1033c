/**
 * Footprint of the idle daemon on the embedded default (4 simulated readers,
 * compiled): RSS (goal <= 50 MB) and CPU over 30 s idle (goal < 0.5 %), both
 * from /proc/<pid>.
 */
import { execFileSync } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { benchConfig, startCompiled, tempDir } from '../startup/spawn.js';

const IDLE_S = Number(process.env.IDLE_S ?? 30);
const SETTLE_S = Number(process.env.SETTLE_S ?? 5);
const CLK_TCK = Number(execFileSync('getconf', ['CLK_TCK']).toString().trim());

function cpuTicks(pid: number): number {
  // Fields after the parenthesised command name: utime and stime are fields 14 and 15.
  const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
  const f = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
  return Number(f[11]) + Number(f[12]);
}

function rssKb(pid: number): number {
  const m = /VmRSS:\s+(\d+) kB/.exec(readFileSync(`/proc/${pid}/status`, 'utf8'));
  return m ? Number(m[1]) : NaN;
}

const sleep = (s: number): Promise<void> => new Promise((r) => setTimeout(r, s * 1000));

const t = tempDir('scardgate-bench-footprint-');
try {
  const d = await startCompiled(t.dir, benchConfig(t.dir));
  const pid = d.proc.pid!;
  await sleep(SETTLE_S);
  const rssReady = rssKb(pid);
  const c0 = cpuTicks(pid);
  const w0 = performance.now();
  let rssMax = rssReady;
  for (let i = 0; i < IDLE_S; i++) {
    await sleep(1);
    rssMax = Math.max(rssMax, rssKb(pid));
  }
  const c1 = cpuTicks(pid);
  const wall = (performance.now() - w0) / 1000;
  const rssEnd = rssKb(pid);
  const cpuPct = ((c1 - c0) / CLK_TCK / wall) * 100;
  const code = await d.stop();
  process.stdout.write(
    `idle ${wall.toFixed(1)} s: ${c1 - c0} CPU ticks (${CLK_TCK}/s); RSS ${(rssReady / 1024).toFixed(1)} MB after ${SETTLE_S} s settle, max ${(rssMax / 1024).toFixed(1)} MB; exit ${code}\n`,
  );
  process.stdout.write(
    `${JSON.stringify({
      bench: 'footprint',
      readers: d.ready.readers,
      listen: Object.keys(d.ready.listen as object),
      rss_mb: Math.round((rssEnd / 1024) * 10) / 10,
      rss_max_mb: Math.round((rssMax / 1024) * 10) / 10,
      cpu_idle_percent: Math.round(cpuPct * 1000) / 1000,
      idle_s: Math.round(wall),
      goal_rss_mb: 50,
      goal_cpu_percent: 0.5,
      pass: rssMax / 1024 <= 50 && cpuPct < 0.5,
    })}\n`,
  );
} finally {
  t.remove();
}
