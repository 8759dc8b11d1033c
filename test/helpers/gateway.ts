/**
 * An in-process gateway for tests: the real core, the sim driver and the
 * services you name, composed exactly as the daemon composes them
 * (src/daemon/gateway.ts), with sockets and state in a fresh temporary
 * directory and logs captured in memory.
 *
 *   const gw = await startTestGateway({ services: ['control', 'pcsc'] });
 *   gw.core.readers(); gw.config.pcsc.socket; gw.logs.waitFor(...);
 *   await gw.stop();
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { LevelWithSilent } from 'pino';
import { resolveConfig } from '../../src/config/load.js';
import { defaultChoices } from '../../src/config/default-yaml.js';
import { schemaAt } from '../../src/config/keys.js';
import type { Config } from '../../src/config/schema.js';
import type { ScardCore } from '../../src/core/api.js';
import { startGateway, type Gateway } from '../../src/daemon/gateway.js';
import { DRIVERS, SERVICES, type DriverEntry } from '../../src/daemon/registry.js';
import { createLogger, LogRing, type Logger } from '../../src/log/index.js';
import { LogCapture } from './log-capture.js';

export { LogCapture, type LogLine } from './log-capture.js';

/** Services by registry name: 'control', 'pcsc', 'mqtt', 'http' (as they land). */
export type ServiceName = string;

export interface TestGatewayOptions {
  /** Which services to start (default: none). Their `enabled` flags are set for you. */
  services?: ServiceName[];
  /**
   * Raw config merged over the test base (deep merge of objects; arrays replace).
   * Default sim readers: the embedded default's four.
   */
  config?: Record<string, unknown>;
  /** Default 'debug' so tests can look at details; 'silent' to keep nothing. */
  logLevel?: LevelWithSilent;
  /** Keep the temp dir after stop (debugging). */
  keepDir?: boolean;
  /** The driver registry (default: the daemon's). */
  drivers?: DriverEntry[];
}

export interface TestGateway {
  core: ScardCore;
  gateway: Gateway;
  config: Config & { gatewayId: string };
  /** The temporary directory holding sockets (run/) and state (state/). */
  dir: string;
  log: Logger;
  logs: LogCapture;
  /** Stop services, core, and remove the temp dir. Safe to call twice. */
  stop(): Promise<void>;
}

function isObj(v: unknown): v is Record<string, unknown> {
  return typeof v === 'object' && v !== null && !Array.isArray(v);
}

export function deepMerge(base: Record<string, unknown>, over: Record<string, unknown>): Record<string, unknown> {
  const out: Record<string, unknown> = { ...base };
  for (const [k, v] of Object.entries(over)) out[k] = isObj(v) && isObj(out[k]) ? deepMerge(out[k] as Record<string, unknown>, v) : v;
  return out;
}

/** The base raw config for a test gateway in `dir`: everything local and in the temp dir, no frontend enabled. */
export function testConfig(dir: string, services: ServiceName[] = []): Record<string, unknown> {
  const on = (name: string): boolean => services.includes(name);
  return deepMerge(defaultChoices(), {
    gatewayId: 'test-gw',
    log: { level: 'debug' },
    state: { dir: join(dir, 'state') },
    control: { socket: join(dir, 'run', 'scardgate.ctl') },
    pcsc: { enabled: on('pcsc'), socket: join(dir, 'run', 'pcscd.comm') },
    // The built-in broker on a free port, so tests can run side by side.
    mqtt: { enabled: on('mqtt'), ...(schemaAt(['mqtt', 'embedded', 'port']) ? { embedded: { port: 0 } } : {}) },
    http: { enabled: on('http'), host: '127.0.0.1', port: 0 },
  });
}

export async function startTestGateway(opts: TestGatewayOptions = {}): Promise<TestGateway> {
  const dir = mkdtempSync(join(tmpdir(), 'scardgate-gw-'));
  const services = opts.services ?? [];
  const unknown = services.filter((s) => !SERVICES.some((e) => e.name === s));
  if (unknown.length) throw new Error(`unknown service(s) ${unknown.join(', ')}; registered: ${SERVICES.map((e) => e.name).join(', ')}`);
  const raw = deepMerge(testConfig(dir, services), opts.config ?? {});
  const { config, gatewayId } = resolveConfig(raw, 'test gateway', { env: {} });
  const logs = new LogCapture();
  const log = createLogger({ level: opts.logLevel ?? 'debug', destination: logs.stream });
  let gateway: Gateway;
  try {
    gateway = await startGateway({
      config,
      gatewayId,
      log,
      version: 'test',
      logRing: new LogRing(config.http.logLines),
      drivers: opts.drivers ?? DRIVERS,
      // The events journal comes with the frontends that use it, as the daemon's registry has it.
      services: SERVICES.filter((e) => services.includes(e.name) || (e.name === 'events' && (services.includes('mqtt') || services.includes('http')))).map((e) =>
        // Asked for by name, the events service runs even without a frontend that shows events.
        e.name === 'events' && services.includes('events') ? { ...e, enabled: () => true } : e,
      ),
    });
  } catch (err) {
    rmSync(dir, { recursive: true, force: true });
    throw err;
  }
  let stopped = false;
  return {
    core: gateway.core,
    gateway,
    config,
    dir,
    log,
    logs,
    async stop() {
      if (stopped) return;
      stopped = true;
      await gateway.stop();
      if (!opts.keepDir) rmSync(dir, { recursive: true, force: true });
    },
  };
}
