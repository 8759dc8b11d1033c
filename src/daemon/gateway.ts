/**
 * The gateway as one object: core, drivers and frontend services composed from
 * a validated config, started in order and stopped in reverse. The daemon
 * (main.ts) and the in-process test helper both use this, so tests run what
 * production runs.
 */
import { mkdir } from 'node:fs/promises';
import { isNotWritable } from '../fs/not-writable.js';
import type { Logger } from 'pino';
import type { Config } from '../config/schema.js';
import type { ScardCore } from '../core/api.js';
import type { Driver } from '../driver/contract.js';
import type { LogRing } from '../log/index.js';
import { DRIVERS, SERVICES, createCore, type DriverEntry, type ServiceEntry } from './registry.js';
import type { Service, ServiceContext } from './service.js';
import { loopLag, startLoopLag } from './loop-lag.js';
import { memoryFigures } from './heap-trim.js';
import { GatewayApi } from '../gateway/api.js';
import { ConfigStore } from '../gateway/config-store.js';
import { ReaderSetup } from '../gateway/reader-setup.js';
import { GatewayHealth } from '../gateway/health.js';
import { tokenFileStore } from './token-store.js';
import { CARD_TYPES } from '../../drivers/sim/cards/card.js';

export interface GatewayOptions {
  config: Config;
  gatewayId: string;
  log: Logger;
  version: string;
  logRing?: LogRing;
  /** The YAML file the config came from, for services that edit it (web UI). */
  configFile?: string;
  /** Environment the configuration was resolved with (SCARDGATE_* overrides); default process.env. */
  env?: NodeJS.ProcessEnv;
  /** Whole-gateway restart offered to services (the daemon sets it). */
  requestRestart?: () => Promise<void>;
  /** Override the registry (tests); default: every enabled entry. */
  drivers?: DriverEntry[];
  services?: ServiceEntry[];
}

export interface Gateway {
  core: ScardCore;
  drivers: Driver[];
  services: Service[];
  context: ServiceContext;
  /** The running configuration's owner: SIGHUP and the web editor apply changes through it. */
  configStore: ConfigStore;
  /** Milliseconds each start-up step took (core, driver:<name>, <service>), for the ready line and bench/startup. */
  timings: Record<string, number>;
  /** Bound addresses of every service (socket paths, URLs). */
  addresses(): Record<string, string>;
  /** Stop services in reverse order, then the core (drivers, cards unpowered). Never rejects. */
  stop(): Promise<void>;
}

export async function startGateway(opts: GatewayOptions): Promise<Gateway> {
  const { config, log } = opts;
  const timings: Record<string, number> = {};
  let mark = performance.now();
  const lap = (name: string): void => {
    const now = performance.now();
    timings[name] = Math.round((now - mark) * 10) / 10;
    mark = now;
  };
  // A state directory that takes no writes (read-only file system, no permission) degrades what needs it (event
  // recording, generated credentials), each saying so; it does not keep the readers from working.
  await mkdir(config.state.dir, { recursive: true }).catch((e: NodeJS.ErrnoException) => {
    if (!isNotWritable(e) && e.code !== 'ENOENT') throw e;
    log.warn({ dir: config.state.dir, code: e.code }, 'state directory cannot be created; continuing without it');
  });
  startLoopLag();
  const core = await createCore({ config, log: log.child({ module: 'core' }) });
  lap('core');
  const services: Service[] = [];
  const drivers: Driver[] = [];
  const startedAt = new Date();
  const configStore = new ConfigStore({
    file: opts.configFile,
    config,
    env: opts.env ?? process.env,
    log,
    running: () => services.map((s) => s.name),
    restart: (names, next) => restartServices(names, next),
  });
  const api: GatewayApi = new GatewayApi({
    config: configStore,
    core,
    log,
    gatewayId: opts.gatewayId,
    version: opts.version,
    startedAt,
    diagnostics: () => context.diagnostics(),
    tokens: tokenFileStore(config.state.dir),
    cardModels: CARD_TYPES,
    sessions: { maxSessions: config.mqtt.maxSessions, maxLeaseMs: config.mqtt.maxLeaseMs },
    health: new GatewayHealth({
      core,
      events: () => api.events(),
      diagnostics: () => context.diagnostics(),
      config: () => configStore.current(),
      gatewayId: opts.gatewayId,
      version: opts.version,
      startedAt,
    }),
    setup: new ReaderSetup({
      config: () => configStore.current(),
      core,
      log: log.child({ module: 'setup' }),
      // A probe builds the candidate's driver the way start-up does (the registry's entry for it).
      createDriver: async (name, c, ctx) => {
        const entry = (opts.drivers ?? DRIVERS).find((d) => d.name === name);
        if (!entry) throw new Error(`driver "${name}" is not in this build`);
        return entry.create(c, ctx);
      },
    }),
  });
  const context: ServiceContext = {
    core,
    api,
    config,
    log,
    gatewayId: opts.gatewayId,
    version: opts.version,
    startedAt,
    logRing: opts.logRing,
    configFile: opts.configFile,
    restartServices: (names, next) => restartServices(names, next),
    listingReaders: () => listing,
    requestRestart: opts.requestRestart,
    diagnostics() {
      const out: Record<string, unknown> = {
        gateway: {
          gatewayId: opts.gatewayId,
          version: opts.version,
          startedAt: context.startedAt.toISOString(),
          uptimeSec: Math.round((Date.now() - context.startedAt.getTime()) / 1000),
          pid: process.pid,
          node: process.version,
          rssBytes: process.memoryUsage().rss,
          memory: memoryFigures(),
          eventLoopDelay: loopLag(),
        },
        core: core.diagnostics(),
      };
      for (const d of drivers) if (d.diagnostics) out[`driver:${d.name}`] = d.diagnostics();
      for (const s of services) if (s.diagnostics) out[s.name] = s.diagnostics();
      return out;
    },
  };

  const stop = async (): Promise<void> => {
    for (const s of [...services].reverse()) {
      try {
        await s.stop();
      } catch (err) {
        log.error({ err, service: s.name }, 'service stop failed');
      }
    }
    services.length = 0;
    await api.close().catch((err: unknown) => log.error({ err }, 'closing sessions failed'));
    try {
      await core.stop();
    } catch (err) {
      log.error({ err }, 'core stop failed');
    }
  };

  /** Stop and re-create each named running service with `next`; the one asking (http) cannot restart itself mid-request. */
  const restartServices: NonNullable<ServiceContext['restartServices']> = async (names, next) => {
    const report = { restarted: [] as string[], pending: [] as string[], failed: [] as Array<{ part: string; error: string }> };
    for (const name of names) {
      const i = services.findIndex((s) => s.name === name);
      const entry = (opts.services ?? SERVICES).find((e) => e.name === name);
      if (i < 0 || !entry || name === 'http') {
        report.pending.push(name);
        continue;
      }
      try {
        await services[i].stop();
        const service = (await entry.load())({ ...context, config: next });
        services[i] = service;
        await service.start();
        report.restarted.push(name);
      } catch (err) {
        report.failed.push({ part: name, error: (err as Error).message });
      }
    }
    return report;
  };

  // Frontend modules load while the core and drivers come up (import is the bulk of a frontend's start-up).
  const serviceEntries = (opts.services ?? SERVICES).filter((e) => e.enabled(config));
  const loading = serviceEntries.map((e) => e.load());
  for (const l of loading) l.catch(() => undefined);

  let listing = true;
  try {
    // Early services (the events journal) first, alone and before any driver: a card read that comes and goes while
    // the gateway starts (an OSDP read the reader had queued, a quick tap) is an event like any other.
    for (const [i, entry] of serviceEntries.entries()) {
      if (!entry.early) continue;
      const service = (await loading[i])(context);
      await service.start();
      services.push(service);
      lap(entry.name);
    }
    for (const entry of opts.drivers ?? DRIVERS) {
      if (!entry.enabled(config)) continue;
      const driver = await entry.create(config, { log: log.child({ module: `driver:${entry.name}` }) });
      drivers.push(driver);
      await core.addDriver(driver);
      lap(`driver:${entry.name}`);
    }
    listing = false;
    // Services name themselves in their logs (child({ module })), so they get the root logger.
    const factories = await Promise.all(loading);
    const rest = serviceEntries.map((e, i) => (e.early ? undefined : factories[i](context)));
    lap('load frontends');
    // The rest together: they are independent, and one waiting on the network (a broker) need not hold the others.
    const t0 = performance.now();
    const outcomes = await Promise.allSettled(
      rest.map(async (service, i) => {
        if (!service) return;
        await service.start();
        timings[serviceEntries[i].name] = Math.round((performance.now() - t0) * 10) / 10;
      }),
    );
    mark = performance.now();
    // Registry order, so stop() goes in reverse of it.
    rest.forEach((service, i) => {
      if (service && outcomes[i].status === 'fulfilled') services.push(service);
    });
    const failed = outcomes.find((o): o is PromiseRejectedResult => o.status === 'rejected');
    if (failed) throw failed.reason;
  } catch (err) {
    await stop();
    throw err;
  }

  return {
    core,
    drivers,
    services,
    context,
    configStore,
    timings,
    addresses() {
      const out: Record<string, string> = {};
      for (const s of services) Object.assign(out, s.addresses?.() ?? {});
      return out;
    },
    stop,
  };
}
