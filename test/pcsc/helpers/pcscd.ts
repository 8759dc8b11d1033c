/**
 * Debian's pcscd with its vpcd driver, on a private socket: pcscd 1.9.9 always
 * binds /run/pcscd/pcscd.comm and reads /etc/reader.conf.d, so it runs in its
 * own mount namespace (unshare -m) with private folders bind-mounted over both.
 * Needs root (CAP_SYS_ADMIN) for the namespace.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { existsSync, mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { createConnection } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { requireTool } from './clients.js';

export const VPCD_DRIVER = '/usr/lib/pcsc/drivers/serial/libifdvpcd.so';

export interface Pcscd {
  socket: string;
  env: NodeJS.ProcessEnv;
  proc: ChildProcess;
  log(): string;
  stop(): Promise<void>;
}

function connectable(path: string): Promise<boolean> {
  return new Promise((resolve) => {
    const s = createConnection(path);
    s.once('connect', () => {
      s.destroy();
      resolve(true);
    });
    s.once('error', () => resolve(false));
  });
}

/** pcscd + vpcd listening for vicc on `port` (its first slot; vpcd's second slot takes port+1). `cpu` pins it. */
export async function startPcscd(opts: { port: number; cpu?: number }): Promise<Pcscd> {
  requireTool('/usr/sbin/pcscd', 'pcscd');
  requireTool(VPCD_DRIVER, 'vsmartcard-vpcd');
  requireTool('/usr/bin/unshare', 'util-linux');
  if (process.getuid?.() !== 0) throw new Error('pcscd on a private socket needs root: unshare -m (a mount namespace) requires CAP_SYS_ADMIN');
  const dir = mkdtempSync(join(tmpdir(), 'pcscd-'));
  const run = join(dir, 'run');
  const conf = join(dir, 'conf');
  mkdirSync(run);
  mkdirSync(conf);
  writeFileSync(
    join(conf, 'vpcd'),
    `FRIENDLYNAME "Virtual PCD"\nDEVICENAME   /dev/null:0x${opts.port.toString(16)}\nLIBPATH      ${VPCD_DRIVER}\nCHANNELID    0x${opts.port.toString(16)}\n`,
  );
  if (!existsSync('/run/pcscd')) mkdirSync('/run/pcscd', { recursive: true });
  const script = `mount --make-rprivate / && mount --bind ${run} /run/pcscd && mount --bind ${conf} /etc/reader.conf.d && exec pcscd --foreground`;
  const cmd = opts.cpu === undefined ? ['unshare', '-m', 'sh', '-c', script] : ['taskset', '-c', String(opts.cpu), 'unshare', '-m', 'sh', '-c', script];
  const proc = spawn(cmd[0], cmd.slice(1), { stdio: ['ignore', 'pipe', 'pipe'] });
  let out = '';
  proc.stdout!.on('data', (d) => (out += String(d)));
  proc.stderr!.on('data', (d) => (out += String(d)));
  const socket = join(run, 'pcscd.comm');
  const deadline = Date.now() + 10000;
  while (!(existsSync(socket) && (await connectable(socket)))) {
    if (proc.exitCode !== null || Date.now() > deadline) {
      proc.kill('SIGKILL');
      rmSync(dir, { recursive: true, force: true });
      throw new Error(`pcscd did not start on ${socket} (exit ${proc.exitCode}): ${out}`);
    }
    await new Promise((r) => setTimeout(r, 50));
  }
  return {
    socket,
    env: { ...process.env, PCSCLITE_CSOCK_NAME: socket },
    proc,
    log: () => out,
    async stop() {
      if (proc.exitCode === null && proc.signalCode === null) {
        const gone = new Promise((r) => proc.once('close', r));
        proc.kill('SIGTERM');
        const t = setTimeout(() => proc.kill('SIGKILL'), 5000);
        await gone;
        clearTimeout(t);
      }
      rmSync(dir, { recursive: true, force: true });
    },
  };
}
