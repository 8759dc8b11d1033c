/** `make build` (and `npm run docs:config`): rewrite src/config/schema-compiled.ts from the schema when it changed. */
import { existsSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { packageRoot } from './package-root.js';
import { COMPILED_PATH, renderCompiledSchema } from './compile.js';

const path = join(packageRoot(), COMPILED_PATH);
const before = existsSync(path) ? readFileSync(path, 'utf8') : '';
const after = renderCompiledSchema();
if (after !== before) writeFileSync(path, after);
process.stdout.write(`${path}: ${after !== before ? 'updated' : 'already current'}\n`);
