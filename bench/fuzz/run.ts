/**
 * `make fuzz`: every parser of outside bytes (test/fuzz/targets.ts) for a
 * bounded time, each in its own process so a hang is caught: the parent kills
 * a child that stops reporting and names the chunk (seed) it was running.
 *
 *   FUZZ_RUNS     inputs per parser (default 1,000,000)
 *   FUZZ_SECONDS  time budget per parser (default 900; whichever comes first)
 *   FUZZ_TARGETS  comma-separated names (default all)
 *   FUZZ_SEED     first seed (default: from the clock, printed)
 *
 * Ends with one JSON object per line per parser, then a summary line.
 */
import { spawn } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import fc from 'fast-check';
import { TARGETS } from '../../test/fuzz/targets.js';

const RUNS = Number(process.env.FUZZ_RUNS ?? 1_000_000);
const SECONDS = Number(process.env.FUZZ_SECONDS ?? 900);
/** Inputs per chunk: adapted so a chunk takes about a second (the config loader is 20 times slower than the frame parsers). */
let chunk = 500;
/** A child silent for this long is hung (a chunk takes about a second). */
const HANG_MS = Number(process.env.FUZZ_HANG_MS ?? 30_000);

interface Report {
  parser: string;
  source: string;
  inputs: number;
  seconds: number;
  inputsPerS: number;
  crashes: number;
  hangs: number;
  firstSeed: number;
  counterexample?: string;
  error?: string;
}

/** Child: fuzz one target, print a progress line per chunk and a final JSON line. */
async function child(name: string, firstSeed: number): Promise<void> {
  const target = TARGETS.find((t) => t.name === name);
  if (!target) throw new Error(`no fuzz target "${name}"`);
  await target.setup?.();
  const t0 = performance.now();
  let inputs = 0;
  let seed = firstSeed;
  const prop = fc.property(target.input, (x) => {
    target.check(x);
  });
  while (inputs < RUNS && performance.now() - t0 < SECONDS * 1000) {
    const n = Math.min(chunk, RUNS - inputs);
    process.stdout.write(`chunk ${JSON.stringify({ seed, n })}\n`);
    const c0 = performance.now();
    const r = fc.check(prop, { numRuns: n, seed, endOnFailure: true });
    const took = performance.now() - c0;
    chunk = Math.max(100, Math.min(50_000, Math.round((n * 1000) / Math.max(1, took))));
    inputs += r.numRuns;
    if (r.failed) {
      const ce = r.counterexample ? fc.stringify(r.counterexample) : '';
      const err = r.errorInstance instanceof Error ? `${r.errorInstance.name}: ${r.errorInstance.message}` : String(r.errorInstance);
      process.stdout.write(`result ${JSON.stringify({ inputs, crashes: 1, seed, path: r.counterexamplePath, counterexample: ce.slice(0, 4000), error: err.slice(0, 1000) })}\n`);
      return;
    }
    seed = (seed + 1) >>> 0;
  }
  process.stdout.write(`result ${JSON.stringify({ inputs, crashes: 0 })}\n`);
}

function runChild(name: string, firstSeed: number): Promise<Report> {
  const t0 = performance.now();
  return new Promise((resolve) => {
    const p = spawn(process.execPath, [...process.execArgv, fileURLToPath(import.meta.url), '--child', name, String(firstSeed)], {
      stdio: ['ignore', 'pipe', 'inherit'],
    });
    let lastChunk = { seed: firstSeed, n: 0 };
    let result: Record<string, unknown> | undefined;
    let buf = '';
    let watchdog = setTimeout(onHang, HANG_MS);
    let hung = false;
    function onHang(): void {
      hung = true;
      p.kill('SIGKILL');
    }
    p.stdout.on('data', (d: Buffer) => {
      buf += d.toString();
      let nl: number;
      while ((nl = buf.indexOf('\n')) >= 0) {
        const line = buf.slice(0, nl);
        buf = buf.slice(nl + 1);
        if (line.startsWith('chunk ')) {
          lastChunk = JSON.parse(line.slice(6));
          clearTimeout(watchdog);
          watchdog = setTimeout(onHang, HANG_MS);
        } else if (line.startsWith('result ')) result = JSON.parse(line.slice(7));
      }
    });
    p.on('exit', (code, signal) => {
      clearTimeout(watchdog);
      const seconds = (performance.now() - t0) / 1000;
      const inputs = Number(result?.inputs ?? 0);
      const source = TARGETS.find((t) => t.name === name)!.parser;
      const rep: Report = { parser: name, source, inputs, seconds: Math.round(seconds * 10) / 10, inputsPerS: Math.round(inputs / seconds), crashes: Number(result?.crashes ?? 0), hangs: 0, firstSeed };
      if (hung) {
        rep.hangs = 1;
        rep.error = `no progress for ${HANG_MS} ms in the chunk seed ${lastChunk.seed} (${lastChunk.n} inputs): replay with fc.check(..., { seed: ${lastChunk.seed}, numRuns: ${lastChunk.n} })`;
      } else if (!result) {
        rep.crashes = 1;
        rep.error = `the fuzzing process died (exit ${code}, signal ${signal}) in the chunk seed ${lastChunk.seed}`;
      } else if (rep.crashes) {
        rep.counterexample = String(result.counterexample);
        rep.error = `${result.error} (seed ${result.seed}, path ${result.path})`;
      }
      resolve(rep);
    });
  });
}

async function main(): Promise<void> {
  if (process.argv[2] === '--child') return child(process.argv[3], Number(process.argv[4]));
  const names = process.env.FUZZ_TARGETS ? process.env.FUZZ_TARGETS.split(',') : TARGETS.map((t) => t.name);
  const firstSeed = Number(process.env.FUZZ_SEED ?? Date.now() % 2 ** 31);
  console.error(`fuzzing ${names.join(', ')}: up to ${RUNS} inputs or ${SECONDS} s each, first seed ${firstSeed} (machine shared with other work: rates vary)`);
  const reports: Report[] = [];
  for (const name of names) {
    const r = await runChild(name, firstSeed);
    console.error(`${name}: ${r.inputs} inputs in ${r.seconds} s, ${r.crashes} crashes, ${r.hangs} hangs${r.error ? `: ${r.error}` : ''}`);
    reports.push(r);
  }
  for (const r of reports) console.log(JSON.stringify(r));
  const total = { fuzz: 'summary', parsers: reports.length, inputs: reports.reduce((a, r) => a + r.inputs, 0), crashes: reports.reduce((a, r) => a + r.crashes, 0), hangs: reports.reduce((a, r) => a + r.hangs, 0), minInputs: Math.min(...reports.map((r) => r.inputs)) };
  console.log(JSON.stringify(total));
  if (total.crashes || total.hangs) process.exitCode = 1;
}

await main();
