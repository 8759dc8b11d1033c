// Seeded fuzz of the config loader: mangled YAML and random environment
// values end in a valid config or a ConfigError naming problems — never a
// crash of another kind.
import t from 'tap';
import { readFileSync } from 'node:fs';
import { ConfigError, defaultConfigPath, parseYaml, resolveConfig } from '../../src/config/load.js';
import { walkKeys } from '../../src/config/keys.js';
import { lcg } from '../helpers/prng.js';

const rnd = lcg(0xc0ffee);
const ALPHABET = ' \n\t:-#{}[],"\'&*!|>%@`0123456789abcxyzABC.\\/\u00e9\u0000';

function attempt(fn: () => unknown): 'ok' | 'config-error' {
  try {
    fn();
    return 'ok';
  } catch (err) {
    if (err instanceof ConfigError) {
      if (err.problems.length === 0 || err.problems.some((p) => typeof p !== 'string' || p === '')) throw new Error('ConfigError without problems', { cause: err });
      return 'config-error';
    }
    throw err;
  }
}

t.test('mangled YAML', async (t) => {
  const base = readFileSync(defaultConfigPath(), 'utf8');
  const seen = { ok: 0, 'config-error': 0 };
  for (let i = 0; i < 1500; i++) {
    const chars = [...base];
    const edits = 1 + rnd(6);
    for (let e = 0; e < edits; e++) {
      const at = rnd(chars.length);
      const op = rnd(3);
      if (op === 0) chars.splice(at, 1);
      else if (op === 1) chars.splice(at, 0, ALPHABET[rnd(ALPHABET.length)]);
      else chars[at] = ALPHABET[rnd(ALPHABET.length)];
    }
    const text = chars.join('');
    seen[attempt(() => resolveConfig(parseYaml(text, 'fuzz'), 'fuzz', { env: {} }))]++;
  }
  t.ok(seen.ok > 0 && seen['config-error'] > 0, JSON.stringify(seen));
});

t.test('random environment values for every key', async (t) => {
  const keys = walkKeys();
  const samples = ['', ' ', '0', '-1', '1.5', 'true', 'no', 'x', '[]', '{}', '[{"name":"r"}]', '{"a":1}', 'null', '99999999999', '\u0000', 'a'.repeat(300)];
  const seen = { ok: 0, 'config-error': 0 };
  for (let i = 0; i < 2000; i++) {
    const env: Record<string, string> = {};
    const n = 1 + rnd(4);
    for (let j = 0; j < n; j++) env[keys[rnd(keys.length)].env] = samples[rnd(samples.length)];
    seen[attempt(() => resolveConfig({}, 'fuzz', { env }))]++;
  }
  t.ok(seen.ok > 0 && seen['config-error'] > 0, JSON.stringify(seen));
});
