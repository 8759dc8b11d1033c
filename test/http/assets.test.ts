/**
 * The built UI's files and the API's compression against a real gateway: what a browser (or a cache in
 * between) relies on — the coding it asked for, right lengths, revalidation, cache policy — and that no
 * URL outside the built set reaches a file.
 */
import t from 'tap';
import fc from 'fast-check';
import { request } from 'node:http';
import { brotliDecompressSync, gunzipSync, gzipSync } from 'node:zlib';
import { mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { buildWeb } from '../../src/web/build.js';
import { startTestGateway, Client, type TestGateway } from './harness.js';

let g: TestGateway;
let webDir: string;
let js: string;
let css: string;
/** A technician's session: unknown URLs then reach the not-found handler (without one, auth answers 401 first). */
let cookie: { cookie: string };

t.before(async () => {
  webDir = await mkdtemp(join(tmpdir(), 'scardgate-web-'));
  await buildWeb(webDir);
  // Beyond what the build writes: a file with no compressed siblings, one with only .gz, and names that
  // must not be served (unknown type, dot file).
  await writeFile(join(webDir, 'robots.txt'), 'User-agent: *\nDisallow: /api/\n');
  await writeFile(join(webDir, 'assets', 'logo-ABCD1234.svg'), '<svg xmlns="http://www.w3.org/2000/svg"/>');
  await writeFile(join(webDir, 'assets', 'logo-ABCD1234.svg.gz'), gzipSync('<svg xmlns="http://www.w3.org/2000/svg"/>'));
  await writeFile(join(webDir, 'notes.bin'), 'not a UI file');
  await writeFile(join(webDir, '.env'), 'SECRET=1');
  g = await startTestGateway({ config: { http: { webRoot: webDir } } });
  const html = await (await fetch(g.url + '/')).text();
  js = /src="(\/assets\/app-[A-Z0-9]{8}\.js)"/.exec(html)![1]!;
  css = /href="(\/assets\/style-[A-Z0-9]{8}\.css)"/.exec(html)![1]!;
  const c = new Client(g.url);
  await c.login();
  cookie = { cookie: c.cookie };
});
t.teardown(async () => {
  await g?.stop();
  if (webDir) await rm(webDir, { recursive: true, force: true });
});

interface Raw {
  status: number;
  headers: Record<string, string | string[] | undefined>;
  body: Buffer;
}

/** node:http, not fetch: the path goes out exactly as written (no dot-segment clean-up) and nothing is decoded for us. */
function raw(path: string, headers: Record<string, string> = {}, method = 'GET'): Promise<Raw> {
  const u = new URL(g.url);
  return new Promise((resolve, reject) => {
    const req = request({ host: u.hostname, port: u.port, path, method, headers }, (res) => {
      const chunks: Buffer[] = [];
      res.on('data', (c: Buffer) => chunks.push(c));
      res.on('end', () => resolve({ status: res.statusCode!, headers: res.headers, body: Buffer.concat(chunks) }));
      res.on('error', reject);
    });
    req.on('error', reject);
    req.end();
  });
}

const file = (url: string) => readFile(join(webDir, url));

t.test('Accept-Encoding: br preferred, then gzip, then identity; q-values honoured', async (t) => {
  const plain = await file(js);
  const cases: Array<[string | undefined, string | undefined]> = [
    ['gzip, deflate, br', 'br'],
    ['br;q=0.5, gzip', 'gzip'],
    ['gzip', 'gzip'],
    ['br;q=0, gzip;q=0', undefined],
    ['*', 'br'],
    ['*;q=0.5, br;q=0', 'gzip'],
    ['deflate', undefined],
    [undefined, undefined],
  ];
  for (const [accept, expected] of cases) {
    const r = await raw(js, accept === undefined ? {} : { 'accept-encoding': accept });
    t.equal(r.status, 200, `${accept}: 200`);
    t.equal(r.headers['content-encoding'], expected, `Accept-Encoding ${JSON.stringify(accept)} -> ${expected ?? 'identity'}`);
    t.equal(Number(r.headers['content-length']), r.body.length, `${accept}: content-length is the sent variant's`);
    t.equal(r.headers.vary, 'accept-encoding');
    t.match(r.headers['content-type'], /^text\/javascript/);
    const decoded = expected === 'br' ? brotliDecompressSync(r.body) : expected === 'gzip' ? gunzipSync(r.body) : r.body;
    t.ok(decoded.equals(plain), `${accept}: decodes to the built file`);
    if (expected) t.ok(r.body.equals(await file(`${js}.${expected === 'br' ? 'br' : 'gz'}`)), 'the pre-built sibling, not a new compression');
  }
  const refused = await raw(js, { 'accept-encoding': 'br;q=0, gzip;q=0, identity;q=0' });
  t.equal(refused.status, 406, 'every coding refused: 406');
  t.match(JSON.parse(refused.body.toString()).message, /no acceptable content coding/);
});

t.test('a missing variant is never announced: the next acceptable one is sent', async (t) => {
  const txt = await raw('/robots.txt', { 'accept-encoding': 'br, gzip' });
  t.equal(txt.status, 200);
  t.equal(txt.headers['content-encoding'], undefined, 'no siblings: identity');
  t.equal(txt.body.toString(), 'User-agent: *\nDisallow: /api/\n');
  t.equal(txt.headers['cache-control'], 'no-cache');
  t.match(txt.headers['content-type'], /^text\/plain/);
  const svg = await raw('/assets/logo-ABCD1234.svg', { 'accept-encoding': 'br, gzip' });
  t.equal(svg.headers['content-encoding'], 'gzip', 'no .br: gzip');
  t.equal(gunzipSync(svg.body).toString(), '<svg xmlns="http://www.w3.org/2000/svg"/>');
  t.equal(svg.headers['content-type'], 'image/svg+xml');
  const onlyBr = await raw('/assets/logo-ABCD1234.svg', { 'accept-encoding': 'br' });
  t.equal(onlyBr.headers['content-encoding'], undefined, 'br asked, only .gz there: identity');
  t.equal(onlyBr.body.toString(), '<svg xmlns="http://www.w3.org/2000/svg"/>');
});

t.test('HEAD: the GET headers, no body', async (t) => {
  for (const accept of ['br', 'gzip', 'identity']) {
    const get = await raw(css, { 'accept-encoding': accept });
    const head = await raw(css, { 'accept-encoding': accept }, 'HEAD');
    t.equal(head.status, 200);
    t.equal(head.body.length, 0, 'no body');
    for (const h of ['content-length', 'content-encoding', 'content-type', 'etag', 'cache-control', 'vary']) t.equal(head.headers[h], get.headers[h], `${accept}: ${h}`);
  }
});

t.test('ETag per variant; If-None-Match answers 304 without a body', async (t) => {
  const br = await raw(js, { 'accept-encoding': 'br' });
  const gz = await raw(js, { 'accept-encoding': 'gzip' });
  const id = await raw(js);
  const tags = [br, gz, id].map((r) => r.headers.etag as string);
  t.equal(new Set(tags).size, 3, `three variants, three tags: ${tags.join(' ')}`);
  const again = await raw(js, { 'accept-encoding': 'br', 'if-none-match': tags[0]! });
  t.equal(again.status, 304);
  t.equal(again.body.length, 0);
  t.equal(again.headers.etag, tags[0]);
  t.equal(again.headers['cache-control'], 'public, max-age=31536000, immutable');
  t.equal(again.headers.vary, 'accept-encoding');
  t.equal((await raw(js, { 'accept-encoding': 'br', 'if-none-match': `"x", W/${tags[0]}` })).status, 304, 'weak comparison, list');
  t.equal((await raw('/', { 'if-none-match': '*' })).status, 304, '*');
  const other = await raw(js, { 'accept-encoding': 'gzip', 'if-none-match': tags[0]! });
  t.equal(other.status, 200, "the br variant's tag does not validate the gzip variant");
  t.equal(other.headers['content-encoding'], 'gzip');
  t.equal((await raw(js, { 'if-none-match': '"stale"' })).status, 200);
});

t.test('cache policy: hashed names for good, the rest revalidated; security headers on files too', async (t) => {
  for (const path of [js, css, '/assets/logo-ABCD1234.svg']) t.equal((await raw(path)).headers['cache-control'], 'public, max-age=31536000, immutable', path);
  for (const path of ['/', '/index.html', '/robots.txt']) t.equal((await raw(path)).headers['cache-control'], 'no-cache', path);
  const index = await raw('/', { 'accept-encoding': 'gzip' });
  t.equal(index.status, 200);
  t.match(index.headers['content-type'], /^text\/html/);
  t.equal(gunzipSync(index.body).toString(), (await file('/index.html')).toString(), '/ is index.html');
  t.match(index.headers['content-security-policy'], /default-src 'self'/);
  t.equal(index.headers['x-content-type-options'], 'nosniff');
  t.equal(index.headers['x-frame-options'], 'DENY');
});

t.test('only the built names: traversal, siblings, dot files, unknown types -> 404 with the error body (401 without a session)', async (t) => {
  const paths = [
    '/../package.json',
    '/assets/../../package.json',
    '/assets/..%2f..%2fpackage.json',
    '/assets/%2e%2e/%2e%2e/package.json',
    '/%2e%2e%2fpackage.json',
    '/index.html%00',
    '/index.html%00.js',
    `${js}%00`,
    '/.env',
    '/notes.bin',
    `${js}.br`,
    '/index.html.gz',
    '/assets/',
    '/assets',
    '/etc/passwd',
    '//etc/passwd',
  ];
  for (const path of paths) {
    const r = await raw(path, { ...cookie, 'accept-encoding': 'br, gzip' });
    t.equal(r.status, 404, `${path}: 404`);
    const body = JSON.parse(r.body.toString());
    t.match(body, { name: String, message: /no route GET / }, `${path}: the error body`);
    t.match(r.headers['content-security-policy'], /default-src 'self'/, `${path}: security headers`);
    const anonymous = await raw(path);
    t.equal(anonymous.status, 401, `${path} without a session: 401, as for any URL that is no public route`);
    t.match(JSON.parse(anonymous.body.toString()), { message: /authentication required/ });
  }
  const bad = await raw('/assets/%zz', {});
  t.equal(bad.status, 400, 'malformed percent-encoding: 400 from the framework');
  t.match(JSON.parse(bad.body.toString()), { message: String });
});

t.test('random paths: 200 only for names in the table, never a crash', async (t) => {
  const served = new Set(['/', '/index.html', js, css, '/robots.txt', '/assets/logo-ABCD1234.svg']);
  const segment = fc.oneof(
    fc.constantFrom('..', '.', '', 'assets', 'index.html', js.slice(8), css.slice(8), 'robots.txt', '%2e%2e', '%2f', '%00', '%5c', '.env', 'package.json', 'logo-ABCD1234.svg'),
    fc.stringMatching(/^[A-Za-z0-9._~%-]{0,12}$/),
  );
  const pathArb = fc.array(segment, { minLength: 1, maxLength: 5 }).map((s) => '/' + s.join('/'));
  let seen200 = 0;
  await fc.assert(
    fc.asyncProperty(pathArb, fc.constantFrom('GET', 'HEAD'), async (path, method) => {
      const r = await raw(path, { ...cookie, 'accept-encoding': 'gzip' }, method);
      if (r.status === 200) {
        seen200++;
        return served.has(decodeURIComponent(path));
      }
      return r.status === 404 || r.status === 400;
    }),
    { numRuns: 400 },
  );
  t.ok(seen200 > 0, `some random paths hit a served name (${seen200})`);
  t.equal((await raw('/')).status, 200, 'still serving after the run');
});

t.test('API replies: 1 KB or more compressed by Accept-Encoding, smaller ones not', async (t) => {
  const big = await raw('/api/config/form', { ...cookie, 'accept-encoding': 'br;q=0.9, gzip' });
  t.equal(big.status, 200);
  t.equal(big.headers['content-encoding'], 'gzip', 'q-values: gzip over br');
  const json = JSON.parse(gunzipSync(big.body).toString());
  t.ok(json, 'decodes to JSON');
  const plain = await raw('/api/config/form', cookie);
  t.equal(plain.headers['content-encoding'], undefined, 'no Accept-Encoding: identity');
  t.ok(plain.body.length >= 1024, `the form is over the threshold (${plain.body.length} B)`);
  t.same(JSON.parse(plain.body.toString()), json);
  const br = await raw('/api/config/form', { ...cookie, 'accept-encoding': 'gzip, br' });
  t.equal(br.headers['content-encoding'], 'br');
  t.same(JSON.parse(brotliDecompressSync(br.body).toString()), json);
  t.equal(Number(br.headers['content-length'] ?? br.body.length), br.body.length);
  t.match(br.headers.vary, /accept-encoding/);
  t.equal(br.headers['cache-control'], 'no-store', 'API still never cached');

  const small = await raw('/api/auth/session', { ...cookie, 'accept-encoding': 'br, gzip' });
  t.equal(small.status, 200);
  t.ok(small.body.length < 1024, `session reply is small (${small.body.length} B)`);
  t.equal(small.headers['content-encoding'], undefined, 'under 1 KB: sent as is');
  t.ok(JSON.parse(small.body.toString()));
  t.match(small.headers.vary, /accept-encoding/);

  const notFound = await raw('/api/nothing-here', { ...cookie, 'accept-encoding': 'gzip' });
  t.equal(notFound.status, 404);
  t.equal(notFound.headers['content-encoding'], undefined);
  t.match(JSON.parse(notFound.body.toString()), { message: /no route GET \/api\/nothing-here$/ });
});

t.test('a compressed request body is refused by name, not misread as bad JSON', async (t) => {
  const res = await fetch(g.url + '/api/auth/login', {
    method: 'POST',
    headers: { 'content-type': 'application/json', 'content-encoding': 'gzip' },
    body: gzipSync(JSON.stringify({ password: 'x' })),
  });
  t.equal(res.status, 415);
  t.match(((await res.json()) as { message: string }).message, /without Content-Encoding/);
  const noBody = await raw('/api/auth/session', { ...cookie, 'content-encoding': 'gzip' });
  t.equal(noBody.status, 200, 'the header on a request without a body is harmless');
});
