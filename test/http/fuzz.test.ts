/**
 * Seeded fuzz of the API's input handling: random bodies, hex, JSON fragments
 * and query strings never produce a 5xx, always a message, and leave the
 * gateway working (no handle or card session left behind).
 */
import t from 'tap';
import { startTestGateway, Client, eventually, type TestGateway } from './harness.js';
import { rng } from '../helpers/prng.js';

const SEED = Number(process.env.FUZZ_SEED ?? 0x5c4d);
const ROUNDS = 400;

let g: TestGateway;
t.before(async () => {
  g = await startTestGateway({ config: { http: { loginAttemptsPerMinute: 1000 } } });
});
t.teardown(() => g?.stop());

t.test(`random input never gets a 5xx (seed ${SEED})`, async (t) => {
  const r = rng(SEED);
  const pick = <T>(xs: readonly T[]): T => xs[Math.floor(r() * xs.length)];
  const c = new Client(g.url);
  await c.login();
  const reader = g.gw.core.readers()[0].name;
  await c.req('POST', `/api/readers/${encodeURIComponent(reader)}/simulate/insert`, { card: 'iso7816' });
  const hexish = (): string => {
    const alphabet = '0123456789abcdefABCDEF  :xXgG\t-';
    let s = '';
    const n = Math.floor(r() * 40);
    for (let i = 0; i < n; i++) s += pick([...alphabet]);
    return s;
  };
  const value = (depth = 0): unknown => {
    switch (Math.floor(r() * (depth > 2 ? 5 : 7))) {
      case 0: return hexish();
      case 1: return Math.floor(r() * 2 ** 33) - 2 ** 32;
      case 2: return r() < 0.5;
      case 3: return null;
      case 4: return pick(['', reader, 'x'.repeat(300), '\u0000', '../../etc/passwd', '{"a":']);
      case 5: return Array.from({ length: Math.floor(r() * 4) }, () => value(depth + 1));
      default: return Object.fromEntries(Array.from({ length: Math.floor(r() * 4) }, () => [pick(['reader', 'apdu', 'apdus', 'code', 'data', 'card', 'led', 'x']), value(depth + 1)]));
    }
  };
  const targets = [
    ['POST', '/api/transmit'],
    ['POST', `/api/readers/${encodeURIComponent(reader)}/control`],
    ['POST', `/api/readers/${encodeURIComponent(reader)}/feedback`],
    ['POST', '/api/sessions'],
    ['POST', '/api/auth/login'],
    ['POST', `/api/readers/${encodeURIComponent(reader)}/simulate/insert`],
  ] as const;
  let fives = 0;
  for (let i = 0; i < ROUNDS; i++) {
    const [method, path] = pick(targets);
    let body: unknown;
    const mode = r();
    if (mode < 0.6) body = { reader: r() < 0.7 ? reader : value(), apdu: r() < 0.8 ? hexish() : value(), ...(r() < 0.3 ? { [pick(['apdus', 'code', 'data'])]: value() } : {}) };
    else if (mode < 0.85) body = value();
    else body = JSON.stringify(value()).slice(0, Math.floor(r() * 30)); // truncated JSON text
    const res = await c.req(method, path, typeof body === 'string' ? body : body === undefined ? 'null' : body);
    if (res.status >= 500 && res.status !== 501 && res.status !== 502 && res.status !== 504) {
      fives++;
      t.fail(`${method} ${path} ${JSON.stringify(body)?.slice(0, 200)} -> ${res.status} ${res.text.slice(0, 200)}`);
    }
    if (res.status >= 400) t.ok(typeof res.json?.message === 'string' && res.json.message.length > 0, `message for ${res.status}`);
  }
  t.equal(fives, 0, 'no internal errors');
  const q = await c.req('GET', '/api/events?after=-1&limit=1e9');
  t.equal(q.status, 400);
  for (let i = 0; i < 50; i++) {
    const qs = Array.from({ length: 3 }, () => `${pick(['after', 'limit', 'x'])}=${encodeURIComponent(String(value(3)))}`).join('&');
    const res = await c.req('GET', `/api/events?${qs}`);
    t.ok(res.status === 200 || res.status === 400, `events?${qs} -> ${res.status}`);
  }
  const ok = await c.req('POST', '/api/transmit', { reader, apdus: ['00 A4 00 00 02 3F 00'] });
  t.equal(ok.json.responses[0].sw, '9000', 'the gateway still answers');
  // Sessions opened by the fuzz loop are closed at logout; then nothing is left.
  await c.req('POST', '/api/auth/logout');
  await eventually(() => g.gw.core.diagnostics().handles === 0, 'card sessions closed at logout');
  t.equal(g.gw.core.diagnostics().handles, 0, 'no handle left behind');
});
