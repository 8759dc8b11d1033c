/**
 * DNS rebinding and cross-origin guards, and security headers on every response: a Host that is not one
 * of the gateway's names gets 421 before anything else (login and UI included); the Origin of a session
 * request must match scheme://host:port; responses fastify makes on its own (bad URL encoding, a request
 * its parser refuses, 404, 413) carry the same security headers as the rest.
 */
import t, { type Test } from 'tap';
import { connect } from 'node:net';
import { request as httpRequest } from 'node:http';
import { startTestGateway, type TestGateway, Client } from './harness.js';
import { SECURITY_HEADERS } from '../../src/api/http/security.js';

let g: TestGateway;
let port = 0;
t.before(async () => {
  g = await startTestGateway({ config: { http: { allowedHosts: ['gw.example.com'] } } });
  port = +new URL(g.url).port;
});
t.teardown(async () => g?.stop());

/** A request with a Host header of our choosing (fetch does not let us set it). */
function withHost(host: string, method: string, path: string, headers: Record<string, string> = {}, body?: string): Promise<{ status: number; headers: Record<string, unknown>; text: string }> {
  return new Promise((resolve, reject) => {
    const req = httpRequest({ host: '127.0.0.1', port, method, path, headers: { host, ...headers, ...(body ? { 'content-type': 'application/json' } : {}) } }, (res) => {
      let text = '';
      res.on('data', (d: Buffer) => (text += d.toString()));
      res.on('end', () => resolve({ status: res.statusCode ?? 0, headers: res.headers, text }));
    });
    req.on('error', reject);
    req.end(body);
  });
}

/** Raw bytes to the server, the response head parsed (for requests no client library would send). */
function raw(bytes: string): Promise<{ status: number; headers: Record<string, string> }> {
  return new Promise((resolve, reject) => {
    const s = connect(port, '127.0.0.1', () => s.end(bytes));
    let buf = '';
    s.on('data', (d: Buffer) => (buf += d.toString('latin1')));
    s.on('error', reject);
    s.on('close', () => {
      const [statusLine, ...lines] = buf.split('\r\n\r\n')[0].split('\r\n');
      const headers: Record<string, string> = {};
      for (const l of lines) headers[l.slice(0, l.indexOf(':')).toLowerCase()] = l.slice(l.indexOf(':') + 1).trim();
      resolve({ status: Number(statusLine.split(' ')[1]), headers });
    });
  });
}

function hasSecurityHeaders(t: Test, headers: Record<string, unknown>, what: string): void {
  for (const [k, v] of Object.entries(SECURITY_HEADERS)) t.equal(headers[k], v, `${what}: ${k}`);
}

t.test('Host allow-list: foreign names get 421 everywhere, the gateway names pass', async (t) => {
  for (const [method, path, body] of [
    ['GET', '/'],
    ['POST', '/api/auth/login', JSON.stringify({ password: 'x'.repeat(10) })],
    ['GET', '/api/readers'],
  ] as const) {
    const r = await withHost(`evil.example:${port}`, method, path, {}, body);
    t.equal(r.status, 421, `${method} ${path} with Host evil.example`);
    t.match(JSON.parse(r.text).message, /Host "evil\.example:\d+" is not a name of this gateway \(add it to http\.allowedHosts\)/);
    hasSecurityHeaders(t, r.headers, '421');
  }
  for (const host of [`localhost:${port}`, `127.0.0.1:${port}`, `[::1]:${port}`, 'gw.example.com', `GW.Example.com:${port}`, '127.0.0.1']) {
    const r = await withHost(host, 'GET', '/api/readers');
    t.equal(r.status, 401, `Host ${host} reaches the API (and its authentication)`);
  }
  t.equal((await raw('GET /api/readers HTTP/1.0\r\n\r\n')).status, 421, 'no Host at all (HTTP/1.0) refused');
  for (const host of ['evil.example', 'user@127.0.0.1', '127.0.0.1/x', '127.0.0.2']) {
    const r = await withHost(host, 'GET', '/api/readers');
    t.equal(r.status, 421, `Host ${JSON.stringify(host)} refused`);
  }
});

t.test('Origin is compared as scheme://host:port', async (t) => {
  const c = new Client(g.url);
  await c.login();
  const ok = await c.req('GET', '/api/readers', undefined, { origin: g.url });
  t.equal(ok.status, 200, 'same origin');
  for (const origin of [g.url.replace('http:', 'https:'), `http://127.0.0.1:${port + 1}`, 'http://evil.example', 'null']) {
    const r = await c.req('GET', '/api/readers', undefined, { origin });
    t.equal(r.status, 403, `Origin ${origin} refused`);
  }
});

t.test('responses fastify makes itself carry the security headers', async (t) => {
  const badUrl = await raw(`GET /%zz HTTP/1.1\r\nHost: 127.0.0.1:${port}\r\nConnection: close\r\n\r\n`);
  t.equal(badUrl.status, 400, 'malformed URL');
  hasSecurityHeaders(t, badUrl.headers, 'bad URL 400');
  const badRequest = await raw(`GET / HTTP/1.1\r\nHost: 127.0.0.1:${port}\r\nBad Header\r\n\r\n`);
  t.equal(badRequest.status, 400, 'unparsable request');
  hasSecurityHeaders(t, badRequest.headers, 'parser 400');
  const tooBig = await withHost(`127.0.0.1:${port}`, 'POST', '/api/auth/login', {}, JSON.stringify({ password: 'x'.repeat(300_000) }));
  t.equal(tooBig.status, 413);
  hasSecurityHeaders(t, tooBig.headers, '413');
  const c = new Client(g.url);
  await c.login();
  const notFound = await c.req('GET', '/api/no-such-route');
  t.equal(notFound.status, 404);
  for (const k of Object.keys(SECURITY_HEADERS)) t.equal(notFound.headers.get(k), SECURITY_HEADERS[k], `404: ${k}`);
});
