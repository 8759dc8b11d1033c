// The compiled schema (src/config/schema-compiled.ts) the daemon starts with instead of TypeBox:
// current with the schema, and doing what TypeBox does (defaults, check, then the loaded
// configuration) on configurations generated from the schema, valid and not.
import t from 'tap';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { isDeepStrictEqual } from 'node:util';
import { Kind, OptionalKind, type TSchema } from '@sinclair/typebox';
import { Value } from '@sinclair/typebox/value';
import { ConfigSchema } from '../../src/config/schema.js';
import { COMPILED_PATH, renderCompiledSchema } from '../../src/config/compile.js';
import { checkConfig, defaultConfig, ENV_KEYS } from '../../src/config/schema-compiled.js';
import { walkKeys } from '../../src/config/keys.js';
import { ConfigError, defaultConfigPath, explainConfig, packageRoot, parseYaml } from '../../src/config/load.js';
import { loadConfigAsync, resolveValid } from '../../src/config/load-compiled.js';
import { rng } from '../helpers/prng.js';

t.test('src/config/schema-compiled.ts is current', async (t) => {
  const text = readFileSync(join(packageRoot(), COMPILED_PATH), 'utf8');
  t.ok(text === renderCompiledSchema(), `${COMPILED_PATH} is generated from the current schema (run \`npm run docs:config\` or \`make build\`)`);
  t.same(
    ENV_KEYS.map((k) => k.env),
    walkKeys().map((k) => k.env),
    'the compiled key table has every key',
  );
});

const random = rng(0x5c4e3a);
const pick = <T>(xs: readonly T[]): T => xs[Math.floor(random() * xs.length)];
const chance = (p: number): boolean => random() < p;

/** Something of the wrong shape: where a mapping, a list or a scalar was due. */
const GARBAGE: unknown[] = [null, [], [1, 'x'], {}, { bogus: 1 }, 'x', '', 0, -1, 1.5, true, 99999999999];

/** A value for `schema`: mostly of its shape (keys left out so defaults fill them), now and then not. */
function sample(schema: TSchema, depth = 0): unknown {
  if (chance(0.03)) return pick(GARBAGE);
  switch (schema[Kind]) {
    case 'Object': {
      const out: Record<string, unknown> = {};
      const required = new Set<string>((schema.required as string[] | undefined) ?? []);
      for (const [k, sub] of Object.entries((schema.properties ?? {}) as Record<string, TSchema>)) {
        const optional = sub[OptionalKind] === 'Optional' || !required.has(k) || 'default' in sub;
        if (optional && chance(0.6)) continue;
        if (!optional && chance(0.02)) continue;
        out[k] = sample(sub, depth + 1);
      }
      if (chance(0.02)) out.unknownKey = 1;
      return out;
    }
    case 'Array': {
      if (depth > 6) return [];
      const n = pick([0, 1, 1, 2, 3]);
      return Array.from({ length: n }, () => sample(schema.items as TSchema, depth + 1));
    }
    case 'Union':
      return sample(pick(schema.anyOf as TSchema[]), depth);
    case 'Literal':
      return schema.const;
    case 'Boolean':
      return chance(0.9) ? chance(0.5) : 'yes';
    case 'Integer':
    case 'Number': {
      const lo = (schema.minimum as number | undefined) ?? 0;
      const hi = (schema.maximum as number | undefined) ?? lo + 1000;
      return pick([lo, hi, Math.floor((lo + hi) / 2), schema.default ?? lo, lo - 1, hi + 1, 2.5]);
    }
    case 'String': {
      const good = (schema.examples as string[] | undefined)?.[0] ?? (schema.default as string | undefined) ?? 'a'.repeat((schema.minLength as number | undefined) ?? 1);
      return chance(0.9) ? good : pick(['', 'zz', 'a'.repeat(300)]);
    }
    default:
      return pick([1, 'x', { a: 1 }]);
  }
}

t.test('defaults and check agree with TypeBox on generated configurations', async (t) => {
  const outcomes = { valid: 0, invalid: 0 };
  for (let i = 0; i < 3000; i++) {
    const raw = sample(ConfigSchema);
    const theirs = Value.Default(ConfigSchema, structuredClone(raw));
    const ours = defaultConfig(structuredClone(raw));
    if (!isDeepStrictEqual(ours, theirs) || JSON.stringify(ours) !== JSON.stringify(theirs)) {
      t.fail('defaults differ from Value.Default', { raw, ours, theirs });
      return;
    }
    const valid = Value.Check(ConfigSchema, theirs);
    if (checkConfig(ours) !== valid) {
      t.fail('check differs from Value.Check', { config: ours, valid });
      return;
    }
    outcomes[valid ? 'valid' : 'invalid']++;
  }
  // Both outcomes, each often enough to mean something.
  t.ok(outcomes.valid > 300 && outcomes.invalid > 300, `valid and invalid configurations both tried: ${JSON.stringify(outcomes)}`);
});

t.test('the compiled load gives what the TypeBox load gives, and only for valid configurations', async (t) => {
  const base = parseYaml(readFileSync(defaultConfigPath(), 'utf8'), 'default') as Record<string, unknown>;
  const keys = walkKeys();
  const envSamples = ['', '0', '1', 'true', 'x', '[]', '{}', '1883', 'debug', 'a'.repeat(70)];
  const outcomes = { loaded: 0, refused: 0 };
  for (let i = 0; i < 800; i++) {
    const content: Record<string, unknown> = chance(0.5) ? structuredClone(base) : (sample(ConfigSchema) as Record<string, unknown>);
    const env: Record<string, string> = {};
    if (chance(0.5)) for (let j = 0; j < 1 + Math.floor(random() * 3); j++) env[pick(keys).env] = pick(envSamples);
    if (chance(0.1)) env.SCARDGATE_NOT_A_KEY = '1';
    const opts = { env, hostname: 'host-1' };
    const quick = resolveValid(content, 'gen', opts);
    let full: unknown;
    try {
      full = explainConfig(content, 'gen', opts);
    } catch (e) {
      if (!(e instanceof ConfigError)) throw e;
      full = undefined;
    }
    if (!isDeepStrictEqual(quick, full)) {
      t.fail('compiled and TypeBox loads differ', { content, env, quick, full });
      return;
    }
    outcomes[quick ? 'loaded' : 'refused']++;
  }
  t.ok(outcomes.loaded > 100 && outcomes.refused > 100, `loaded and refused both tried: ${JSON.stringify(outcomes)}`);
});

t.test('an invalid file is explained with key paths through the compiled load too', async (t) => {
  const bad = join(t.testdir({ 'bad.yaml': 'http:\n  port: -1\nfoo: 1\n' }), 'bad.yaml');
  await t.rejects(loadConfigAsync(bad, { env: {} }), {
    name: 'ConfigError',
    problems: ['foo: unknown key (expected one of: gatewayId, log, state, control, core, pcsc, mqtt, events, http, osdp, drivers)', 'http.port: -1 is out of range (expected integer 0..65535)'],
  });
  const { config } = await loadConfigAsync(undefined, { env: { SCARDGATE_MQTT_ENABLED: 'false' }, hostname: 'h' });
  t.equal(config.mqtt.enabled, false, 'env override applied on the compiled path');
});
