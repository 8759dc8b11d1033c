/**
 * Spawning the compiled daemon for benchmarks: the embedded default (4
 * simulated readers and every frontend that is enabled there), with sockets,
 * state and ports moved to a temporary directory / free ports.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { existsSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { parse, stringify } from 'yaml';
import { readFileSync } from 'node:fs';

function repoRoot(): string {
  let dir = dirname(fileURLToPath(import.meta.url));
  while (!existsSync(join(dir, 'package.json')) && dirname(dir) !== dir) dir = dirname(dir);
  return dir;
}
export const REPO = repoRoot();
/** The two built forms: tsc's output (what the brief names) and the esbuild bundle. */
export const DAEMONS = {
  tsc: join(REPO, 'dist/src/bin/scardgated.js'),
  bundle: join(REPO, 'dist/bundle/scardgated.js'),
} as const;
export type DaemonForm = keyof typeof DAEMONS;
/** The daemon's node flags as installed (the Makefile's DAEMON_NODE_FLAGS, passed by make bench-*). */
export const NODE_FLAGS = (process.env.DAEMON_NODE_FLAGS ?? '').split(/\s+/).filter(Boolean);
/** The daemon's environment as installed (the Makefile's DAEMON_ENV, NAME=value words, passed by make bench-*). */
export const DAEMON_ENV: Record<string, string> = Object.fromEntries(
  (process.env.DAEMON_ENV ?? '')
    .split(/\s+/)
    .filter((w) => w.includes('='))
    .map((w) => [w.slice(0, w.indexOf('=')), w.slice(w.indexOf('=') + 1)]),
);

function set(o: Record<string, any>, path: string, v: unknown): void {
  const segs = path.split('.');
  let n = o;
  for (const s of segs.slice(0, -1)) n = n[s] ??= {};
  n[segs[segs.length - 1]] = v;
}

/** Only the control channel and the pcsc socket besides the 4 simulated readers (MQTT and HTTP off). */
export function lean(c: Record<string, any>): Record<string, any> {
  return { ...c, mqtt: { ...c.mqtt, enabled: false }, http: { ...c.http, enabled: false } };
}

/** The embedded default, made local to `dir`. */
export function benchConfig(dir: string): Record<string, any> {
  const c = parse(readFileSync(join(REPO, 'config/default.yaml'), 'utf8')) as Record<string, any>;
  set(c, 'gatewayId', 'bench');
  set(c, 'state.dir', join(dir, 'state'));
  set(c, 'control.socket', join(dir, 'run/scardgate.ctl'));
  set(c, 'pcsc.socket', join(dir, 'run/pcscd.comm'));
  set(c, 'http.port', 0);
  if (c.mqtt?.embedded) set(c, 'mqtt.embedded.port', 0);
  return c;
}

export interface Running {
  proc: ChildProcess;
  /** ms from spawn() to the ready line on stdout. */
  readyMs: number;
  ready: Record<string, unknown>;
  stop(): Promise<number | null>;
}

export async function startCompiled(dir: string, config: Record<string, unknown>, form: DaemonForm = 'tsc'): Promise<Running> {
  const DAEMON = DAEMONS[form];
  if (!existsSync(DAEMON)) throw new Error(`${DAEMON} is missing: run \`make build\` (make bench-* does)`);
  const file = join(dir, 'bench.yaml');
  writeFileSync(file, stringify(config));
  const t0 = performance.now();
  const proc = spawn(process.execPath, [...NODE_FLAGS, DAEMON, '--config', file], { cwd: dir, stdio: ['ignore', 'pipe', 'pipe'], env: { ...process.env, ...DAEMON_ENV, NOTIFY_SOCKET: '' } });
  let buf = '';
  let err = '';
  proc.stderr!.on('data', (d: Buffer) => (err += d.toString()));
  const ready = await new Promise<Record<string, unknown>>((res, rej) => {
    proc.stdout!.on('data', (d: Buffer) => {
      buf += d.toString();
      let nl: number;
      while ((nl = buf.indexOf('\n')) >= 0) {
        const line = buf.slice(0, nl);
        buf = buf.slice(nl + 1);
        try {
          const j = JSON.parse(line);
          if (j.msg === 'ready') res(j);
        } catch {
          /* not JSON */
        }
      }
    });
    proc.once('exit', (code) => rej(new Error(`daemon exited (${code}) before ready: ${err}`)));
  });
  const readyMs = performance.now() - t0;
  proc.stdout!.resume();
  return {
    proc,
    readyMs,
    ready,
    stop: () =>
      new Promise((res) => {
        proc.once('exit', (code) => res(code));
        proc.kill('SIGTERM');
      }),
  };
}

export function tempDir(prefix: string): { dir: string; remove(): void } {
  const dir = mkdtempSync(join(tmpdir(), prefix));
  return { dir, remove: () => rmSync(dir, { recursive: true, force: true }) };
}
