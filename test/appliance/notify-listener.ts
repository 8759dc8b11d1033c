/**
 * A NOTIFY_SOCKET the test itself listens on, the way systemd does: an
 * AF_UNIX SOCK_DGRAM socket with SO_PASSCRED, so each datagram comes with the
 * sender's pid (what NotifyAccess=main checks). Node cannot bind one, so
 * Debian's python3 does the receiving and prints one JSON line per datagram.
 */
import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { existsSync } from 'node:fs';

export const PYTHON = '/usr/bin/python3';

const LISTENER = String.raw`
import json, os, socket, struct, sys, time
addr = sys.argv[1]
s = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
s.setsockopt(socket.SOL_SOCKET, socket.SO_PASSCRED, 1)
s.bind('\0' + addr[1:] if addr.startswith('@') else addr)
print(json.dumps({'listening': True}), flush=True)
while True:
    msg, anc, flags, _ = s.recvmsg(65536, socket.CMSG_SPACE(12) + socket.CMSG_SPACE(64))
    pid = None
    for level, kind, data in anc:
        if level == socket.SOL_SOCKET and kind == socket.SCM_CREDENTIALS:
            pid = struct.unpack('iII', data[:12])[0]
        elif level == socket.SOL_SOCKET and kind == socket.SCM_RIGHTS:
            # systemd-notify's BARRIER=1 passes a pipe end and waits for it to close.
            for fd in struct.unpack('%di' % (len(data) // 4), data[:len(data) - len(data) % 4]):
                os.close(fd)
    fields = {}
    for line in msg.decode('utf-8', 'replace').split('\n'):
        if '=' in line:
            k, v = line.split('=', 1)
            fields[k] = v
    print(json.dumps({'pid': pid, 'fields': fields, 'raw': msg.decode('utf-8', 'replace')}), flush=True)
`;

export interface Notification {
  pid: number | null;
  fields: Record<string, string>;
  raw: string;
  /** Arrival order. */
  seq: number;
}

export function needPython(): void {
  if (!existsSync(PYTHON) || spawnSync(PYTHON, ['-c', 'import socket; socket.SO_PASSCRED']).status !== 0) {
    throw new Error(`${PYTHON} with the socket module is needed to listen on a NOTIFY_SOCKET: apt-get install python3`);
  }
}

export class NotifyListener {
  readonly received: Notification[] = [];
  private waiters: Array<{ pred: (n: Notification) => boolean; resolve: (n: Notification) => void }> = [];
  private proc!: ChildProcess;
  private stderr = '';

  private constructor(readonly address: string) {}

  /** address: a filesystem path or "@abstract-name". */
  static async start(address: string): Promise<NotifyListener> {
    needPython();
    const l = new NotifyListener(address);
    await l.spawn();
    return l;
  }

  private spawn(): Promise<void> {
    return new Promise((resolve, reject) => {
      this.proc = spawn(PYTHON, ['-c', LISTENER, this.address], { stdio: ['ignore', 'pipe', 'pipe'] });
      let pending = '';
      let listening = false;
      this.proc.stderr!.on('data', (d: Buffer) => (this.stderr += d.toString()));
      this.proc.on('exit', (code) => {
        if (!listening) reject(new Error(`notify listener exited (${code}): ${this.stderr}`));
      });
      this.proc.stdout!.on('data', (d: Buffer) => {
        pending += d.toString();
        let nl: number;
        while ((nl = pending.indexOf('\n')) >= 0) {
          const line = JSON.parse(pending.slice(0, nl)) as { listening?: boolean } & Omit<Notification, 'seq'>;
          pending = pending.slice(nl + 1);
          if (line.listening) {
            listening = true;
            resolve();
            continue;
          }
          const n: Notification = { ...line, seq: this.received.length };
          this.received.push(n);
          for (const w of [...this.waiters]) {
            if (w.pred(n)) {
              this.waiters.splice(this.waiters.indexOf(w), 1);
              w.resolve(n);
            }
          }
        }
      });
    });
  }

  /** The first notification (already received or to come) matching pred, after index `from`. */
  waitFor(pred: (n: Notification) => boolean, what: string, timeoutMs = 15000, from = 0): Promise<Notification> {
    const seen = this.received.find((n) => n.seq >= from && pred(n));
    if (seen) return Promise.resolve(seen);
    return new Promise((resolve, reject) => {
      const w = {
        pred: (n: Notification) => n.seq >= from && pred(n),
        resolve: (n: Notification) => {
          clearTimeout(timer);
          resolve(n);
        },
      };
      const timer = setTimeout(() => {
        this.waiters.splice(this.waiters.indexOf(w), 1);
        reject(new Error(`no ${what} on ${this.address} within ${timeoutMs} ms; received: ${JSON.stringify(this.received.map((n) => n.raw))}`));
      }, timeoutMs);
      this.waiters.push(w);
    });
  }

  /** Notifications carrying `field` (e.g. 'WATCHDOG'). */
  with(field: string): Notification[] {
    return this.received.filter((n) => field in n.fields);
  }

  close(): void {
    this.proc.kill('SIGKILL');
  }
}
