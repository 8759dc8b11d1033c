/**
 * Loading the configuration: YAML file -> SCARDGATE_* environment overrides ->
 * schema defaults -> validation. Every problem is reported at once as
 * `key.path: problem (expected ...)`, so a technician fixes the file in one go.
 * A valid configuration is resolved by the compiled schema alone
 * (src/config/load-compiled.ts, what the daemon starts with); TypeBox's
 * `Value` here explains one that is not.
 */
import { Kind, type TSchema } from '@sinclair/typebox';
import { Value, ValueErrorType, type ValueError } from '@sinclair/typebox/value';
import { ConfigSchema, type Config } from './schema.js';
import { describeType, enumValues, schemaAt } from './keys.js';
import { formatPath, isMapping, show } from './env.js';
import { ConfigError, applyEnvOverrides, crossChecks, loadedConfig, readConfigText, resolveValid, type LoadOptions, type LoadedConfig } from './load-compiled.js';
import { parseYaml } from './yaml-read.js';

export {
  ConfigError,
  applyEnvOverrides,
  defaultConfigPath,
  packageRoot,
  topicSafeHostname,
  type LoadOptions,
  type LoadedConfig,
} from './load-compiled.js';
export { formatPath, parseEnvValue } from './env.js';
export { parseYaml } from './yaml-read.js';

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

/**
 * Validate raw config content (the parsed YAML, or {}): env overrides, defaults,
 * validation. Throws ConfigError listing every problem.
 */
export function resolveConfig(content: unknown, source: string, opts: LoadOptions = {}): LoadedConfig {
  return resolveValid(content, source, opts) ?? explainConfig(content, source, opts);
}

/**
 * resolveConfig with TypeBox's interpreter throughout: the problems of a configuration the
 * compiled schema refused. (Should it find none, the compiled schema is stale: the result stands.)
 */
export function explainConfig(content: unknown, source: string, opts: LoadOptions = {}): LoadedConfig {
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
  return loadedConfig(withDefaults as Config, source, applied, warnings, opts);
}

/** Load a YAML config file (or the embedded default when `file` is undefined). */
export function loadConfig(file?: string, opts: LoadOptions = {}): LoadedConfig {
  const { text, source } = readConfigText(file);
  return resolveConfig(parseYaml(text, source), source, opts);
}
