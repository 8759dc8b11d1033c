/**
 * Builds the web UI: one minified bundle (preact + app) and one stylesheet,
 * content-hashed names, index.html pointing at them, and .br/.gz siblings so
 * the gateway serves compressed bytes without compressing per request.
 *   npx tsx src/web/build.ts [outDir]    (npm run build:web)
 */
import { mkdir, readdir, readFile, rm, writeFile } from 'node:fs/promises';
import { dirname, join, relative } from 'node:path';
import { fileURLToPath } from 'node:url';
import { brotliCompressSync, gzipSync, constants as zc } from 'node:zlib';
import { build } from 'esbuild';

const here = dirname(fileURLToPath(import.meta.url));

export interface WebBuildResult {
  outDir: string;
  files: Array<{ path: string; bytes: number; gzip: number; brotli: number }>;
}

export async function buildWeb(outDir = join(here, '..', '..', 'dist', 'web')): Promise<WebBuildResult> {
  await rm(outDir, { recursive: true, force: true });
  await mkdir(join(outDir, 'assets'), { recursive: true });
  const result = await build({
    entryPoints: { app: join(here, 'app', 'main.tsx'), style: join(here, 'app', 'style.css') },
    bundle: true,
    minify: true,
    format: 'esm',
    target: 'es2020',
    jsx: 'automatic',
    jsxImportSource: 'preact',
    inject: [join(here, 'app', 'buffer-shim.ts')],
    entryNames: '[name]-[hash]',
    outdir: join(outDir, 'assets'),
    metafile: true,
    legalComments: 'none',
    logLevel: 'warning',
  });
  const outputs = Object.keys(result.metafile.outputs).map((p) => relative(outDir, p).split('\\').join('/'));
  const js = outputs.find((p) => /app-\w+\.js$/.test(p));
  const css = outputs.find((p) => /\.css$/.test(p));
  if (!js || !css) throw new Error(`web build produced no bundle: ${outputs.join(', ')}`);
  const html = `<!doctype html><html lang="en"><head><meta charset="utf-8"><meta name="viewport" content="width=device-width,initial-scale=1"><title>scardgate</title><link rel="icon" href="data:,"><link rel="stylesheet" href="/${css}"><script type="module" src="/${js}"></script></head><body><div id="app"><noscript>The scardgate web UI needs JavaScript.</noscript></div></body></html>\n`;
  await writeFile(join(outDir, 'index.html'), html);

  const files: WebBuildResult['files'] = [];
  const walk = async (dir: string): Promise<string[]> =>
    (await Promise.all((await readdir(dir, { withFileTypes: true })).map((d) => (d.isDirectory() ? walk(join(dir, d.name)) : [join(dir, d.name)])))).flat();
  for (const f of await walk(outDir)) {
    if (!/\.(js|css|html)$/.test(f)) continue;
    const data = await readFile(f);
    const gz = gzipSync(data, { level: 9 });
    const br = brotliCompressSync(data, { params: { [zc.BROTLI_PARAM_QUALITY]: 11, [zc.BROTLI_PARAM_SIZE_HINT]: data.length } });
    await writeFile(`${f}.gz`, gz);
    await writeFile(`${f}.br`, br);
    files.push({ path: relative(outDir, f), bytes: data.length, gzip: gz.length, brotli: br.length });
  }
  return { outDir, files };
}

if (process.argv[1] && fileURLToPath(import.meta.url) === process.argv[1]) {
  const r = await buildWeb(process.argv[2]);
  for (const f of r.files) console.log(`${f.path}: ${f.bytes} B (gzip ${f.gzip} B, brotli ${f.brotli} B)`);
}
