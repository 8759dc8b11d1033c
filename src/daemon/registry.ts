/**
 * What the daemon can run, keyed by config: the core, one line per driver, one
 * line per frontend service. Modules are imported only when their part is
 * enabled, so a disabled frontend costs nothing at start-up.
 *
 * To add a part: one line in DRIVERS or SERVICES.
 */
import type { Config } from '../config/schema.js';
import type { ScardCore } from '../core/api.js';
import type { Driver, DriverContext } from '../driver/contract.js';
import type { Logger } from 'pino';
import type { ServiceFactory } from './service.js';

export interface DriverEntry {
  name: string;
  enabled(config: Config): boolean;
  create(config: Config, ctx: DriverContext): Promise<Driver>;
}

export interface ServiceEntry {
  name: string;
  enabled(config: Config): boolean;
  load(): Promise<ServiceFactory>;
}

export interface CoreOptions {
  config: Config;
  log: Logger;
}

// Hidden from the type checker until src/core/index.ts lands; then a plain import.
const CORE_MODULE: string = '../core/index.js';

export async function createCore(opts: CoreOptions): Promise<ScardCore> {
  const m = (await import(CORE_MODULE)) as { ResourceManager: new (o: unknown) => ScardCore };
  return new m.ResourceManager({ log: opts.log, transmitTimeoutMs: opts.config.core.transmitTimeoutMs, config: opts.config.core });
}

export const DRIVERS: DriverEntry[] = [];

/** Started in this order, stopped in reverse. */
export const SERVICES: ServiceEntry[] = [
  { name: 'control', enabled: () => true, load: async () => (await import('../api/control/service.js')).createControlService },
  { name: 'http', enabled: (c) => c.http.enabled, load: async () => (await import('../api/http/index.js')).createHttpService },
];
