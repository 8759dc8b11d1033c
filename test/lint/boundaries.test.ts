/**
 * `make lint`'s import boundaries (.dependency-cruiser.cjs) really fail on a forbidden import: a tiny tree
 * with the repository's config, first clean (exit 0), then one forbidden import per rule (exit non-zero,
 * the rule named), then a file on the temporary allow-list (still allowed, and only that exact file).
 */
import t from 'tap';
import { spawn } from 'node:child_process';
import { copyFileSync, mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';

const ROOT = resolve(dirname(fileURLToPath(import.meta.url)), '..', '..');
const DEPCRUISE = join(ROOT, 'node_modules', '.bin', 'depcruise');

function depcruise(cwd: string): Promise<{ code: number | null; out: string }> {
  return new Promise((res, rej) => {
    const p = spawn(DEPCRUISE, ['--config', '.dependency-cruiser.cjs', '--output-type', 'err', 'src', 'drivers', 'emulators', 'test', 'bench'], { cwd });
    let out = '';
    p.stdout.on('data', (d: Buffer) => (out += d.toString()));
    p.stderr.on('data', (d: Buffer) => (out += d.toString()));
    p.on('error', rej);
    p.on('close', (code) => res({ code, out }));
  });
}

function tree(files: Record<string, string>): string {
  const dir = mkdtempSync(join(tmpdir(), 'scardgate-depcruise-'));
  copyFileSync(join(ROOT, '.dependency-cruiser.cjs'), join(dir, '.dependency-cruiser.cjs'));
  writeFileSync(join(dir, 'tsconfig.json'), JSON.stringify({ compilerOptions: { module: 'NodeNext', moduleResolution: 'NodeNext', allowImportingTsExtensions: true, noEmit: true } }));
  writeFileSync(join(dir, 'package.json'), '{"type":"module"}');
  for (const [path, text] of Object.entries(files)) {
    mkdirSync(dirname(join(dir, path)), { recursive: true });
    writeFileSync(join(dir, path), text);
  }
  return dir;
}

const CLEAN: Record<string, string> = {
  'src/core/api.ts': 'export const core = 1;\n',
  'src/api/mqtt/service.ts': "import { core } from '../../core/api.js';\nexport const m = core;\n",
  'drivers/sim/index.ts': "import { core } from '../../src/core/api.js';\nexport const sim = core;\n",
  'emulators/vicc/index.ts': 'export const vicc = 1;\n',
  'test/helpers/h.ts': "import { vicc } from '../../emulators/vicc/index.js';\nexport const h = vicc;\n",
  'bench/common/b.ts': "import { h } from '../../test/helpers/h.js';\nexport const b = h;\n",
};

const CASES: Array<[string, string, string, string]> = [
  ['frontend-imports-driver', 'src/api/mqtt/bad.ts', "import { sim } from '../../../drivers/sim/index.js';\nexport const x = sim;\n", 'a frontend importing a driver'],
  ['driver-imports-frontend', 'drivers/sim/bad.ts', "import { m } from '../../src/api/mqtt/service.js';\nexport const x = m;\n", 'a driver importing a frontend'],
  ['test-imports-bench', 'test/bad.test.ts', "import { b } from '../bench/common/b.js';\nexport const x = b;\n", 'a test importing a benchmark'],
  ['production-imports-test-or-bench', 'src/core/bad.ts', "import { h } from '../../test/helpers/h.js';\nexport const x = h;\n", 'production code importing test/'],
  ['production-imports-test-or-bench', 'emulators/vicc/bad.ts', "import { b } from '../../bench/common/b.js';\nexport const x = b;\n", 'an emulator importing bench/'],
];

t.test('a clean tree passes', async (t) => {
  const dir = tree(CLEAN);
  t.teardown(() => rmSync(dir, { recursive: true, force: true }));
  const r = await depcruise(dir);
  t.equal(r.code, 0, r.out);
});

// One run over a tree holding every forbidden import (depcruise takes seconds per run on a loaded machine).
t.test('each forbidden import fails, naming its rule and file; no file is exempt', async (t) => {
  const driverImport = "import { sim } from '../../../drivers/sim/index.js';\nexport const x = sim;\n";
  const files: Record<string, string> = { ...CLEAN, 'src/api/http/schemas.ts': driverImport, 'src/api/http/schemas2.ts': driverImport };
  for (const [, file, text] of CASES) files[file] = text;
  const dir = tree(files);
  t.teardown(() => rmSync(dir, { recursive: true, force: true }));
  const r = await depcruise(dir);
  t.not(r.code, 0, 'depcruise fails');
  for (const [rule, file, , what] of CASES) t.match(r.out, new RegExp(`${rule}: ${file.replace(/[.]/g, '\\.')}`), `${what}: ${rule}`);
  t.match(r.out, /frontend-imports-driver: src\/api\/http\/schemas2\.ts/, 'any HTTP module importing a driver is refused');
  t.match(r.out, /frontend-imports-driver: src\/api\/http\/schemas\.ts/, 'including the one that was once exempt (the gateway layer removed the need)');
});
