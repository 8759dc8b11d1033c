/**
 * Launch Debian's real vsmartcard `vicc` (python3-virtualsmartcard) against a
 * vpcd listener on loopback. As packaged in bookworm, vicc needs
 * python3-pycryptodome, its module folder on PYTHONPATH, and a `Crypto`
 * alias for pycryptodome's `Cryptodome` package; this helper provides both
 * (the alias is a symlink in a temp folder) and runs it with /usr/bin/python3.
 *
 * A missing dependency throws an Error saying how to install it, so the
 * test fails (never skips).
 */
import { execFileSync, spawn, type ChildProcess } from 'node:child_process';
import { existsSync, mkdtempSync, symlinkSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

export const VICC_BIN = '/usr/bin/vicc';
export const SYSTEM_PYTHON = '/usr/bin/python3';
export const VICC_MODULE_DIR = '/usr/lib/python3/site-packages/virtualsmartcard';
export const INSTALL_HINT = 'install it with: sudo apt-get install python3-virtualsmartcard python3-pycryptodome (or `make deb-deps`)';

/** ATR of vicc's iso7816 card type (docs/vpcd.md §4). */
export const VICC_ISO7816_ATR = Buffer.from('3B9513810180 73FF01000B'.replace(/ /g, ''), 'hex');

let aliasDir: string | undefined;

/** PYTHONPATH that makes vicc start; throws with an install hint when a part is missing. */
export function viccPythonPath(): string {
  if (!existsSync(VICC_BIN)) throw new Error(`vicc not found at ${VICC_BIN}; ${INSTALL_HINT}`);
  if (!existsSync(SYSTEM_PYTHON)) throw new Error(`${SYSTEM_PYTHON} not found; vicc needs Debian's python3`);
  if (!existsSync(VICC_MODULE_DIR)) throw new Error(`vicc's module folder ${VICC_MODULE_DIR} is missing; ${INSTALL_HINT}`);
  if (!aliasDir) {
    let cryptodome: string;
    try {
      cryptodome = execFileSync(SYSTEM_PYTHON, ['-c', 'import os, Cryptodome; print(os.path.dirname(Cryptodome.__file__))'], { encoding: 'utf8' }).trim();
    } catch {
      throw new Error(`pycryptodome (Cryptodome) is not importable by ${SYSTEM_PYTHON}; ${INSTALL_HINT}`);
    }
    const dir = mkdtempSync(join(tmpdir(), 'scardgate-vicc-'));
    symlinkSync(cryptodome, join(dir, 'Crypto'));
    aliasDir = dir;
  }
  return [VICC_MODULE_DIR, aliasDir].join(':');
}

export interface ViccOptions {
  port: number;
  host?: string;
  /** vicc -t; only iso7816 starts reliably in bookworm. */
  type?: 'iso7816' | 'cryptoflex' | 'ePass' | 'nPA' | 'relay' | 'handler_test';
  verbose?: boolean;
}

export interface Vicc {
  readonly proc: ChildProcess;
  /** Resolves with the exit code (or signal name) when vicc ends. */
  readonly exited: Promise<number | string>;
  /** What vicc wrote to stdout/stderr so far (for failure messages). */
  output(): string;
  /** Kill vicc (its connection closes: "card removed") and wait for it to end. */
  stop(): Promise<void>;
  /** `p`, unless vicc ends first: then a rejection carrying vicc's output (so a broken vicc fails fast, not by timeout). */
  whileRunning<T>(p: Promise<T>): Promise<T>;
}

/** Start vicc connecting to host:port. The listener must already be up (vicc exits when nothing listens). */
export function startVicc(opts: ViccOptions): Vicc {
  const pythonPath = viccPythonPath();
  const args = [VICC_BIN, '-t', opts.type ?? 'iso7816', '-H', opts.host ?? '127.0.0.1', '-P', String(opts.port)];
  if (opts.verbose) args.push('-v');
  const proc = spawn(SYSTEM_PYTHON, args, {
    env: { ...process.env, PYTHONPATH: pythonPath, PYTHONDONTWRITEBYTECODE: '1' },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  let out = '';
  proc.stdout?.on('data', (d: Buffer) => (out += d.toString()));
  proc.stderr?.on('data', (d: Buffer) => (out += d.toString()));
  // 'close' (not 'exit'): by then vicc's output has been read, so failure messages carry it.
  const exited = new Promise<number | string>((resolve) => proc.once('close', (code, sig) => resolve(code ?? sig ?? -1)));
  return {
    proc,
    exited,
    output: () => out,
    whileRunning<T>(p: Promise<T>): Promise<T> {
      return Promise.race([
        p,
        exited.then((code): never => {
          throw new Error(`vicc ended (${code}) before that happened; its output:\n${out.trim()}`);
        }),
      ]);
    },
    async stop() {
      if (proc.exitCode === null && proc.signalCode === null) proc.kill('SIGTERM');
      await exited;
    },
  };
}
