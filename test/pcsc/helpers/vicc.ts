/**
 * Debian's vicc (vsmartcard-vpicc + python3-virtualsmartcard) as a card that
 * connects to a vpcd port: connected = inserted, killed = removed. As packaged
 * in bookworm it needs its module folder on PYTHONPATH and a `Crypto` alias
 * for pycryptodome's `Cryptodome` package.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { existsSync, mkdtempSync, symlinkSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { requireTool } from './clients.js';

const VSC_MODULES = '/usr/lib/python3/site-packages/virtualsmartcard';
const CRYPTODOME = '/usr/lib/python3/dist-packages/Cryptodome';
let aliasDir: string | undefined;

function pythonPath(): string {
  if (!aliasDir) {
    aliasDir = mkdtempSync(join(tmpdir(), 'vicc-py-'));
    symlinkSync(CRYPTODOME, join(aliasDir, 'Crypto'));
  }
  return [VSC_MODULES, aliasDir].join(':');
}

export interface Vicc {
  proc: ChildProcess;
  output(): string;
  /** Removes the card (the TCP connection closes). */
  stop(): Promise<void>;
}

/** Starts `vicc -t iso7816` connecting to 127.0.0.1:port. */
export function startVicc(port: number, type = 'iso7816'): Vicc {
  requireTool('/usr/bin/vicc', 'vsmartcard-vpicc');
  requireTool(VSC_MODULES, 'python3-virtualsmartcard');
  requireTool(CRYPTODOME, 'python3-pycryptodome');
  if (!existsSync('/usr/bin/python3')) throw new Error('python3 is missing: apt-get install python3');
  const proc = spawn('/usr/bin/python3', ['/usr/bin/vicc', '-t', type, '-H', '127.0.0.1', '-P', String(port)], {
    env: { ...process.env, PYTHONPATH: pythonPath() },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  let out = '';
  proc.stdout!.on('data', (d) => (out += String(d)));
  proc.stderr!.on('data', (d) => (out += String(d)));
  return {
    proc,
    output: () => out,
    stop: () =>
      new Promise<void>((resolve) => {
        if (proc.exitCode !== null || proc.signalCode !== null) return resolve();
        proc.once('close', () => resolve());
        proc.kill('SIGKILL');
      }),
  };
}
