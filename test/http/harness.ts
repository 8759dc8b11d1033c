/**
 * A real gateway for the HTTP tests: the daemon's own startGateway with the
 * registry's drivers (sim readers from the config) and the HTTP service,
 * listening on a free loopback port, state in a fresh temp dir.
 */
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { stringify } from 'yaml';
import { resolveConfig } from '../../src/config/load.js';
import { createLogger, LogRing } from '../../src/log/index.js';
import { startGateway, type Gateway } from '../../src/daemon/gateway.js';
import { DRIVERS, SERVICES, type DriverEntry } from '../../src/daemon/registry.js';
import { createSimDriver } from '../../drivers/sim/index.js';
import { createHttpService } from '../../src/api/http/index.js';
import { setPassword } from '../../src/api/http/auth/password.js';
import { waitFor } from '../helpers/wait-for.js';

export const PASSWORD = 'correct horse battery staple';

export interface TestGateway {
  gw: Gateway;
  url: string;
  stateDir: string;
  configFile: string;
  dir: string;
  ring: LogRing;
  stop(): Promise<void>;
}

export interface HarnessOptions {
  /** Extra config merged over the defaults (deep for http). */
  config?: Record<string, unknown>;
  /** Skip setting the password (first-start tests). */
  noPassword?: boolean;
  /** Run as if on the embedded default (no config file to edit). */
  noConfigFile?: boolean;
  /** Other registry services to run besides http (e.g. ['control'], ['mqtt']). */
  services?: string[];
  /** SCARDGATE_* variables the configuration is resolved with (default none). */
  env?: NodeJS.ProcessEnv;
}

/** Until the registry lists the sim driver itself. */
const SIM_ENTRY: DriverEntry = {
  name: 'sim',
  enabled: (c) => c.drivers.sim.readers.length > 0,
  create: async (c, ctx) => createSimDriver(c.drivers.sim, ctx),
};

export async function startTestGateway(opts: HarnessOptions = {}): Promise<TestGateway> {
  const dir = await mkdtemp(join(tmpdir(), 'scardgate-http-'));
  const stateDir = join(dir, 'state');
  const extra = opts.config ?? {};
  const content = {
    gatewayId: 'gw-test',
    log: { level: 'debug' },
    state: { dir: stateDir },
    control: { socket: join(dir, 'ctl.sock') },
    pcsc: { enabled: false, socket: join(dir, 'pcscd.comm') },
    mqtt: { enabled: false },
    ...extra,
    drivers: { sim: { readers: [{ name: 'Sim A' }, { name: 'Sim B' }] }, ...((extra.drivers as Record<string, unknown>) ?? {}) },
    http: { host: '127.0.0.1', port: 0, ...((extra.http as Record<string, unknown>) ?? {}) },
  };
  const configFile = join(dir, 'scardgate.yaml');
  await writeFile(configFile, stringify(content));
  const loaded = resolveConfig(content, configFile, { env: opts.env ?? {} });
  if (!opts.noPassword) await setPassword(stateDir, PASSWORD);
  const ring = new LogRing(loaded.config.http.logLines);
  const log = createLogger({ level: 'debug', ring, destination: { write: () => true } as unknown as NodeJS.WritableStream });
  const gw = await startGateway({
    config: loaded.config,
    gatewayId: loaded.gatewayId,
    log,
    version: '0.0.0-test',
    logRing: ring,
    configFile: opts.noConfigFile ? undefined : configFile,
    env: opts.env ?? {},
    drivers: DRIVERS.some((d) => d.name === 'sim') ? DRIVERS : [...DRIVERS, SIM_ENTRY],
    services: [
      ...SERVICES.filter((s) => opts.services?.includes(s.name) || s.name === 'events'),
      { name: 'http', enabled: () => true, load: async () => createHttpService },
    ],
  });
  const url = gw.addresses().http;
  if (!url) throw new Error('HTTP service did not report its address');
  return {
    gw,
    url: url.replace(/\/$/, ''),
    stateDir,
    configFile,
    dir,
    ring,
    async stop() {
      await gw.stop();
      await rm(dir, { recursive: true, force: true });
    },
  };
}

/** A small fetch-based client that keeps the session cookie and CSRF token like the UI does. */
export class Client {
  cookie = '';
  csrf = '';
  constructor(readonly base: string) {}

  async req(method: string, path: string, body?: unknown, headers: Record<string, string> = {}): Promise<{ status: number; json: any; headers: Headers; text: string }> {
    const h: Record<string, string> = { ...headers };
    if (this.cookie) h.cookie = this.cookie;
    if (this.csrf && method !== 'GET' && !('x-csrf-token' in h)) h['x-csrf-token'] = this.csrf;
    let payload: string | undefined;
    if (body !== undefined) {
      payload = typeof body === 'string' ? body : JSON.stringify(body);
      h['content-type'] ??= 'application/json';
    }
    const res = await fetch(this.base + path, { method, headers: h, body: payload });
    const text = await res.text();
    let json: any;
    try {
      json = JSON.parse(text);
    } catch {
      json = undefined;
    }
    return { status: res.status, json, headers: res.headers, text };
  }

  async login(password = PASSWORD): Promise<void> {
    const res = await fetch(this.base + '/api/auth/login', { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify({ password }) });
    if (res.status !== 200) throw new Error(`login failed: ${res.status} ${await res.text()}`);
    const set = res.headers.getSetCookie();
    this.cookie = set.map((c) => c.split(';')[0]).join('; ');
    this.csrf = ((await res.json()) as { csrfToken: string }).csrfToken;
  }
}

/** Polls `cond` until true (asynchronous clean-up such as closing a card session); throws after `boundMs`. */
export async function eventually(cond: () => boolean, what: string, boundMs = 5000): Promise<void> {
  await waitFor(cond, what, boundMs);
}
