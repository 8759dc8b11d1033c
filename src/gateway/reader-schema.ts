/**
 * The reader set-up's view of the configuration schema: which drivers take
 * readers (and the schema of one), and a candidate reader validated as start-up
 * would validate it. Apart from src/gateway/reader-setup.ts because it needs
 * the schema and TypeBox, which the daemon imports only when a set-up
 * operation runs (README, "Idle memory").
 */
import type { TSchema } from '@sinclair/typebox';
import { ConfigSchema, type Config } from '../config/schema.js';
import { ConfigError, resolveConfig } from '../config/load.js';
import { invalid } from './errors.js';

/**
 * The list under a driver's section that holds its readers: `readers` for most,
 * `emulate` for CCID (real CCID readers need no entry).
 */
const LIST_KEY: Record<string, string> = { ccid: 'emulate' };
export const listKeyOf = (driver: string): string => LIST_KEY[driver] ?? 'readers';

/** Drivers whose config section holds a reader list, with that list's item schema. */
export function readerDrivers(): Array<{ name: string; listKey: string; readerSchema: TSchema }> {
  const drivers = (ConfigSchema.properties.drivers as unknown as { properties: Record<string, TSchema> }).properties;
  const out: Array<{ name: string; listKey: string; readerSchema: TSchema }> = [];
  for (const [name, section] of Object.entries(drivers)) {
    const listKey = listKeyOf(name);
    const list = (section as { properties?: Record<string, TSchema> }).properties?.[listKey] as { items?: TSchema } | undefined;
    if (list?.items) out.push({ name, listKey, readerSchema: list.items });
  }
  return out;
}

export function knownDriver(driver: string): void {
  if (!readerDrivers().some((d) => d.name === driver)) {
    throw invalid(`driver: "${driver}" takes no readers in this build (expected one of: ${readerDrivers().map((d) => d.name).join(', ')})`);
  }
}

export const readersOf = (config: Config, driver: string): Array<Record<string, unknown>> =>
  ((config.drivers as unknown as Record<string, Record<string, Array<Record<string, unknown>> | undefined>>)[driver]?.[listKeyOf(driver)] ?? []);

/**
 * The candidate reader validated as start-up would validate it, defaults filled: the running
 * configuration with only this reader under its driver. Problems name the key path.
 */
export function checkCandidate(config: Config, driver: string, reader: Record<string, unknown>): { config: Config; reader: Record<string, unknown> } {
  const raw = JSON.parse(JSON.stringify(config)) as Record<string, Record<string, Record<string, unknown>>>;
  const key = listKeyOf(driver);
  raw.drivers[driver] = { ...raw.drivers[driver], [key]: [reader] };
  try {
    const loaded = resolveConfig(raw, 'candidate reader', { env: {} });
    return { config: loaded.config, reader: readersOf(loaded.config, driver)[0] };
  } catch (e) {
    if (e instanceof ConfigError) {
      const problems = e.problems.map((p) => p.replace(`drivers.${driver}.${key}[0]`, 'reader'));
      throw invalid(`invalid reader: ${problems.join('; ')}`);
    }
    throw e;
  }
}
