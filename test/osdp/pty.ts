/** A socat pseudo-terminal pair: the two ends of one serial line for the OSDP tests. */
import { spawn, type ChildProcess } from 'node:child_process';
import { existsSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

export interface PtyPair {
  a: string;
  b: string;
  proc: ChildProcess;
  stop(): Promise<void>;
}

export async function ptyPair(): Promise<PtyPair> {
  const dir = mkdtempSync(join(tmpdir(), 'osdp-'));
  const a = join(dir, 'a');
  const b = join(dir, 'b');
  const proc = spawn('socat', ['-d', '-d', `pty,raw,echo=0,link=${a}`, `pty,raw,echo=0,link=${b}`], { stdio: ['ignore', 'ignore', 'pipe'] });
  let stderr = '';
  proc.stderr?.on('data', (d: Buffer) => (stderr += d.toString()));
  await new Promise<void>((resolve, reject) => {
    const started = Date.now();
    proc.once('error', (e: NodeJS.ErrnoException) => reject(new Error(e.code === 'ENOENT' ? 'socat is needed for the OSDP line tests: apt-get install socat' : `socat: ${e.message}`)));
    const poll = (): void => {
      if (proc.exitCode !== null) return reject(new Error(`socat exited (${proc.exitCode}): ${stderr.trim()}`));
      if (existsSync(a) && existsSync(b) && stderr.includes('starting data transfer loop')) return resolve();
      if (Date.now() - started > 5000) return reject(new Error(`socat did not create ${a} / ${b} within 5 s: ${stderr.trim()}`));
      setTimeout(poll, 10);
    };
    poll();
  });
  return {
    a,
    b,
    proc,
    stop: () =>
      new Promise<void>((resolve) => {
        const done = (): void => {
          rmSync(dir, { recursive: true, force: true });
          resolve();
        };
        if (proc.exitCode !== null || proc.signalCode !== null) return done();
        proc.once('exit', done);
        proc.kill('SIGTERM');
      }),
  };
}
