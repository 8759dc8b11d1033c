/**
 * The configuration schema compiled ahead of time (`npm run docs:config` and
 * `make build` write src/config/schema-compiled.ts; a test checks it is
 * current): the checker TypeBox's TypeCompiler emits, a defaults function that
 * does what `Value.Default` does for this schema, and the env-variable key
 * table. The daemon's start-up then needs no TypeBox: its interpreter
 * (schema composition, `Value.Default`, `Value.Check`) costs about 2 MB of
 * memory and runs hot enough to wake V8's optimising compiler (README, "Idle
 * memory"). TypeBox is still what explains a configuration that fails
 * (src/config/load.ts), so error messages come from one place.
 */
import { Kind, type TSchema } from '@sinclair/typebox';
import { TypeCompiler } from '@sinclair/typebox/compiler';
import { isDeepStrictEqual } from 'node:util';
import { ConfigSchema } from './schema.js';
import { walkKeys } from './keys.js';

export const COMPILED_PATH = 'src/config/schema-compiled.ts';

/** TypeCompiler's JavaScript for one schema: `const local_N = ...; return function check(value) {...}`, as an expression. */
function checkerExpression(schema: TSchema): string {
  const code = TypeCompiler.Code(schema, [], { language: 'javascript' });
  // Formats, custom kinds and references compile to calls of functions the code does not define.
  for (const call of ['format(', 'kind(', 'hash(', 'FormatRegistry', 'TypeRegistry']) {
    if (code.includes(call)) throw new Error(`${COMPILED_PATH}: the checker calls ${call}...), which the generated module does not provide; extend src/config/compile.ts`);
  }
  if (!/return function check\(value\) \{/.test(code)) throw new Error(`${COMPILED_PATH}: unexpected TypeCompiler output; extend src/config/compile.ts`);
  return `(() => {\n${code}\n})()`;
}

const json = (v: unknown): string => {
  const text = JSON.stringify(v);
  if (text === undefined || !isDeepStrictEqual(JSON.parse(text), v)) throw new Error(`${COMPILED_PATH}: a default is not plain JSON (${String(v)}); extend src/config/compile.ts`);
  return text;
};

/** How the defaults code handles one schema node. */
type Node = { as: 'identity' } | { as: 'default'; literal: string } | { as: 'function'; name: string };

const isPrimitive = (v: unknown): boolean => v === null || typeof v !== 'object';

/**
 * Emits what TypeBox's `Value.Default` visitor (value/default/default.mjs,
 * TypeBox 0.34) does for each schema node: a function per object, array and
 * union, with the node's default as a literal (a fresh copy on every call, as
 * its `Clone` gives); leaves inline (a missing value takes a primitive default,
 * a leaf without one is left alone). Kinds the configuration does not use are
 * refused. A differential test holds it to `Value.Default` (test/config/compiled.test.ts).
 */
class DefaultsEmitter {
  readonly functions: string[] = [];
  private readonly checkerNames = new Map<string, string>();
  private n = 0;

  get checkers(): string[] {
    return [...this.checkerNames].map(([code, name]) => `const ${name} = ${code};`);
  }

  private checker(schema: TSchema): string {
    const code = checkerExpression(schema);
    let name = this.checkerNames.get(code);
    if (!name) this.checkerNames.set(code, (name = `c${this.checkerNames.size}`));
    return name;
  }

  /** Code giving the defaulted value of `expr` (evaluated once). */
  static apply(node: Node, expr: string): string {
    if (node.as === 'identity') return expr;
    if (node.as === 'default') return `(${expr} === undefined ? ${node.literal} : ${expr})`;
    return `${node.name}(${expr})`;
  }

  /** A statement defaulting `target` (a property or an element) in place. */
  static assign(node: Node, target: string): string {
    if (node.as === 'identity') return '';
    if (node.as === 'default') return `if (${target} === undefined) ${target} = ${node.literal};`;
    return `{ const v = ${node.name}(${target}); if (v !== undefined) ${target} = v; }`;
  }

  visit(schema: TSchema): Node {
    const has = 'default' in schema;
    const orDefault = has ? `orDefault(value, () => (${json(schema.default)}))` : 'value';
    const body: string[] = [];
    switch (schema[Kind]) {
      case 'Object': {
        const extra = schema.additionalProperties;
        if (extra !== undefined && typeof extra === 'object' && Kind in extra && 'default' in extra) {
          throw new Error(`${COMPILED_PATH}: additionalProperties with a default is not supported; extend src/config/compile.ts`);
        }
        body.push(`const d = ${orDefault};`, 'if (!isObject(d)) return d;');
        for (const [key, sub] of Object.entries((schema.properties ?? {}) as Record<string, TSchema>)) {
          // TypeBox visits a property twice (to see whether it yields a value, then for the value); once gives the same.
          const line = DefaultsEmitter.assign(this.visit(sub), `d[${JSON.stringify(key)}]`);
          if (line) body.push(line);
        }
        body.push('return d;');
        break;
      }
      case 'Array': {
        const each = DefaultsEmitter.assign(this.visit(schema.items as TSchema), 'a[i]');
        const loop = each ? `for (let i = 0; i < a.length; i++) ${each}` : '';
        body.push(`if (isArray(value)) { const a = value; ${loop} return a; }`, `const a = ${orDefault};`, `if (!isArray(a)) return a;`, loop, 'return a;');
        break;
      }
      case 'Union': {
        const members = schema.anyOf as TSchema[];
        // A literal without a default leaves a value as it is, and only that value passes its check: nothing to try.
        if (members.every((m) => m[Kind] === 'Literal' && !('default' in m))) return this.leaf(schema);
        body.push(`const d = ${orDefault};`);
        for (const m of members) {
          body.push(`{ const r = ${DefaultsEmitter.apply(this.visit(m), 'clone(d)')}; if (${this.checker(m)}(r)) return r; }`);
        }
        body.push('return d;');
        break;
      }
      case 'String':
      case 'Integer':
      case 'Number':
      case 'Boolean':
      case 'Literal':
      case 'Unknown':
      case 'Any':
      case 'Null':
        return this.leaf(schema);
      default:
        throw new Error(`${COMPILED_PATH}: schema kind ${String(schema[Kind])} is not supported by the defaults generator; extend src/config/compile.ts`);
    }
    const name = `d${this.n++}`;
    this.functions.push(`function ${name}(value) {\n  ${body.filter(Boolean).join('\n  ')}\n}`);
    return { as: 'function', name };
  }

  /** A node whose default (if any) only replaces a missing value: TypeBox's ValueOrDefault. */
  private leaf(schema: TSchema): Node {
    if (!('default' in schema)) return { as: 'identity' };
    // A mapping or list default also merges into a mapping given: that takes the function form.
    if (isPrimitive(schema.default)) return { as: 'default', literal: json(schema.default) };
    const name = `d${this.n++}`;
    this.functions.push(`function ${name}(value) {\n  return orDefault(value, () => (${json(schema.default)}));\n}`);
    return { as: 'function', name };
  }
}

/** The text of src/config/schema-compiled.ts for the current schema. */
export function renderCompiledSchema(schema: TSchema = ConfigSchema): string {
  const defaults = new DefaultsEmitter();
  const root = DefaultsEmitter.apply(defaults.visit(schema), 'value');
  const keys = walkKeys(schema).map((k) => ({ path: k.path, env: k.env, envKind: k.envKind, type: k.type, ...(k.values ? { values: k.values } : {}) }));
  return `/* eslint-disable */
// @ts-nocheck: generated JavaScript; its exports are typed below.
/**
 * Generated by src/config/compile.ts from src/config/schema.ts (\`npm run docs:config\`
 * or \`make build\`); do not edit. The configuration's checker (TypeBox's
 * TypeCompiler), its defaults (as TypeBox's Value.Default applies them) and its
 * env-variable key table, so that loading a valid configuration needs no TypeBox.
 */
import type { EnvKey } from './env.js';

/** Every leaf key: its env variable and how its value is read. */
export const ENV_KEYS: readonly EnvKey[] = ${JSON.stringify(keys)};

/** True when the configuration (defaults applied) is valid; the reasons come from TypeBox (src/config/load.ts). */
export const checkConfig: (value: unknown) => boolean = ${checkerExpression(schema)};

const isObject = (v) => v !== null && typeof v === 'object';
const isArray = (v) => Array.isArray(v) && !ArrayBuffer.isView(v);
const orDefault = (value, fresh) => {
  const d = fresh();
  return value === undefined ? d : isObject(value) && isObject(d) ? Object.assign(d, value) : value;
};
const clone = (v) => {
  if (isArray(v)) return v.map(clone);
  if (v instanceof Date) return new Date(v.getTime());
  if (isObject(v)) {
    const o = {};
    for (const k of Object.getOwnPropertyNames(v)) o[k] = clone(v[k]);
    return o;
  }
  return v;
};
${defaults.checkers.join('\n')}

${defaults.functions.join('\n\n')}

/** The configuration with the schema's defaults filled in (mutates and returns \`value\`, as Value.Default does). */
export const defaultConfig: (value: unknown) => unknown = (value) => ${root};
`;
}
