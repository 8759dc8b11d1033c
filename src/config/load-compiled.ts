/**
 * Loading the configuration without TypeBox: YAML file -> SCARDGATE_*
 * environment overrides -> defaults -> check, with the schema compiled at build
 * time (src/config/schema-compiled.ts). A configuration that passes is all the
 * daemon needs; one that does not goes to src/config/load.ts, which asks
 * TypeBox why and reports every problem as `key.path: problem (expected ...)`
 * (imported then, not at start-up: README, "Idle memory"). The file is read
 * by the yaml library (src/config/yaml-read.ts).
 */
import { readFileSync } from 'node:fs';
import { hostname } from 'node:os';
import { join, resolve } from 'node:path';
import type { Config } from './schema.js';
import { packageRoot } from './package-root.js';
import { ENV_KEYS, checkConfig, defaultConfig } from './schema-compiled.js';
import { applyEnvOverrides as overrideFromEnv, isMapping } from './env.js';

export { packageRoot } from './package-root.js';

/** A configuration that cannot be used; `problems` holds one line per problem. */
export class ConfigError extends Error {
  readonly problems: string[];
  constructor(source: string, problems: string[]) {
    super(`invalid configuration (${source}):\n${problems.map((p) => `  - ${p}`).join('\n')}`);
    this.name = 'ConfigError';
    this.problems = problems;
  }
}

export interface LoadedConfig {
  /** Validated, defaults applied, gatewayId resolved. */
  config: Config & { gatewayId: string };
  gatewayId: string;
  /** File path, or "<embedded default>"/"<inline>" */
  source: string;
  /** Env variables that overrode a key, by key path. */
  envOverrides: Record<string, string>;
  /** Non-fatal remarks (e.g. an unrecognised SCARDGATE_* variable). */
  warnings: string[];
}

export interface LoadOptions {
  env?: NodeJS.ProcessEnv;
  /** Host name used for the default gatewayId (tests). */
  hostname?: string;
}

/** config/default.yaml shipped with the package: the embedded default. */
export function defaultConfigPath(): string {
  return join(packageRoot(), 'config', 'default.yaml');
}

/** The host name made safe for an MQTT topic level and the gatewayId pattern. */
export function topicSafeHostname(name = hostname()): string {
  const safe = name.replace(/[^A-Za-z0-9_.-]/g, '-').slice(0, 64);
  return safe.length > 0 ? safe : 'scardgate';
}

/**
 * Apply SCARDGATE_<KEY_PATH> variables onto the raw file content (in place).
 * Returns the problems (bad values) and remarks (unknown SCARDGATE_* names).
 */
export function applyEnvOverrides(raw: Record<string, unknown>, env: NodeJS.ProcessEnv): ReturnType<typeof overrideFromEnv> {
  return overrideFromEnv(raw, env, ENV_KEYS);
}

/** Checks across keys that the schema cannot express. */
export function crossChecks(c: Config): string[] {
  const out: string[] = [];
  // A broker takes a password only with a user name: without one it is never sent, and the connection fails later, unexplained.
  if (c.mqtt.password && !c.mqtt.username) out.push('mqtt.password: set without mqtt.username (expected mqtt.username too: a broker takes a password only with a user name)');
  const pair = (a: string, av: string, b: string, bv: string): void => {
    if (av && !bv) out.push(`${a}: set without ${b} (expected both, or neither)`);
    if (bv && !av) out.push(`${b}: set without ${a} (expected both, or neither)`);
  };
  pair('http.tls.cert', c.http.tls.cert, 'http.tls.key', c.http.tls.key);
  pair('mqtt.cert', c.mqtt.cert, 'mqtt.key', c.mqtt.key);
  if (c.pcsc.enabled && resolve(c.pcsc.socket) === resolve(c.control.socket)) {
    out.push(`control.socket: same path as pcsc.socket (${c.control.socket}) (expected a different socket path)`);
  }
  return out;
}

/**
 * The loaded configuration when `content` is valid, else undefined (src/config/load.ts
 * then says why). Only the compiled checker and defaults: no TypeBox.
 */
export function resolveValid(content: unknown, source: string, opts: LoadOptions = {}): LoadedConfig | undefined {
  const env = opts.env ?? process.env;
  if (content === null || content === undefined) content = {};
  if (!isMapping(content)) return undefined;
  const raw = structuredClone(content);
  const { problems, warnings, applied } = applyEnvOverrides(raw, env);
  if (problems.length > 0) return undefined;
  const withDefaults = defaultConfig(raw);
  if (!checkConfig(withDefaults) || crossChecks(withDefaults as Config).length > 0) return undefined;
  return loadedConfig(withDefaults as Config, source, applied, warnings, opts);
}

/** A valid configuration (defaults applied) as loaded: its gatewayId resolved (the host name when unset). */
export function loadedConfig(config: Config, source: string, envOverrides: Record<string, string>, warnings: string[], opts: LoadOptions = {}): LoadedConfig {
  const gatewayId = config.gatewayId ?? topicSafeHostname(opts.hostname);
  config.gatewayId = gatewayId;
  return { config: config as Config & { gatewayId: string }, gatewayId, source, envOverrides, warnings };
}

/**
 * One section of a configuration with the schema's defaults filled in (the compiled defaults, not TypeBox's
 * interpreter): what a service takes from a configuration that may predate the section.
 */
export function sectionWithDefaults<K extends keyof Config>(config: unknown, key: K): Config[K] {
  const section = (config as Partial<Record<K, unknown>>)[key] ?? {};
  return (defaultConfig({ [key]: structuredClone(section) }) as Config)[key];
}

/** A config file's text (or the embedded default's when `file` is undefined) and how problems name it. */
export function readConfigText(file?: string): { text: string; source: string } {
  const path = file ?? defaultConfigPath();
  const source = file ?? `${path} (embedded default)`;
  try {
    return { text: readFileSync(path, 'utf8'), source };
  } catch (err) {
    const code = (err as NodeJS.ErrnoException).code;
    const why = code === 'ENOENT' ? 'file not found' : code === 'EACCES' ? 'permission denied' : code === 'EISDIR' ? 'is a directory' : (err as Error).message;
    throw new ConfigError(source, [`${path}: ${why} (expected a readable YAML file)`]);
  }
}

/** parseYaml of src/config/yaml-read.ts (the yaml library, imported when a file is read: an environment-only start needs none). */
export async function parseYamlAsync(text: string, source: string): Promise<unknown> {
  return (await import('./yaml-read.js')).parseYaml(text, source);
}

/** resolveConfig of src/config/load.ts, with TypeBox imported only for a configuration that fails. */
export async function resolveConfigAsync(content: unknown, source: string, opts: LoadOptions = {}): Promise<LoadedConfig> {
  const valid = resolveValid(content, source, opts);
  if (valid) return valid;
  const { explainConfig } = await import('./load.js');
  return explainConfig(content, source, opts);
}

/** loadConfig of src/config/load.ts, with TypeBox imported only for a configuration that fails. */
export async function loadConfigAsync(file?: string, opts: LoadOptions = {}): Promise<LoadedConfig> {
  const { text, source } = readConfigText(file);
  return resolveConfigAsync(await parseYamlAsync(text, source), source, opts);
}
