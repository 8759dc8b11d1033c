/**
 * Run a Node program to its end and collect what it printed: the executables
 * as users run them (scardctl, scardgated, their built forms), with an
 * optional stdin text.
 */
import { spawn } from 'node:child_process';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';

export const REPO_ROOT = resolve(dirname(fileURLToPath(import.meta.url)), '..', '..');

export interface Finished {
  code: number | null;
  stdout: string;
  stderr: string;
}

export interface RunOptions {
  /** Written to stdin, which is then closed (default: no stdin). */
  input?: string;
  env?: NodeJS.ProcessEnv;
  cwd?: string;
}

/** `node <args>`; TypeScript sources run through tsx when `ts` is set. */
export function runNode(args: string[], opts: RunOptions & { ts?: boolean } = {}): Promise<Finished> {
  return new Promise((resolve, reject) => {
    const p = spawn(process.execPath, [...(opts.ts ? [`--import=${import.meta.resolve('tsx')}`] : []), ...args], {
      cwd: opts.cwd ?? REPO_ROOT,
      env: opts.env ?? process.env,
      stdio: [opts.input === undefined ? 'ignore' : 'pipe', 'pipe', 'pipe'],
    });
    let stdout = '';
    let stderr = '';
    p.stdout!.on('data', (d: Buffer) => (stdout += d.toString()));
    p.stderr!.on('data', (d: Buffer) => (stderr += d.toString()));
    p.on('error', reject);
    p.on('close', (code) => resolve({ code, stdout, stderr }));
    if (opts.input !== undefined) p.stdin!.end(opts.input);
  });
}

/** The scardctl executable from the sources, as a user runs it. */
export function runScardctl(args: string[], opts: RunOptions = {}): Promise<Finished> {
  return runNode([join(REPO_ROOT, 'src/bin/scardctl.ts'), ...args], { ...opts, ts: true });
}
