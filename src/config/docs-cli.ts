/**
 * `npm run docs:config`: rewrite README.md's configuration key table, config/default.yaml and the
 * compiled schema (src/config/schema-compiled.ts) from the schema.
 */
import { readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { packageRoot } from './package-root.js';
import { defaultConfigPath } from './load-compiled.js';
import { updateReadme } from './docs.js';
import { renderDefaultYaml } from './default-yaml.js';
import { COMPILED_PATH, renderCompiledSchema } from './compile.js';

function rewrite(path: string, make: (before: string) => string): void {
  const before = readFileSync(path, 'utf8');
  const after = make(before);
  if (after !== before) writeFileSync(path, after);
  process.stdout.write(`${path}: ${after !== before ? 'updated' : 'already current'}\n`);
}

rewrite(join(packageRoot(), 'README.md'), updateReadme);
rewrite(defaultConfigPath(), () => renderDefaultYaml());
rewrite(join(packageRoot(), COMPILED_PATH), () => renderCompiledSchema());
