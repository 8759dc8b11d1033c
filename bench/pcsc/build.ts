/** Builds bench/pcsc's parts: the libpcsclite C client and card (apdu-bench.c) and the scardgate server bundle. */
import { execFileSync } from 'node:child_process';
import { mkdirSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';

const here = dirname(fileURLToPath(import.meta.url));
const BUILD = join(here, 'build');
/** scardgate as the daemon ships it: one esbuild bundle run by plain node (no TypeScript loader). */
export const SERVER_BUNDLE = join(BUILD, 'serve-scardgate.mjs');

/** Builds both; returns the path of apdu-bench. */
export function build(): string {
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
