/**
 * How the daemon composes its parts: every frontend and background service is a
 * Service started after the core and its drivers (an early one, the events
 * journal, before the drivers), stopped in reverse order.
 */
import type { Logger } from 'pino';
import type { ScardCore } from '../core/api.js';
import type { Config } from '../config/schema.js';
import type { LogRing } from '../log/index.js';
import type { GatewayApi } from '../gateway/api.js';

export interface ServiceContext {
  core: ScardCore;
  /** The application layer (src/gateway): every operation a frontend offers. Frontends call this, not the core. */
  api: GatewayApi;
  config: Config;
  /** The daemon's root logger: name your lines with `log.child({ module: '<service>' })`. */
  log: Logger;
  /** Resolved gateway id (config.gatewayId or the topic-safe host name). */
  gatewayId: string;
  version: string;
  startedAt: Date;
  /** Diagnostics of every service by name, for the HTTP diagnostics route and MQTT gateway info. */
  diagnostics(): Record<string, unknown>;
  /** Recent log lines (JSON text) and a live 'line' feed, for the web UI's logs view. */
  logRing?: LogRing;
  /** The YAML file the configuration was loaded from (undefined: the embedded default); the web UI's editor writes it. */
  configFile?: string;
  /**
   * Restart running services by name with a new configuration (the web UI's
   * config editor). Names that are not a restartable running service come back as pending.
   */
  restartServices?(names: string[], config: Config): Promise<{ restarted: string[]; pending: string[]; failed: Array<{ part: string; error: string }> }>;
  /** True while the daemon's drivers are still listing their first readers (early services start before them). */
  listingReaders?(): boolean;
  /** Restart the whole gateway with the file re-read (web UI's restart button); set by the daemon (main.ts). */
  requestRestart?(): Promise<void>;
}

export interface Service {
  readonly name: string;
  start(): Promise<void>;
  /** Stop accepting work, finish or fail in-flight work within a bound, release resources. */
  stop(): Promise<void>;
  diagnostics?(): Record<string, unknown>;
  /** Where it listens once started (socket paths, URLs), by name: logged in the "ready" line. */
  addresses?(): Record<string, string>;
}

export type ServiceFactory = (ctx: ServiceContext) => Service;
