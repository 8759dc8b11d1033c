/**
 * systemd's notification protocol (sd_notify(3)): newline-separated
 * assignments (READY=1, STATUS=..., WATCHDOG=1, STOPPING=1, RELOADING=1) sent
 * as one datagram to the AF_UNIX SOCK_DGRAM socket named by $NOTIFY_SOCKET.
 * Without the variable (not started by systemd) every call is a no-op.
 *
 * The datagram must leave from the daemon's own process: with
 * NotifyAccess=main systemd drops messages whose sender pid (the kernel's
 * SCM_CREDENTIALS) is not the main pid, and an unprivileged process cannot
 * forge another pid. Node has no Unix datagram sockets, so, in order:
 * - the daemon's own N-API addon (src/daemon/native/sd_notify.c) when the
 *   build compiled it into dist/native/: paths and @abstract names, any CPU
 *   (npm install already needs a C compiler for serialport, i2c-bus and epoll);
 * - `systemd-notify --pid`, which systemd accepts only with NotifyAccess=all
 *   (or from root), with a warning saying so.
 */
import { spawn } from 'node:child_process';
import { existsSync } from 'node:fs';
import { createRequire } from 'node:module';
import { isAbsolute, join } from 'node:path';
import { packageRoot } from '../config/package-root.js';

export type NotifyAddress = { kind: 'path'; path: string } | { kind: 'abstract'; name: string };

/** sockaddr_un.sun_path holds 108 bytes, one of them the terminating NUL. */
const SUN_PATH_MAX = 107;

/** Where $NOTIFY_SOCKET points; throws an Error naming the problem when it is neither an absolute path nor an @abstract name. */
export function parseNotifySocket(value: string): NotifyAddress {
  if (value.startsWith('@')) {
    const name = value.slice(1);
    if (name.length === 0) throw new Error('NOTIFY_SOCKET "@" names no abstract socket');
    if (Buffer.byteLength(name) > SUN_PATH_MAX) throw new Error(`NOTIFY_SOCKET abstract name is longer than ${SUN_PATH_MAX} bytes`);
    return { kind: 'abstract', name };
  }
  if (!isAbsolute(value)) throw new Error(`NOTIFY_SOCKET must be an absolute path or an @abstract name, got ${JSON.stringify(value)}`);
  if (Buffer.byteLength(value) > SUN_PATH_MAX) throw new Error(`NOTIFY_SOCKET path is longer than ${SUN_PATH_MAX} bytes`);
  return { kind: 'path', path: value };
}

const FIELD_NAME = /^[A-Z][A-Z0-9_]*$/;

/** One datagram: KEY=value lines. Values are one line each (a newline would start a forged assignment). */
export function formatNotification(fields: Record<string, string>): Buffer {
  const lines: string[] = [];
  for (const [k, v] of Object.entries(fields)) {
    if (!FIELD_NAME.test(k)) throw new Error(`sd_notify field name ${JSON.stringify(k)} is not an upper-case identifier`);
    lines.push(`${k}=${String(v).replace(/[\r\n]+/g, ' ')}`);
  }
  return Buffer.from(lines.join('\n'));
}

export type NotifyTransport = 'none' | 'addon' | 'systemd-notify';

export interface Notifier {
  readonly enabled: boolean;
  /** How datagrams leave: in-process ('addon'), through the systemd-notify helper, or not at all. */
  readonly transport: NotifyTransport;
  /** Why the helper is used instead of an in-process datagram (undefined otherwise), for one warning at start-up. */
  readonly fallbackReason?: string;
  /** Send assignments such as {READY: '1', STATUS: '4 readers'}; resolves once sent, rejects with the reason it was not. */
  notify(fields: Record<string, string>): Promise<void>;
  close(): void;
}

const require = createRequire(import.meta.url);

/** send(address, message): one datagram; '@' starts an abstract name. Throws with errno text. */
export type AddonSend = (address: string, message: string) => void;

/** The daemon's compiled addon, when the build produced it. */
function loadAddon(): AddonSend | undefined {
  const file = join(packageRoot(), 'dist', 'native', 'sd_notify.node');
  if (!existsSync(file)) return undefined;
  const send = (require(file) as { send?: unknown }).send;
  return typeof send === 'function' ? (send as AddonSend) : undefined;
}

export interface NotifierOptions {
  /** Tests: replace the compiled addon (undefined = not built). */
  loadAddon?: () => AddonSend | undefined;
}

export function createNotifier(env: NodeJS.ProcessEnv = process.env, opts: NotifierOptions = {}): Notifier {
  const raw = env.NOTIFY_SOCKET;
  if (!raw) return { enabled: false, transport: 'none', notify: async () => undefined, close: () => undefined };
  try {
    parseNotifySocket(raw); // refuse a malformed value before anything is sent
  } catch (err) {
    const problem = (err as Error).message;
    return { enabled: false, transport: 'none', fallbackReason: problem, notify: async () => Promise.reject(new Error(problem)), close: () => undefined };
  }
  let addon: AddonSend | undefined;
  let addonProblem = '';
  try {
    addon = (opts.loadAddon ?? loadAddon)();
  } catch (err) {
    addonProblem = `; the sd_notify addon did not load (${(err as Error).message.split('\n')[0]})`;
  }
  if (addon) return addonNotifier(raw, addon);
  return helperNotifier(raw, `the sd_notify addon is not built (make build compiles it)${addonProblem}`);
}

function addonNotifier(address: string, send: AddonSend): Notifier {
  return {
    enabled: true,
    transport: 'addon',
    async notify(fields) {
      try {
        send(address, formatNotification(fields).toString());
      } catch (err) {
        throw new Error(`sd_notify to ${address}: ${(err as Error).message}`, { cause: err });
      }
    },
    close: () => undefined,
  };
}

function helperNotifier(socketValue: string, reason: string): Notifier {
  return {
    enabled: true,
    transport: 'systemd-notify',
    fallbackReason: `${reason}; notifications go through systemd-notify, which systemd accepts only with NotifyAccess=all`,
    notify(fields) {
      return new Promise((resolve, reject) => {
        let assignments: string[];
        try {
          assignments = formatNotification(fields).toString().split('\n');
        } catch (err) {
          reject(err as Error);
          return;
        }
        const child = spawn('systemd-notify', [`--pid=${process.pid}`, ...assignments], {
          stdio: ['ignore', 'ignore', 'pipe'],
          env: { ...process.env, NOTIFY_SOCKET: socketValue },
        });
        let err = '';
        child.stderr.on('data', (d: Buffer) => (err += d.toString()));
        child.on('error', reject);
        child.on('close', (code) => (code === 0 ? resolve() : reject(new Error(`systemd-notify exited ${code}: ${err.trim()}`))));
      });
    },
    close: () => undefined,
  };
}
