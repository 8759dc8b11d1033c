/**
 * The real daemon as a child process: `node --import tsx src/bin/scardgated.ts`
 * with a generated config in a temporary directory (its working directory too),
 * waiting for the `ready` log line.
 *
 *   const d = await startDaemon({ services: ['control'] });
 *   d.ready.listen.control; d.logs.lines; await d.logs.waitFor(l => l.msg === '...');
 *   const exit = await d.stop();   // SIGTERM; rejects unless the exit is clean (code 0)
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { existsSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { stringify } from 'yaml';
import { deepMerge, testConfig, type ServiceName } from './gateway.js';
import { LogCapture, type LogLine } from './log-capture.js';
import { REPO_ROOT, runNode, type Finished } from './process.js';

export { REPO_ROOT };
const TSX_LOADER = import.meta.resolve('tsx');

export interface DaemonOptions {
  /** Frontends to enable ('control' is always on, the daemon always serves it). */
  services?: ServiceName[];
  /** Raw config merged over the test base (see test/helpers/gateway.ts testConfig). */
  config?: Record<string, unknown>;
  /** Extra environment (SCARDGATE_* overrides, NOTIFY_SOCKET...). SCARDGATE_* from the test's own env are dropped. */
  env?: Record<string, string>;
  /** Extra arguments; default ['--config', <generated file>]. */
  args?: string[];
  /** Run dist/src/bin/scardgated.js (needs `npm run build`) instead of the TypeScript source. */
  compiled?: boolean;
  /** Run the esbuild bundle dist/bundle/scardgated.js (needs `make build`). */
  bundled?: boolean;
  readyTimeoutMs?: number;
  keepDir?: boolean;
}

export interface DaemonExit {
  code: number | null;
  signal: NodeJS.Signals | null;
}

export interface Daemon {
  proc: ChildProcess;
  pid: number;
  dir: string;
  configPath: string;
  /** The raw config written to configPath. */
  config: Record<string, unknown>;
  /** Socket path of the control channel. */
  controlSocket: string;
  logs: LogCapture;
  /** The ready line: {msg: 'ready', readers, readerNames, listen: {control, pcsc, http, mqtt...}, startupMs}. */
  ready: LogLine & { listen: Record<string, string>; readers: number; readerNames: string[] };
  stderr(): string;
  exited: Promise<DaemonExit>;
  /** SIGTERM, wait for exit (<= 10 s); rejects unless it exits with code 0. Removes the temp dir. */
  stop(): Promise<DaemonExit>;
}

/** Spawn the daemon with explicit arguments and environment; resolves on exit (for --check-config, bad arguments...). */
export function runDaemonCommand(args: string[], opts: { env?: Record<string, string>; cwd?: string } = {}): Promise<Finished> {
  return runNode([join(REPO_ROOT, 'src/bin/scardgated.ts'), ...args], { ts: true, cwd: opts.cwd ?? REPO_ROOT, env: cleanEnv(opts.env) });
}

function cleanEnv(extra: Record<string, string> = {}): NodeJS.ProcessEnv {
  const env: NodeJS.ProcessEnv = {};
  for (const [k, v] of Object.entries(process.env)) if (!k.startsWith('SCARDGATE_') && k !== 'NOTIFY_SOCKET' && !k.startsWith('TAP')) env[k] = v;
  return { ...env, ...extra };
}

export async function startDaemon(opts: DaemonOptions = {}): Promise<Daemon> {
  const dir = mkdtempSync(join(tmpdir(), 'scardgate-daemon-'));
  const raw = deepMerge(testConfig(dir, opts.services ?? []), opts.config ?? {});
  const configPath = join(dir, 'scardgate.yaml');
  writeFileSync(configPath, stringify(raw));
  const built = opts.bundled ? 'dist/bundle/scardgated.js' : opts.compiled ? 'dist/src/bin/scardgated.js' : undefined;
  if (built && !existsSync(join(REPO_ROOT, built))) throw new Error(`${built} is missing: run \`make build\` first`);
  const bin = built ? [join(REPO_ROOT, built)] : [`--import=${TSX_LOADER}`, join(REPO_ROOT, 'src/bin/scardgated.ts')];
  const proc = spawn(process.execPath, [...bin, ...(opts.args ?? ['--config', configPath])], {
    cwd: dir,
    env: cleanEnv(opts.env),
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  const logs = new LogCapture();
  let stderr = '';
  proc.stdout!.on('data', (d: Buffer) => logs.push(d.toString()));
  proc.stderr!.on('data', (d: Buffer) => (stderr += d.toString()));
  const exited = new Promise<DaemonExit>((res) => proc.on('exit', (code, signal) => res({ code, signal })));
  const cleanup = (): void => {
    if (!opts.keepDir) rmSync(dir, { recursive: true, force: true });
  };

  let ready: Daemon['ready'];
  try {
    ready = (await Promise.race([
      logs.waitFor((l) => l.msg === 'ready', opts.readyTimeoutMs ?? 20000, '"ready" line from the daemon'),
      exited.then((e) => {
        throw new Error(`daemon exited before ready (code ${e.code}, signal ${e.signal})\nstderr: ${stderr}\nstdout: ${logs.raw}`);
      }),
    ])) as Daemon['ready'];
  } catch (err) {
    proc.kill('SIGKILL');
    cleanup();
    throw err;
  }

  return {
    proc,
    pid: proc.pid!,
    dir,
    configPath,
    config: raw,
    controlSocket: (raw.control as { socket: string }).socket,
    logs,
    ready,
    stderr: () => stderr,
    exited,
    async stop() {
      if (proc.exitCode === null && proc.signalCode === null) proc.kill('SIGTERM');
      let timer: NodeJS.Timeout | undefined;
      const exit = await Promise.race([
        exited,
        new Promise<DaemonExit>((res) => {
          timer = setTimeout(() => {
            proc.kill('SIGKILL');
            res({ code: null, signal: 'SIGKILL' });
          }, 10000);
        }),
      ]);
      clearTimeout(timer);
      cleanup();
      if (exit.code !== 0) {
        throw new Error(`daemon did not exit cleanly: code ${exit.code}, signal ${exit.signal}\nstderr: ${stderr}\nlast log lines:\n${logs.lines.slice(-10).map((l) => JSON.stringify(l)).join('\n')}`);
      }
      return exit;
    },
  };
}
