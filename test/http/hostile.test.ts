/**
 * Hostile HTTP clients: a slow-loris request (headers sent, body trickled) is
 * cut off after http.requestTimeoutMs, a huge body is refused with 413, and
 * another client is answered all the while.
 */
import t from 'tap';
import { connect } from 'node:net';
import { startTestGateway } from './harness.js';

t.test('slow loris and huge bodies are cut off; others are answered meanwhile', async (t) => {
  const g = await startTestGateway({ config: { http: { requestTimeoutMs: 1000, bodyLimitBytes: 4096 } } });
  t.teardown(() => g.stop());
  const u = new URL(g.url);
  // Slow loris: a POST announcing 3 kB (under the body limit), then one byte now and then.
  const loris = connect(Number(u.port), u.hostname);
  await new Promise((r) => loris.once('connect', r));
  loris.write(`POST /api/auth/login HTTP/1.1\r\nHost: ${u.host}\r\nContent-Type: application/json\r\nContent-Length: 3000\r\n\r\n{`);
  let got = '';
  loris.on('data', (d) => (got += d.toString()));
  loris.on('error', () => undefined);
  const closed = new Promise<void>((r) => loris.once('close', () => r()));
  const drip = setInterval(() => loris.writable && loris.write(' '), 200);
  t.teardown(() => clearInterval(drip));
  // Meanwhile another client is served.
  const res = await fetch(new URL('/api/health', g.url)).catch((e: Error) => ({ status: 0, statusText: e.message }));
  t.ok(res.status > 0 && res.status < 500, `another client is answered during the attack (${res.status})`);
  await Promise.race([closed, new Promise((_r, rej) => setTimeout(() => rej(new Error('the slow-loris connection was not closed within 20 s')), 20000))]);
  clearInterval(drip);
  t.notMatch(got, /^HTTP\/1\.1 2/, `cut off, not served (${got.split('\r\n')[0] || 'closed without an answer'})`);

  const huge = await fetch(new URL('/api/auth/login', g.url), { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify({ password: 'x'.repeat(100000) }) });
  t.equal(huge.status, 413, 'a body over http.bodyLimitBytes is refused');
  const body = (await huge.json()) as { message?: string };
  t.ok(body.message && body.message.length > 0, `with a message: ${body.message}`);
});
