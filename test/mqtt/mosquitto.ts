/**
 * A real Debian Mosquitto for the MQTT tests: started by the test on free
 * loopback ports with a generated configuration — a plain listener (MQTT 5
 * and 3.1.1), a TLS listener that requires client certificates from a test CA
 * made with openssl at test time, and an authenticated listener with a
 * password file and an ACL. Persistence in the temp dir so a restart keeps
 * sessions and retained messages (as a production broker would).
 */
import { spawn, execFileSync, type ChildProcess } from 'node:child_process';
import { mkdtempSync, writeFileSync, rmSync, existsSync, readFileSync } from 'node:fs';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { waitFor } from '../helpers/wait-for.js';

export const MOSQUITTO = '/usr/sbin/mosquitto';

export function requireMosquitto(): void {
  for (const [bin, pkg] of [
    [MOSQUITTO, 'mosquitto'],
    ['/usr/bin/mosquitto_passwd', 'mosquitto'],
    ['/usr/bin/mosquitto_rr', 'mosquitto-clients'],
    ['/usr/bin/mosquitto_sub', 'mosquitto-clients'],
    ['/usr/bin/openssl', 'openssl'],
  ]) {
    if (!existsSync(bin)) throw new Error(`${bin} is missing: apt-get install ${pkg} (the MQTT tests run against a real Mosquitto)`);
  }
}

export async function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const s = createServer();
    s.once('error', reject);
    s.listen(0, '127.0.0.1', () => {
      const a = s.address();
      const port = typeof a === 'object' && a ? a.port : 0;
      s.close(() => resolve(port));
    });
  });
}

export interface TestPki {
  dir: string;
  ca: string;
  serverCert: string;
  serverKey: string;
  clientCert: string;
  clientKey: string;
}

/** A throw-away CA, a server certificate for 127.0.0.1/localhost and a client certificate (CN=scardgate-client). */
export function makePki(dir: string): TestPki {
  const p = (n: string): string => join(dir, n);
  const ssl = (...args: string[]): void => {
    execFileSync('openssl', args, { stdio: 'pipe' });
  };
  ssl('req', '-x509', '-newkey', 'rsa:2048', '-nodes', '-days', '2', '-subj', '/CN=scardgate test CA', '-keyout', p('ca.key'), '-out', p('ca.crt'));
  writeFileSync(p('server.ext'), 'subjectAltName=IP:127.0.0.1,DNS:localhost\n');
  ssl('req', '-newkey', 'rsa:2048', '-nodes', '-subj', '/CN=localhost', '-keyout', p('server.key'), '-out', p('server.csr'));
  ssl('x509', '-req', '-in', p('server.csr'), '-CA', p('ca.crt'), '-CAkey', p('ca.key'), '-CAcreateserial', '-days', '2', '-extfile', p('server.ext'), '-out', p('server.crt'));
  ssl('req', '-newkey', 'rsa:2048', '-nodes', '-subj', '/CN=scardgate-client', '-keyout', p('client.key'), '-out', p('client.csr'));
  ssl('x509', '-req', '-in', p('client.csr'), '-CA', p('ca.crt'), '-CAkey', p('ca.key'), '-CAcreateserial', '-days', '2', '-out', p('client.crt'));
  return { dir, ca: p('ca.crt'), serverCert: p('server.crt'), serverKey: p('server.key'), clientCert: p('client.crt'), clientKey: p('client.key') };
}

export interface MosquittoOptions {
  tls?: boolean;
  /** Users (name -> password) for the authenticated listener; with `acl` lines. */
  users?: Record<string, string>;
  acl?: string;
  /** retain_available false (a broker that keeps no retained messages). */
  noRetain?: boolean;
  /** Keep no database on disk (benchmarks: no broker fsync competing with the gateway's). Default true. */
  persistence?: boolean;
  /** Plain listener port (default: a free one). */
  port?: number;
  /** A WebSocket listener (and, with tls, a WebSocket-over-TLS one). */
  ws?: boolean;
  /** More mosquitto.conf lines at the end (a bridge: `connection ...`). */
  extra?: string[];
}

export interface Mosquitto {
  dir: string;
  port: number;
  url: string;
  tlsPort?: number;
  tlsUrl?: string;
  authPort?: number;
  authUrl?: string;
  wsUrl?: string;
  wssUrl?: string;
  pki?: TestPki;
  log(): string;
  /** SIGTERM and wait (persistence is written); a paused broker is resumed to let it do so. */
  stop(): Promise<void>;
  /** SIGSTOP: the broker freezes at once (acknowledges nothing more) until stop(). */
  pause(): void;
  /** Start again on the same ports with the same files. */
  start(): Promise<void>;
  running(): boolean;
  /** Stop and remove the directory. */
  close(): Promise<void>;
}

async function waitListening(port: number, proc: ChildProcess, logFile: string): Promise<void> {
  const { connect } = await import('node:net');
  const listening = (): Promise<boolean> =>
    new Promise<boolean>((resolve) => {
      const s = connect(port, '127.0.0.1');
      s.once('connect', () => {
        s.destroy();
        resolve(true);
      });
      s.once('error', () => resolve(false));
    });
  try {
    await waitFor(
      async () => {
        if (proc.exitCode !== null) return 'exited';
        return (await listening()) ? 'listening' : undefined;
      },
      `mosquitto to listen on ${port}`,
      10000,
      50,
    ).then((state) => {
      if (state === 'exited') throw new Error(`mosquitto exited (${proc.exitCode}): ${readFileSync(logFile, 'utf8')}`);
    });
  } catch (e) {
    if ((e as Error).name === 'WaitTimeout') throw new Error(`mosquitto did not listen on ${port}: ${readFileSync(logFile, 'utf8')}`, { cause: e });
    throw e;
  }
}

export async function startMosquitto(opts: MosquittoOptions = {}): Promise<Mosquitto> {
  requireMosquitto();
  const dir = mkdtempSync(join(tmpdir(), 'scardgate-mosq-'));
  const port = opts.port ?? (await freePort());
  const lines = [
    'per_listener_settings true',
    // As root, mosquitto would drop to its own user and could not write the test's temp dir.
    process.getuid?.() === 0 ? 'user root' : '',
    `persistence ${opts.persistence === false ? 'false' : 'true'}`,
    `persistence_location ${dir}/`,
    'autosave_interval 1',
    `log_dest file ${join(dir, 'mosquitto.log')}`,
    'log_type error',
    'log_type warning',
    'log_type notice',
    'log_type information',
    'max_queued_messages 100000',
    'max_inflight_messages 0',
    'set_tcp_nodelay true',
    opts.noRetain ? 'retain_available false' : '',
    `listener ${port} 127.0.0.1`,
    'allow_anonymous true',
  ];
  let tlsPort: number | undefined;
  let authPort: number | undefined;
  let pki: TestPki | undefined;
  if (opts.tls) {
    pki = makePki(dir);
    tlsPort = await freePort();
    lines.push(
      `listener ${tlsPort} 127.0.0.1`,
      'allow_anonymous true',
      `cafile ${pki.ca}`,
      `certfile ${pki.serverCert}`,
      `keyfile ${pki.serverKey}`,
      'require_certificate true',
      'use_identity_as_username true',
    );
  }
  let wsPort: number | undefined;
  let wssPort: number | undefined;
  if (opts.ws) {
    wsPort = await freePort();
    lines.push(`listener ${wsPort} 127.0.0.1`, 'protocol websockets', 'allow_anonymous true');
    if (pki) {
      wssPort = await freePort();
      lines.push(`listener ${wssPort} 127.0.0.1`, 'protocol websockets', 'allow_anonymous true', `cafile ${pki.ca}`, `certfile ${pki.serverCert}`, `keyfile ${pki.serverKey}`);
    }
  }
  if (opts.users) {
    authPort = await freePort();
    const pw = join(dir, 'passwd');
    writeFileSync(pw, '');
    for (const [u, p] of Object.entries(opts.users)) execFileSync('mosquitto_passwd', ['-b', pw, u, p], { stdio: 'pipe' });
    const acl = join(dir, 'acl');
    writeFileSync(acl, opts.acl ?? '');
    lines.push(`listener ${authPort} 127.0.0.1`, 'allow_anonymous false', `password_file ${pw}`, `acl_file ${acl}`);
  }
  if (opts.extra) lines.push(...opts.extra);
  const conf = join(dir, 'mosquitto.conf');
  writeFileSync(conf, lines.filter(Boolean).join('\n') + '\n');
  const logFile = join(dir, 'mosquitto.log');
  writeFileSync(logFile, '');
  let proc: ChildProcess | undefined;
  const start = async (): Promise<void> => {
    proc = spawn(MOSQUITTO, ['-c', conf], { stdio: ['ignore', 'ignore', 'pipe'] });
    proc.stderr?.on('data', (d: Buffer) => writeFileSync(logFile, readFileSync(logFile, 'utf8') + d.toString()));
    await waitListening(port, proc, logFile);
    if (tlsPort) await waitListening(tlsPort, proc, logFile);
    if (authPort) await waitListening(authPort, proc, logFile);
    if (wsPort) await waitListening(wsPort, proc, logFile);
    if (wssPort) await waitListening(wssPort, proc, logFile);
  };
  const stop = async (): Promise<void> => {
    const p = proc;
    if (!p || p.exitCode !== null || p.signalCode !== null) return;
    const exited = new Promise<void>((r) => p.once('exit', () => r()));
    p.kill('SIGTERM');
    p.kill('SIGCONT');
    await exited;
  };
  const pause = (): void => {
    proc?.kill('SIGSTOP');
  };
  await start();
  return {
    dir,
    port,
    url: `mqtt://127.0.0.1:${port}`,
    tlsPort,
    tlsUrl: tlsPort ? `mqtts://127.0.0.1:${tlsPort}` : undefined,
    authPort,
    authUrl: authPort ? `mqtt://127.0.0.1:${authPort}` : undefined,
    wsUrl: wsPort ? `ws://127.0.0.1:${wsPort}` : undefined,
    wssUrl: wssPort ? `wss://127.0.0.1:${wssPort}` : undefined,
    pki,
    log: () => readFileSync(logFile, 'utf8'),
    stop,
    pause,
    start,
    running: () => Boolean(proc && proc.exitCode === null && proc.signalCode === null),
    close: async () => {
      await stop();
      rmSync(dir, { recursive: true, force: true });
    },
  };
}
