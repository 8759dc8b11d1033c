/**
 * systemd's notification protocol (sd_notify): READY=1, STATUS=..., WATCHDOG=1,
 * STOPPING=1 as datagrams to $NOTIFY_SOCKET. A no-op when the variable is unset
 * (not started by systemd).
 *
 * Node has no Unix datagram sockets, so the datagram is sent by
 * `systemd-notify --pid=<our pid>`. systemd only accepts it from another
 * process when the unit has NotifyAccess=all, or when the daemon runs as root
 * (the kernel then lets the credentials name our pid).
 */
import { spawn } from 'node:child_process';

export interface Notifier {
  readonly enabled: boolean;
  /** Send assignments such as {READY: '1', STATUS: '4 readers'}; resolves once sent (or failed, logged by the caller). */
  notify(fields: Record<string, string>): Promise<void>;
}

export function createNotifier(env: NodeJS.ProcessEnv = process.env): Notifier {
  const socket = env.NOTIFY_SOCKET;
  if (!socket) return { enabled: false, notify: async () => undefined };
  return {
    enabled: true,
    notify(fields) {
      const assignments = Object.entries(fields).map(([k, v]) => `${k}=${v.replace(/\n/g, ' ')}`);
      return new Promise((resolve, reject) => {
        const child = spawn('systemd-notify', [`--pid=${process.pid}`, ...assignments], {
          stdio: ['ignore', 'ignore', 'pipe'],
          env: { ...env, NOTIFY_SOCKET: socket },
        });
        let err = '';
        child.stderr.on('data', (d: Buffer) => (err += d.toString()));
        child.on('error', reject);
        child.on('close', (code) => (code === 0 ? resolve() : reject(new Error(`systemd-notify exited ${code}: ${err.trim()}`))));
      });
    },
  };
}
