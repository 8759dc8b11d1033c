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

export async function createCore(opts: CoreOptions): Promise<ScardCore> {
  const { ResourceManager } = await import('../core/index.js');
  return new ResourceManager({ log: opts.log, transmitTimeoutMs: opts.config.core.transmitTimeoutMs });
}

export const DRIVERS: DriverEntry[] = [
  {
    name: 'sim',
    enabled: (c) => c.drivers.sim.readers.length > 0,
    create: async (c, ctx) => (await import('../../drivers/sim/index.js')).createSimDriver(c.drivers.sim, ctx),
  },
  { name: 'vpcd', enabled: (c) => c.drivers.vpcd.enabled, create: async (c, ctx) => (await import('../../drivers/vpcd/index.js')).createVpcdDriver(c.drivers.vpcd, ctx) },
  { name: 'ccid', enabled: (c) => c.drivers.ccid.enabled || c.drivers.ccid.emulate.length > 0, create: async (c, ctx) => (await import('../../drivers/ccid/index.js')).createCcidDriver(c.drivers.ccid, ctx) },
  { name: 'pn532', enabled: (c) => c.drivers.pn532.readers.length > 0, create: async (c, ctx) => (await import('../../drivers/pn532/index.js')).createPn532Driver(c.drivers.pn532, ctx) },
  { name: 'osdp', enabled: (c) => c.drivers.osdp.buses.length > 0, create: async (c, ctx) => (await import('../../drivers/osdp/index.js')).createOsdpDriver(c.drivers.osdp, ctx) },
];

/** Started in this order, stopped in reverse. */
export const SERVICES: ServiceEntry[] = [
  { name: 'control', enabled: () => true, load: async () => (await import('../api/control/service.js')).createControlService },
  { name: 'pcsc', enabled: (c) => c.pcsc.enabled, load: async () => (await import('../api/pcsc/index.js')).createPcscService },
  { name: 'mqtt', enabled: (c) => c.mqtt.enabled, load: async () => (await import('../api/mqtt/index.js')).createMqttService },
  { name: 'http', enabled: (c) => c.http.enabled, load: async () => (await import('../api/http/index.js')).createHttpService },
  { name: 'osdp', enabled: (c) => c.osdp.enabled, load: async () => (await import('../api/osdp/index.js')).createOsdpService },
];
