/**
 * The built web UI (dist/web, made by src/web/build.ts): listed once at start into a table of URL path ->
 * file, content type, cache policy and the pre-compressed siblings (.br, .gz) the build wrote; one route
 * per name. Nothing outside the table is ever opened, so a path cannot reach another file: every other URL
 * falls to the not-found handler. Files are read when asked for, not kept in memory.
 * (In place of @fastify/static + @fastify/compress, whose modules cost 2-3 MB of the daemon's RSS:
 * README "Libraries and why".)
 */
import { open, readdir, stat } from 'node:fs/promises';
import { join } from 'node:path';
import type { FastifyInstance, FastifyReply, FastifyRequest } from 'fastify';
import { chooseCoding, type Coding } from './accept-encoding.js';
import { HttpError } from './errors.js';

/** What the web build emits (and what a UI might add): anything else is not served. */
export const CONTENT_TYPES: Readonly<Record<string, string>> = {
  '.html': 'text/html; charset=utf-8',
  '.js': 'text/javascript; charset=utf-8',
  '.mjs': 'text/javascript; charset=utf-8',
  '.css': 'text/css; charset=utf-8',
  '.svg': 'image/svg+xml',
  '.png': 'image/png',
  '.ico': 'image/x-icon',
  '.json': 'application/json; charset=utf-8',
  '.webmanifest': 'application/manifest+json',
  '.woff2': 'font/woff2',
  '.map': 'application/json; charset=utf-8',
  '.txt': 'text/plain; charset=utf-8',
};

/** esbuild's [name]-[hash] names: the content never changes under such a name. */
const HASHED = /-[A-Z0-9]{8}\.\w+$/;
const IMMUTABLE = 'public, max-age=31536000, immutable';
/** A name that is a plain URL segment (no dot files, no "..", nothing find-my-way reads as a parameter). */
const SEGMENT = /^[A-Za-z0-9_][A-Za-z0-9._-]*$/;
const SIBLINGS: ReadonlyArray<[Coding, string]> = [
  ['br', '.br'],
  ['gzip', '.gz'],
];

export interface Asset {
  /** URL path, "/assets/app-XXXXXXXX.js". */
  url: string;
  type: string;
  cacheControl: string;
  /** File per coding: identity always, br/gzip when the build wrote the sibling. */
  files: Partial<Record<Coding, string>> & { identity: string };
}

/** The web root's servable files, by URL path ("/" is index.html). */
export async function listAssets(root: string): Promise<Map<string, Asset>> {
  const found = new Set<string>();
  const walk = async (dir: string, rel: string): Promise<void> => {
    for (const d of await readdir(dir, { withFileTypes: true })) {
      if (!SEGMENT.test(d.name)) continue;
      const path = join(dir, d.name);
      const kind = d.isSymbolicLink() ? await stat(path).catch(() => undefined) : d;
      if (kind?.isDirectory()) await walk(path, `${rel}/${d.name}`);
      else if (kind?.isFile()) found.add(`${rel}/${d.name}`);
    }
  };
  await walk(root, '');
  const table = new Map<string, Asset>();
  for (const url of found) {
    const ext = /\.[^./]+$/.exec(url)?.[0] ?? '';
    const type = CONTENT_TYPES[ext];
    if (type === undefined) continue; // .br/.gz siblings (variants, below) and types the UI does not use
    const files: Asset['files'] = { identity: join(root, url) };
    for (const [coding, suffix] of SIBLINGS) if (found.has(url + suffix)) files[coding] = join(root, url + suffix);
    table.set(url, { url, type, cacheControl: HASHED.test(url) ? IMMUTABLE : 'no-cache', files });
  }
  const index = table.get('/index.html');
  if (index) table.set('/', { ...index, url: '/' });
  return table;
}

/** Registers GET and HEAD for every name in the table. */
export function assetRoutes(app: FastifyInstance, table: ReadonlyMap<string, Asset>): void {
  for (const asset of table.values()) {
    const available = Object.keys(asset.files) as Coding[];
    app.route({
      method: ['GET', 'HEAD'],
      url: asset.url,
      config: { public: true, compress: false },
      handler: (req, reply) => serve(req, reply, asset, available),
    });
  }
}

async function serve(req: FastifyRequest, reply: FastifyReply, asset: Asset, available: Coding[]): Promise<FastifyReply> {
  reply.header('vary', 'accept-encoding');
  const coding = chooseCoding(req.headers['accept-encoding'], available);
  if (coding === undefined) {
    throw new HttpError(406, `no acceptable content coding for ${asset.url}: available ${available.join(', ')} (Accept-Encoding: ${String(req.headers['accept-encoding'])})`);
  }
  let fh;
  try {
    fh = await open(asset.files[coding]!, 'r');
  } catch (e) {
    // Removed since start (a rebuild under a running gateway): as if it had never been there.
    if ((e as NodeJS.ErrnoException).code === 'ENOENT') {
      reply.callNotFound();
      return reply;
    }
    throw e;
  }
  try {
    // The ETag from the open file itself, not from the listing: a rebuilt index.html is never answered 304.
    const st = await fh.stat();
    const etag = `"${st.size.toString(16)}-${Math.floor(st.mtimeMs).toString(16)}${coding === 'identity' ? '' : `-${coding}`}"`;
    reply.header('etag', etag).header('cache-control', asset.cacheControl);
    if (matches(req.headers['if-none-match'], etag)) return reply.code(304).send();
    reply.type(asset.type);
    if (coding !== 'identity') reply.header('content-encoding', coding);
    if (req.method === 'HEAD') return reply.header('content-length', st.size).send();
    return reply.send(await fh.readFile());
  } finally {
    await fh.close();
  }
}

/** If-None-Match: "*" or any listed tag, compared weakly (RFC 9110 §13.1.2). */
function matches(header: string | undefined, etag: string): boolean {
  if (!header) return false;
  if (header.trim() === '*') return true;
  return header.split(',').some((t) => t.trim().replace(/^W\//, '') === etag);
}
