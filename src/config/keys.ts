/**
 * The configuration's key table, derived from the schema: every leaf key path,
 * its environment variable, type and default. The env-override loader, the
 * README's key table and its check all read this one walk, so a key added to a
 * section file is documented and overridable without another edit.
 */
import { Kind, OptionalKind, type TSchema } from '@sinclair/typebox';
import { ConfigSchema } from './schema.js';
import { ENV_PREFIX, type EnvKey, type EnvKind } from './env.js';

export { ENV_PREFIX, type EnvKind } from './env.js';

export interface ConfigKey extends EnvKey {
  default: unknown;
  description: string;
  optional: boolean;
  schema: TSchema;
}

/** mqtt.baseTopic -> MQTT_BASE_TOPIC */
export function envSuffix(path: string): string {
  return path
    .split('.')
    .map((seg) => seg.replace(/([a-z0-9])([A-Z])/g, '$1_$2').replace(/[^A-Za-z0-9]+/g, '_').toUpperCase())
    .join('_');
}

export function envName(path: string): string {
  return ENV_PREFIX + envSuffix(path);
}

/** Literal values when the schema is a union of literals (an enum), else undefined. */
export function enumValues(s: TSchema): unknown[] | undefined {
  if (s[Kind] !== 'Union' || !Array.isArray(s.anyOf)) return undefined;
  const out: unknown[] = [];
  for (const m of s.anyOf as TSchema[]) {
    if (m.const === undefined) return undefined;
    out.push(m.const);
  }
  return out;
}

function range(s: TSchema): string {
  const lo = s.minimum ?? s.exclusiveMinimum;
  const hi = s.maximum ?? s.exclusiveMaximum;
  if (lo !== undefined && hi !== undefined) return ` ${lo}..${hi}`;
  if (lo !== undefined) return ` >= ${lo}`;
  if (hi !== undefined) return ` <= ${hi}`;
  return '';
}

/** A short human description of what a schema accepts ("integer 1..65535", "one of: a, b"). */
export function describeType(s: TSchema): string {
  const e = enumValues(s);
  if (e) return `one of: ${e.join(', ')}`;
  switch (s[Kind]) {
    case 'Integer':
      return `integer${range(s)}`;
    case 'Number':
      return `number${range(s)}`;
    case 'Boolean':
      return 'boolean';
    case 'String': {
      const parts: string[] = [];
      if (s.minLength !== undefined && s.maxLength !== undefined) parts.push(`${s.minLength}..${s.maxLength} chars`);
      else if (s.minLength !== undefined) parts.push(`at least ${s.minLength} char${s.minLength === 1 ? '' : 's'}`);
      else if (s.maxLength !== undefined) parts.push(`at most ${s.maxLength} chars`);
      if (s.pattern !== undefined) parts.push(`matching ${s.pattern}`);
      if (s.format !== undefined) parts.push(`format ${s.format}`);
      return parts.length ? `string (${parts.join(', ')})` : 'string';
    }
    case 'Array':
      return 'array';
    case 'Object':
      return 'object';
    case 'Unknown':
    case 'Any':
      return 'any';
    default:
      return String(s[Kind] ?? 'value').toLowerCase();
  }
}

function envKindOf(s: TSchema): EnvKind {
  if (enumValues(s)) return 'enum';
  switch (s[Kind]) {
    case 'Integer':
      return 'integer';
    case 'Number':
      return 'number';
    case 'Boolean':
      return 'boolean';
    case 'String':
      return 'string';
    default:
      return 'json';
  }
}

/** Objects with named properties are walked into; everything else is a leaf key. */
function isWalkable(s: TSchema): boolean {
  return s[Kind] === 'Object' && s.properties !== undefined && Object.keys(s.properties).length > 0;
}

/** Every leaf key of a schema, depth first in declaration order. */
export function walkKeys(schema: TSchema = ConfigSchema, prefix = ''): ConfigKey[] {
  const out: ConfigKey[] = [];
  const props = (schema.properties ?? {}) as Record<string, TSchema>;
  const required = new Set<string>((schema.required as string[] | undefined) ?? []);
  for (const [name, sub] of Object.entries(props)) {
    const path = prefix ? `${prefix}.${name}` : name;
    if (isWalkable(sub)) {
      out.push(...walkKeys(sub, path));
      continue;
    }
    const kind = envKindOf(sub);
    const values = kind === 'enum' ? enumValues(sub) : undefined;
    out.push({
      path,
      env: envName(path),
      envKind: kind,
      ...(values ? { values } : {}),
      type: describeType(sub) + (kind === 'json' ? ' (JSON in env)' : ''),
      default: sub.default,
      description: String(sub.description ?? ''),
      optional: sub[OptionalKind] === 'Optional' || !required.has(name),
      schema: sub,
    });
  }
  return out;
}

/** The sub-schema at a dotted or JSON-pointer path (array items and additional properties followed), if any. */
export function schemaAt(segments: string[], schema: TSchema = ConfigSchema): TSchema | undefined {
  let s: TSchema | undefined = schema;
  for (const seg of segments) {
    if (!s) return undefined;
    if (s[Kind] === 'Object') s = (s.properties as Record<string, TSchema> | undefined)?.[seg];
    else if (s[Kind] === 'Array') s = s.items as TSchema;
    else return undefined;
  }
  return s;
}
