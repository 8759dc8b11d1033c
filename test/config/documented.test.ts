// Every configuration key is documented: in config/default.yaml (present and
// commented) and in README.md's key table (path and environment variable).
import t from 'tap';
import { readFileSync } from 'node:fs';
import { parse } from 'yaml';
import { walkKeys } from '../../src/config/keys.js';
import { defaultConfigPath, packageRoot } from '../../src/config/load.js';
import { join } from 'node:path';
import { renderConfigTable } from '../../src/config/docs.js';
import { renderDefaultYaml } from '../../src/config/default-yaml.js';

const keys = walkKeys();

function has(obj: unknown, path: string): boolean {
  let o = obj as Record<string, unknown> | undefined;
  for (const seg of path.split('.')) {
    if (typeof o !== 'object' || o === null || !(seg in o)) return false;
    o = o[seg] as Record<string, unknown>;
  }
  return true;
}

t.test('config/default.yaml lists every key, each under a comment', async (t) => {
  const text = readFileSync(defaultConfigPath(), 'utf8');
  const doc = parse(text);
  const lines = text.split('\n');
  for (const k of keys) {
    const leaf = k.path.split('.').at(-1)!;
    if (k.optional && !has(doc, k.path)) {
      // Optional keys without a default appear commented out, e.g. "# gatewayId: gateway-01".
      t.ok(lines.some((l) => new RegExp(`^\\s*#\\s*${leaf}:`).test(l)), `${k.path} is shown commented out`);
      continue;
    }
    t.ok(has(doc, k.path), `${k.path} is present`);
    const i = lines.findIndex((l, n) => new RegExp(`^\\s*${leaf}:`).test(l) && n > 0 && /^\s*#/.test(lines[n - 1]));
    t.ok(i > 0, `${k.path} has a comment above it`);
  }
  t.equal(text, renderDefaultYaml(), 'config/default.yaml is current (run `npm run docs:config`)');
});

t.test('README.md documents every key and its environment variable', async (t) => {
  const readme = readFileSync(join(packageRoot(), 'README.md'), 'utf8');
  for (const k of keys) {
    t.ok(readme.includes(`\`${k.path}\``), `README names ${k.path}`);
    t.ok(readme.includes(`\`${k.env}\``), `README names ${k.env}`);
  }
  t.ok(readme.includes(renderConfigTable()), 'the README key table is current (run `npm run docs:config`)');
});
