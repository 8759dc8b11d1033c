/**
 * Loading the configuration: YAML file -> SCARDGATE_* environment overrides ->
 * schema defaults -> validation. Every problem is reported at once as
 * `key.path: problem (expected ...)`, so a technician fixes the file in one go.
 */
import { readFileSync } from 'node:fs';
import { hostname } from 'node:os';
import { join, resolve } from 'node:path';
import { LineCounter, parseDocument } from 'yaml';
import { Kind, type TSchema } from '@sinclair/typebox';
import { Value, ValueErrorType, type ValueError } from '@sinclair/typebox/value';
import { ConfigSchema, type Config } from './schema.js';
import { packageRoot } from './package-root.js';

export { packageRoot } from './package-root.js';
import { ENV_PREFIX, describeType, enumValues, schemaAt, walkKeys, type ConfigKey } from './keys.js';

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

/** drivers.sim.readers[0].name from ["drivers","sim","readers","0","name"]. */
export function formatPath(segments: readonly string[]): string {
  let out = '';
  for (const s of segments) {
    if (/^\d+$/.test(s)) out += `[${s}]`;
    else out += out ? `.${s}` : s;
  }
  return out || '(top level)';
}

function show(v: unknown): string {
  let s: string;
  try {
    s = JSON.stringify(v) ?? String(v);
  } catch {
    s = String(v);
  }
  return s.length > 60 ? `${s.slice(0, 57)}...` : s;
}

function typeName(v: unknown): string {
  if (v === null) return 'null';
  if (Array.isArray(v)) return 'list';
  if (typeof v === 'object') return 'mapping';
  return typeof v;
}

const TYPE_ERRORS = new Set<ValueErrorType>([
  ValueErrorType.String,
  ValueErrorType.Integer,
  ValueErrorType.Number,
  ValueErrorType.Boolean,
  ValueErrorType.Object,
  ValueErrorType.Array,
  ValueErrorType.Null,
]);

const CONSTRAINT_TEXT = new Map<ValueErrorType, string>([
  [ValueErrorType.IntegerMaximum, 'is out of range'],
  [ValueErrorType.IntegerMinimum, 'is out of range'],
  [ValueErrorType.IntegerExclusiveMaximum, 'is out of range'],
  [ValueErrorType.IntegerExclusiveMinimum, 'is out of range'],
  [ValueErrorType.NumberMaximum, 'is out of range'],
  [ValueErrorType.NumberMinimum, 'is out of range'],
  [ValueErrorType.NumberExclusiveMaximum, 'is out of range'],
  [ValueErrorType.NumberExclusiveMinimum, 'is out of range'],
  [ValueErrorType.StringMinLength, 'is too short'],
  [ValueErrorType.StringMaxLength, 'is too long'],
  [ValueErrorType.StringPattern, 'does not match the pattern'],
  [ValueErrorType.StringFormat, 'has the wrong format'],
  [ValueErrorType.ArrayMinItems, 'has too few items'],
  [ValueErrorType.ArrayMaxItems, 'has too many items'],
  [ValueErrorType.ArrayUniqueItems, 'has duplicate items'],
]);

/** Lists where the schema wants a mapping: TypeBox would read their indexes as unknown keys. */
function listsForMappings(value: unknown, schema: TSchema | undefined, segs: string[], out: Map<string, string>): void {
  if (!schema) return;
  if (schema[Kind] === 'Object') {
    if (Array.isArray(value)) {
      out.set('/' + segs.join('/'), `${formatPath(segs)}: wrong type: list (expected a mapping of keys)`);
      return;
    }
    if (!isMapping(value)) return;
    const props = (schema.properties ?? {}) as Record<string, TSchema>;
    for (const [k, v] of Object.entries(value)) listsForMappings(v, props[k], [...segs, k], out);
  } else if (schema[Kind] === 'Array' && Array.isArray(value)) {
    value.forEach((v, i) => listsForMappings(v, schema.items as TSchema, [...segs, String(i)], out));
  }
}

/** The literal values a union accepts, nested unions included. */
function unionLiterals(schema: TSchema): string[] {
  if (schema[Kind] !== 'Union') return [];
  const out: string[] = [];
  for (const s of (schema.anyOf as TSchema[]) ?? []) {
    if (s.const !== undefined) out.push(String(s.const));
    else out.push(...unionLiterals(s));
  }
  return out;
}

function describeError(e: ValueError): string {
  const segs = e.path.split('/').slice(1);
  const schema = e.schema as TSchema;
  if (e.type === ValueErrorType.ObjectAdditionalProperties) {
    const parent = schemaAt(segs.slice(0, -1));
    const allowed = Object.keys((parent?.properties as Record<string, unknown> | undefined) ?? {});
    return `unknown key (expected one of: ${allowed.join(', ')})`;
  }
  if (e.type === ValueErrorType.ObjectRequiredProperty || (e.value === undefined && TYPE_ERRORS.has(e.type))) {
    const s = schemaAt(segs) ?? schema;
    return `missing (expected ${describeType(s)})`;
  }
  const en = enumValues(schema);
  if (en) return `${show(e.value)} is not allowed (expected one of: ${en.join(', ')})`;
  // A union of names and a mapping (a simulated card: "iso7816" or { type: iso7816, ... }): one line naming the valid names.
  const names = unionLiterals(schema);
  if (names.length > 0) {
    const hasMapping = (schema.anyOf as TSchema[] | undefined)?.some((s) => s.type === 'object');
    const typed = e.value && typeof e.value === 'object' ? (e.value as { type?: unknown }).type : e.value;
    return `${show(typed)} is not one of the valid names: ${names.join(', ')}${hasMapping ? ' (or a mapping with type: one of them)' : ''}`;
  }
  if (TYPE_ERRORS.has(e.type) || (e.type === ValueErrorType.Union && schema[Kind] === 'Union')) {
    return `wrong type: ${typeName(e.value)} ${show(e.value)} (expected ${describeType(schema)})`;
  }
  const why = CONSTRAINT_TEXT.get(e.type);
  if (why) return `${show(e.value)} ${why} (expected ${describeType(schema)})`;
  return `${show(e.value)} is invalid: ${e.message.charAt(0).toLowerCase()}${e.message.slice(1)} (expected ${describeType(schema)})`;
}

/** Turn one environment value into the key's type, or explain why it cannot be. */
export function parseEnvValue(key: ConfigKey, raw: string): unknown {
  const fail = (why: string): never => {
    throw new Error(`${key.env}=${show(raw)}: ${why} (expected ${key.type}, for ${key.path})`);
  };
  switch (key.envKind) {
    case 'string':
      return raw;
    case 'integer':
      if (!/^[+-]?\d+$/.test(raw.trim())) fail('not an integer');
      return Number(raw.trim());
    case 'number': {
      const n = Number(raw.trim());
      if (raw.trim() === '' || !Number.isFinite(n)) fail('not a number');
      return n;
    }
    case 'boolean': {
      const v = raw.trim().toLowerCase();
      if (['true', '1', 'yes', 'on'].includes(v)) return true;
      if (['false', '0', 'no', 'off'].includes(v)) return false;
      return fail('not a boolean (use true/false, 1/0, yes/no, on/off)');
    }
    case 'enum': {
      const values = enumValues(key.schema) ?? [];
      const hit = values.find((v) => String(v) === raw.trim());
      if (hit === undefined) fail('not an allowed value');
      return hit;
    }
    case 'json':
      try {
        return JSON.parse(raw);
      } catch (err) {
        return fail(`not valid JSON (${(err as Error).message})`);
      }
  }
}

function isMapping(v: unknown): v is Record<string, unknown> {
  return typeof v === 'object' && v !== null && !Array.isArray(v);
}

/**
 * Apply SCARDGATE_<KEY_PATH> variables onto the raw file content (in place).
 * Returns the problems (bad values) and remarks (unknown SCARDGATE_* names).
 */
export function applyEnvOverrides(
  raw: Record<string, unknown>,
  env: NodeJS.ProcessEnv,
): { problems: string[]; warnings: string[]; applied: Record<string, string> } {
  const problems: string[] = [];
  const warnings: string[] = [];
  const applied: Record<string, string> = {};
  const keys = walkKeys();
  const byEnv = new Map(keys.map((k) => [k.env, k]));
  for (const name of Object.keys(env).sort()) {
    if (!name.startsWith(ENV_PREFIX)) continue;
    const rawValue = env[name];
    if (rawValue === undefined) continue;
    const key = byEnv.get(name);
    if (!key) {
      warnings.push(`${name} is not a configuration variable (ignored)`);
      continue;
    }
    let value: unknown;
    try {
      value = parseEnvValue(key, rawValue);
    } catch (err) {
      problems.push((err as Error).message);
      continue;
    }
    const segs = key.path.split('.');
    let node: Record<string, unknown> = raw;
    let blocked: string | undefined;
    for (let i = 0; i < segs.length - 1; i++) {
      const next = node[segs[i]];
      if (next === undefined || next === null) node[segs[i]] = {};
      else if (!isMapping(next)) {
        blocked = formatPath(segs.slice(0, i + 1));
        break;
      }
      node = node[segs[i]] as Record<string, unknown>;
    }
    if (blocked) {
      problems.push(`${name}: cannot override ${key.path} because ${blocked} in the file is not a mapping`);
      continue;
    }
    node[segs[segs.length - 1]] = value;
    applied[key.path] = name;
  }
  return { problems, warnings, applied };
}

/** Checks across keys that the schema cannot express. */
function crossChecks(c: Config): string[] {
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
 * Validate raw config content (the parsed YAML, or {}): env overrides, defaults,
 * validation. Throws ConfigError listing every problem.
 */
export function resolveConfig(content: unknown, source: string, opts: LoadOptions = {}): LoadedConfig {
  const env = opts.env ?? process.env;
  if (content === null || content === undefined) content = {};
  if (!isMapping(content)) {
    throw new ConfigError(source, [`(top level): wrong type: ${typeName(content)} (expected a mapping of keys)`]);
  }
  const raw = structuredClone(content);
  const { problems, warnings, applied } = applyEnvOverrides(raw, env);
  const shape = new Map<string, string>();
  listsForMappings(raw, ConfigSchema, [], shape);
  problems.push(...shape.values());
  const withDefaults = Value.Default(ConfigSchema, raw) as Record<string, unknown>;
  const seen = new Set<string>(shape.keys());
  for (const e of Value.Errors(ConfigSchema, withDefaults)) {
    if (seen.has(e.path)) continue;
    // A parent's union/type error already explains its children.
    if ([...seen].some((p) => e.path.startsWith(`${p}/`))) continue;
    seen.add(e.path);
    const segs = e.path.split('/').slice(1);
    const dotted = formatPath(segs);
    const fromEnv = Object.entries(applied).find(([p]) => dotted === p || dotted.startsWith(`${p}.`) || dotted.startsWith(`${p}[`));
    problems.push(`${dotted}: ${describeError(e)}${fromEnv ? ` (set by ${fromEnv[1]})` : ''}`);
  }
  if (problems.length === 0) problems.push(...crossChecks(withDefaults as Config));
  if (problems.length > 0) throw new ConfigError(source, problems);
  const config = withDefaults as Config & { gatewayId: string };
  const gatewayId = config.gatewayId ?? topicSafeHostname(opts.hostname);
  config.gatewayId = gatewayId;
  return { config, gatewayId, source, envOverrides: applied, warnings };
}

/** Parse YAML text; syntax errors become ConfigError lines with line:column. */
export function parseYaml(text: string, source: string): unknown {
  const lines = new LineCounter();
  const doc = parseDocument(text, { prettyErrors: false, uniqueKeys: true, lineCounter: lines });
  if (doc.errors.length > 0) {
    throw new ConfigError(
      source,
      doc.errors.map((e) => {
        const pos = e.linePos?.[0] ?? lines.linePos(e.pos[0]);
        return `${pos ? `line ${pos.line}, column ${pos.col}` : 'YAML'}: ${e.message.split('\n')[0]} (expected valid YAML)`;
      }),
    );
  }
  try {
    // Aliases are resolved here: an unknown anchor or an alias bomb (maxAliasCount) ends up as a problem line.
    return doc.toJS({ maxAliasCount: 100 });
  } catch (err) {
    throw new ConfigError(source, [`YAML: ${(err as Error).message.split('\n')[0]} (expected valid YAML)`]);
  }
}

/** Load a YAML config file (or the embedded default when `file` is undefined). */
export function loadConfig(file?: string, opts: LoadOptions = {}): LoadedConfig {
  const path = file ?? defaultConfigPath();
  const source = file ?? `${path} (embedded default)`;
  let text: string;
  try {
    text = readFileSync(path, 'utf8');
  } catch (err) {
    const code = (err as NodeJS.ErrnoException).code;
    const why = code === 'ENOENT' ? 'file not found' : code === 'EACCES' ? 'permission denied' : code === 'EISDIR' ? 'is a directory' : (err as Error).message;
    throw new ConfigError(source, [`${path}: ${why} (expected a readable YAML file)`]);
  }
  return resolveConfig(parseYaml(text, source), source, opts);
}
