/**
 * Builds bench/pcsc's parts into a directory of this run's own (two runs at
 * once never rebuild each other's binaries): the libpcsclite C client and card
 * (apdu-bench.c) and, on request, the core-only server bundle (serve-scardgate.ts).
 */
import { execFileSync } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';

const here = dirname(fileURLToPath(import.meta.url));
let buildDir: string | undefined;

/** This process's build directory, removed when it exits. */
function dir(): string {
  if (!buildDir) {
    const d = (buildDir = mkdtempSync(join(tmpdir(), 'bench-pcsc-build-')));
    process.once('exit', () => rmSync(d, { recursive: true, force: true }));
  }
  return buildDir;
}

/** Builds apdu-bench; returns its path. */
export function build(): string {
  const bin = join(dir(), 'apdu-bench');
  const flags = execFileSync('pkg-config', ['--cflags', '--libs', 'libpcsclite'], { encoding: 'utf8' }).trim().split(/\s+/);
  execFileSync('gcc', ['-O2', '-Wall', '-o', bin, join(here, 'apdu-bench.c'), ...flags], { stdio: 'inherit' });
  return bin;
}

/** Builds the core-only server (the core, the vpcd driver and the pcsc socket; no daemon around them) as one esbuild bundle. */
export function buildServer(): string {
  const out = join(dir(), 'serve-scardgate.mjs');
  const external = ['serialport', 'usb', 'i2c-bus', 'onoff', 'epoll'].map((e) => `--external:${e}`);
  execFileSync(
    'npx',
    ['esbuild', join(here, 'serve-scardgate.ts'), '--bundle', '--platform=node', '--format=esm', '--target=node20', `--outfile=${out}`,
      '--log-level=warning', ...external, "--banner:js=import { createRequire as __r } from 'node:module'; const require = __r(import.meta.url);"],
    { stdio: 'inherit' },
  );
  return out;
}
