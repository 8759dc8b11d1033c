/**
 * The HTTP API against a real gateway (core + sim driver + HTTP service on
 * loopback): every route authenticated and not, CSRF, tokens, bad input.
 */
import t from 'tap';
import { readFile, stat } from 'node:fs/promises';
import { WebSocket } from 'ws';
import { startTestGateway, Client, PASSWORD, eventually, type TestGateway } from './harness.js';
import { createToken, revokeToken } from '../../src/api/http/auth/tokens.js';

let g: TestGateway;
let readerA = '';
let readerB = '';

t.before(async () => {
  // Many logins from one address in this file; the limit itself is tested on its own gateway below.
  g = await startTestGateway({ config: { http: { loginAttemptsPerMinute: 1000 } } });
  const names = g.gw.core.readers().map((r) => r.name);
  readerA = names.find((n) => n.startsWith('Sim A'))!;
  readerB = names.find((n) => n.startsWith('Sim B'))!;
});
t.teardown(async () => g?.stop());

const enc = encodeURIComponent;

/** Every API route with a body that would be valid, so only authentication can refuse it. */
function routes(): Array<[string, string, unknown?]> {
  return [
    ['GET', '/api/auth/session'],
    ['POST', '/api/auth/logout'],
    ['GET', '/api/readers'],
    ['GET', `/api/readers/${enc(readerA)}`],
    ['POST', `/api/readers/${enc(readerA)}/control`, { code: 0x42000000 + 3400, data: '' }],
    ['POST', `/api/readers/${enc(readerA)}/feedback`, { led: 'green' }],
    ['POST', `/api/readers/${enc(readerA)}/simulate/insert`, { card: 'iso7816' }],
    ['POST', `/api/readers/${enc(readerA)}/simulate/remove`, {}],
    ['POST', `/api/readers/${enc(readerA)}/simulate/pinpad`, { cancel: true }],
    ['GET', '/api/events'],
    ['GET', '/api/events/recent'],
    ['POST', '/api/transmit', { reader: readerA, apdus: ['00A40000023F00'] }],
    ['POST', '/api/sessions', { reader: readerA }],
    ['POST', '/api/sessions/abc/transmit', { apdus: ['00A40000023F00'] }],
    ['DELETE', '/api/sessions/abc'],
    ['GET', '/api/diagnostics'],
    ['GET', '/api/status'],
    ['GET', '/api/logs'],
    ['GET', '/api/config'],
    ['PUT', '/api/config', { yaml: 'gatewayId: x\n' }],
    ['GET', '/api/live'],
  ];
}

t.test('every API route refuses a request without credentials (401) and with a bad token (401)', async (t) => {
  const c = new Client(g.url);
  for (const [method, path, body] of routes()) {
    const r = await c.req(method, path, body);
    t.equal(r.status, 401, `${method} ${path} without credentials`);
    t.match(r.json?.message, /authentication required/, `${method} ${path} says why`);
    const b = await c.req(method, path, body, { authorization: 'Bearer sgt_not-a-real-token' });
    t.equal(b.status, 401, `${method} ${path} with a bad token`);
  }
  // Encoded or odd spellings of an API path are still the API: authenticated or not found, never open.
  for (const p of ['/%61pi/readers', '/%61%70%69/diagnostics', '/api/readers/', '/api/./readers', '/api/readers;x', '/api%2Freaders', '//api/readers']) {
    const r = await c.req('GET', p);
    t.ok(r.status === 401 || r.status === 404, `${p} -> ${r.status}`);
  }
  // A forged/stale session cookie is "expired", not silently accepted.
  const r = await c.req('GET', '/api/readers', undefined, { cookie: 'scardgate_session=forged' });
  t.equal(r.status, 401);
  t.match(r.json.message, /session expired/);
});

t.test('login: wrong password refused, right one sets a HttpOnly SameSite=Strict cookie', async (t) => {
  const bad = await fetch(g.url + '/api/auth/login', { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify({ password: 'wrong password' }) });
  t.equal(bad.status, 401);
  t.match(((await bad.json()) as { message: string }).message, /wrong password/);
  t.same(bad.headers.getSetCookie(), [], 'no cookie on failure');

  const ok = await fetch(g.url + '/api/auth/login', { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify({ password: PASSWORD }) });
  t.equal(ok.status, 200);
  const cookie = ok.headers.getSetCookie().find((c) => c.startsWith('scardgate_session='))!;
  t.ok(cookie, 'session cookie set');
  t.match(cookie, /HttpOnly/i);
  t.match(cookie, /SameSite=Strict/i);
  t.match(cookie, /Path=\//);
  t.notMatch(cookie, /Secure/i, 'not Secure over plain HTTP (the browser would drop it)');
  const body = (await ok.json()) as { csrfToken: string };
  t.type(body.csrfToken, 'string');
  t.ok(body.csrfToken.length >= 32);

  const missing = await c0().req('POST', '/api/auth/login', { pass: 'x' });
  t.equal(missing.status, 400);
  t.match(missing.json.message, /password/);
});

const c0 = () => new Client(g.url);

t.test('CSRF: a session needs X-CSRF-Token on state-changing requests', async (t) => {
  const c = new Client(g.url);
  await c.login();
  const none = await c.req('POST', `/api/readers/${enc(readerB)}/simulate/insert`, { card: 'iso7816' }, { 'x-csrf-token': '' });
  t.equal(none.status, 403);
  t.match(none.json.message, /CSRF/);
  const wrong = await c.req('POST', `/api/readers/${enc(readerB)}/simulate/insert`, { card: 'iso7816' }, { 'x-csrf-token': 'x'.repeat(c.csrf.length) });
  t.equal(wrong.status, 403);
  t.notOk(g.gw.core.reader(readerB)!.state & 0x4, 'refused request did nothing');
  const cross = await c.req('GET', '/api/readers', undefined, { origin: 'http://evil.example' });
  t.equal(cross.status, 403, 'foreign Origin refused');
  const ok = await c.req('GET', '/api/readers');
  t.equal(ok.status, 200, 'GET needs no token');
  const s = await c.req('GET', '/api/auth/session');
  t.equal(s.json.csrfToken, c.csrf, 'the session route hands the token to the UI');
});

t.test('readers: list, one, unknown', async (t) => {
  const c = new Client(g.url);
  await c.login();
  const list = await c.req('GET', '/api/readers');
  t.equal(list.status, 200);
  t.same(list.json.readers.map((r: { name: string }) => r.name).sort(), [readerA, readerB].sort());
  t.ok(list.json.cardModels.includes('iso7816'), 'card models from the sim schema');
  const one = await c.req('GET', `/api/readers/${enc(readerA)}`);
  t.equal(one.json.name, readerA);
  t.equal(one.json.driver, 'sim');
  const unknown = await c.req('GET', `/api/readers/${enc('No Such Reader 00 00')}`);
  t.equal(unknown.status, 404);
  t.match(unknown.json, { code: 0x80100009, name: 'SCARD_E_UNKNOWN_READER', message: /no reader matches "No Such Reader 00 00"/ });
});

t.test('simulated card insert/remove, events history and the live channel', async (t) => {
  const c = new Client(g.url);
  await c.login();
  const ws = new WebSocket(g.url.replace('http', 'ws') + '/api/live', { headers: { cookie: c.cookie, origin: g.url } });
  const msgs: any[] = [];
  const waitFor = (pred: (m: any) => boolean) =>
    new Promise<any>((resolve) => {
      const hit = msgs.find(pred);
      if (hit) return resolve(hit);
      const on = (d: Buffer) => {
        const m = JSON.parse(String(d));
        if (pred(m)) {
          ws.off('message', on);
          resolve(m);
        }
      };
      ws.on('message', on);
    });
  ws.on('message', (d) => msgs.push(JSON.parse(String(d))));
  const hello = await waitFor((m) => m.t === 'hello');
  t.equal(hello.readers.length, 2);
  t.equal(hello.journal, true);

  const ins = await c.req('POST', `/api/readers/${enc(readerA)}/simulate/insert`, { card: 'iso7816' });
  t.equal(ins.status, 200);
  t.equal(ins.json.state, 'present');
  t.match(ins.json.atr, /^3B[0-9A-F]+$/, 'answer carries the ATR');
  const live = await waitFor((m) => m.t === 'reader' && m.reader.name === readerA && m.reader.state === 'present');
  t.equal(live.reader.atr, ins.json.atr);
  const ev = await waitFor((m) => m.t === 'event' && m.event.type === 'card.inserted' && m.event.reader === readerA);
  t.type(ev.event.seq, 'number');

  const hist = await c.req('GET', `/api/events?after=${ev.event.seq - 1}&limit=10`);
  t.equal(hist.status, 200);
  t.equal(hist.json.events[0].seq, ev.event.seq);
  t.equal(hist.json.events[0].type, 'card.inserted');
  const recent = await c.req('GET', '/api/events/recent?limit=5');
  t.ok(recent.json.events.some((e: { seq: number }) => e.seq === ev.event.seq));

  const badq = await c.req('GET', '/api/events?limit=0');
  t.equal(badq.status, 400);
  t.match(badq.json.message, /limit/);
  const badq2 = await c.req('GET', '/api/events?after=abc');
  t.equal(badq2.status, 400);
  t.match(badq2.json.message, /after/);

  const badCard = await c.req('POST', `/api/readers/${enc(readerA)}/simulate/insert`, { card: 'no-such-model' });
  t.equal(badCard.status, 400, 'unknown card model refused, naming the models');
  t.match(badCard.json.message, /card: unknown card model "no-such-model" \(models: iso7816, /);

  const rem = await c.req('POST', `/api/readers/${enc(readerA)}/simulate/remove`, {});
  t.equal(rem.status, 200);
  t.equal(rem.json.state, 'empty');
  await waitFor((m) => m.t === 'reader' && m.reader.name === readerA && m.reader.state === 'empty');
  const again = await c.req('POST', `/api/readers/${enc(readerA)}/simulate/remove`, {});
  t.equal(again.status, 409, 'removing from an empty reader is an error');
  t.equal(again.json.name, 'SCARD_E_NO_SMARTCARD');

  const unknown = await c.req('POST', `/api/readers/${enc('Nope 00 00')}/simulate/insert`, {});
  t.equal(unknown.status, 404);
  ws.close();
});

t.test('live channel: refused without a session and from a foreign origin', async (t) => {
  const wsUrl = g.url.replace('http', 'ws') + '/api/live';
  const status = (headers: Record<string, string>) =>
    new Promise<number>((resolve) => {
      const ws = new WebSocket(wsUrl, { headers });
      ws.on('unexpected-response', (_req, res) => resolve(res.statusCode ?? 0));
      ws.on('open', () => {
        ws.close();
        resolve(101);
      });
      ws.on('error', () => undefined);
    });
  t.equal(await status({}), 401);
  const c = new Client(g.url);
  await c.login();
  t.equal(await status({ cookie: c.cookie, origin: 'http://evil.example' }), 403);
  t.equal(await status({ cookie: c.cookie, origin: g.url }), 101);
});

t.test('transmit: one-shot, sessions, bad hex, unknown reader, no card', async (t) => {
  const c = new Client(g.url);
  await c.login();
  const noCard = await c.req('POST', '/api/transmit', { reader: readerB, apdus: ['00 A4 00 00 02 3F 00'] });
  t.equal(noCard.status, 409);
  t.equal(noCard.json.name, 'SCARD_E_NO_SMARTCARD');

  await c.req('POST', `/api/readers/${enc(readerB)}/simulate/insert`, { card: 'iso7816' });
  const ok = await c.req('POST', '/api/transmit', { reader: readerB, apdus: ['00 A4 00 00 02 3F 00'] });
  t.equal(ok.status, 200);
  t.match(ok.json, { reader: readerB, protocol: 'T=1', atr: /^3B/ });
  t.match(ok.json.responses[0], { apdu: '00 A4 00 00 02 3F 00', sw: '9000', swText: 'success', ok: true });
  t.match(ok.json.responses[0].response, / 90 00$/);

  const bad = (message: RegExp) => ({ code: 0x80100004, name: 'SCARD_E_INVALID_PARAMETER', message });
  const badHex = await c.req('POST', '/api/transmit', { reader: readerB, apdus: ['00 A4 0G'] });
  t.equal(badHex.status, 400);
  t.same(badHex.json, { code: 0x80100004, name: 'SCARD_E_INVALID_PARAMETER', message: 'Invalid parameter given. apdus.0: not a valid APDU (invalid hex character "G" at position 7)' });
  const odd = await c.req('POST', '/api/transmit', { reader: readerB, apdus: ['00A400000'] });
  t.match(odd.json, bad(/apdus\.0: not a valid APDU \(odd number of hex digits/));
  const short = await c.req('POST', '/api/transmit', { reader: readerB, apdus: ['00A4'] });
  t.match(short.json, bad(/apdus\.0: not a valid APDU/));
  const notString = await c.req('POST', '/api/transmit', { reader: readerB, apdus: [42] });
  t.match(notString.json, bad(/apdus\.0: must be string, got number/));
  const extra = await c.req('POST', '/api/transmit', { reader: readerB, apdus: ['00A40000023F00'], pin: '1234' });
  t.equal(extra.status, 400, 'unknown fields refused');
  t.match(extra.json, bad(/unknown field "pin"/));
  const unknown = await c.req('POST', '/api/transmit', { reader: 'Nope 00 00', apdus: ['00A40000023F00'] });
  t.equal(unknown.status, 404);
  t.match(unknown.json.message, /no reader matches "Nope 00 00"/);

  const multi = await c.req('POST', '/api/transmit', { reader: readerB, apdus: ['00 A4 00 00 02 3F 00', '00 84 00 00 04', '00 B0 00 00 01'] });
  t.equal(multi.status, 200);
  t.equal(multi.json.responses.length, 3, 'one result per APDU, in order');
  t.equal(multi.json.responses[0].sw, '9000');
  t.equal(multi.json.responses[1].sw, '9000');
  t.equal(multi.json.responses[1].data.length, 8, 'GET CHALLENGE 4 bytes');
  t.match(multi.json.responses[2].sw, /^[0-9A-F]{4}$/, 'READ BINARY on the MF is answered (with an error status)');
  const badInList = await c.req('POST', '/api/transmit', { reader: readerB, apdus: ['00A40000023F00', '00 A4 X'] });
  t.match(badInList.json, bad(/^Invalid parameter given. apdus\.1: not a valid APDU \(invalid hex character "X"/));

  const open = await c.req('POST', '/api/sessions', { reader: readerB });
  t.equal(open.status, 201);
  const id = open.json.session;
  const s1 = await c.req('POST', `/api/sessions/${id}/transmit`, { apdus: ['00 A4 00 00 02 3F 00'] });
  t.equal(s1.json.responses[0].sw, '9000');
  const s2 = await c.req('POST', `/api/sessions/${id}/transmit`, { apdus: ['00 84 00 00 08'] });
  t.equal(s2.json.responses[0].sw, '9000');
  t.equal(s2.json.responses[0].data.length, 16, 'GET CHALLENGE gave 8 bytes');
  const sBad = await c.req('POST', `/api/sessions/${id}/transmit`, { apdus: ['zz'] });
  t.equal(sBad.status, 400);
  t.same((await c.req('DELETE', `/api/sessions/${id}`)).json, { session: id, disposition: 'reset' }, 'closing resets the card by default');
  const gone = await c.req('POST', `/api/sessions/${id}/transmit`, { apdus: ['00 84 00 00 08'] });
  t.equal(gone.status, 404);
  t.match(gone.json.message, /no session/);
  t.equal((await c.req('DELETE', `/api/sessions/${id}`)).status, 404);

  // A card session is private to the login that opened it, and ends with it.
  const other = new Client(g.url);
  await other.login();
  const mine = (await c.req('POST', '/api/sessions', { reader: readerB })).json.session;
  const theirs = await other.req('POST', `/api/sessions/${mine}/transmit`, { apdus: ['00 84 00 00 08'] });
  t.equal(theirs.status, 404, "another login cannot use my card session");
  await c.req('POST', '/api/auth/logout');
  await eventually(() => g.gw.core.diagnostics().handles === 0, 'card session closed at logout');
  t.equal(g.gw.core.diagnostics().handles, 0, 'logout closed the card session: no handle left behind');
});

t.test('bad JSON, wrong content type and oversized bodies get 4xx naming the problem', async (t) => {
  const c = new Client(g.url);
  await c.login();
  const badJson = await c.req('POST', '/api/transmit', '{"reader": ', {});
  t.equal(badJson.status, 400);
  t.match(badJson.json.message, /not valid JSON/);
  const big = await c.req('POST', '/api/transmit', { reader: readerA, apdu: '00'.repeat(300_000) });
  t.equal(big.status, 413);
  t.match(big.json.message, /too large/);
  const text = await c.req('POST', '/api/transmit', 'hello', { 'content-type': 'text/plain' });
  t.equal(text.status, 415);
  t.match(text.json.message, /content type/);
  const noRoute = await c.req('GET', '/api/nothing');
  t.equal(noRoute.status, 404);
});

t.test('control and feedback reach the reader or say why not', async (t) => {
  const c = new Client(g.url);
  await c.login();
  const ctl = await c.req('POST', `/api/readers/${enc(readerA)}/control`, { code: 0x42000000 + 3400, data: '' });
  // GET_FEATURE_REQUEST: the sim reader has no PC/SC part 10 features: an empty TLV list.
  t.equal(ctl.status, 200);
  t.equal(ctl.json.response, '');
  const unsupported = await c.req('POST', `/api/readers/${enc(readerA)}/control`, { code: 0x42000001, data: '01 02' });
  t.equal(unsupported.status, 501);
  t.equal(unsupported.json.name, 'SCARD_E_UNSUPPORTED_FEATURE');
  t.match(unsupported.json.message, /not supported/);
  const badData = await c.req('POST', `/api/readers/${enc(readerA)}/control`, { code: 1, data: 'xyz' });
  t.equal(badData.status, 400);
  t.match(badData.json.message, /data: not valid hex/);
  const badCode = await c.req('POST', `/api/readers/${enc(readerA)}/control`, { code: -1 });
  t.equal(badCode.status, 400);
  t.match(badCode.json.message, /code/);
  const fb = await c.req('POST', `/api/readers/${enc(readerA)}/feedback`, { led: 'green', buzzer: { ms: 50 } });
  t.equal(fb.status, 200);
  const badFb = await c.req('POST', `/api/readers/${enc(readerA)}/feedback`, { led: 'purple' });
  t.equal(badFb.status, 400);
});

t.test('diagnostics and logs', async (t) => {
  const c = new Client(g.url);
  await c.login();
  const d = await c.req('GET', '/api/diagnostics');
  t.equal(d.status, 200);
  t.equal(d.json.gatewayId, 'gw-test');
  t.equal(d.json.versions.node, process.versions.node);
  t.type(d.json.uptimeSeconds, 'number');
  t.ok(d.json.memory.rssBytes > 0);
  t.ok(d.json.services['driver:sim'], 'per-driver diagnostics');
  t.ok(d.json.services.http, 'the HTTP service reports itself');
  for (const k of ['serialPorts', 'i2cBuses', 'usbCcid']) t.ok(k in d.json.board, `board.${k} present (list or error)`);
  const st = await c.req('GET', '/api/status');
  t.same(st.json, { readers: 2, journal: true, mqtt: null }, 'status: MQTT disabled here, journal running');
  const logs = await c.req('GET', '/api/logs?limit=50');
  t.equal(logs.status, 200);
  t.ok(logs.json.lines.length > 0 && logs.json.lines.length <= 50);
  t.ok(logs.json.lines.some((l: string) => /web login/.test(l)), 'recent lines include the login');
  t.notOk(logs.json.lines.some((l: string) => l.includes(PASSWORD)), 'the password never reaches the log');
  const bad = await c.req('GET', '/api/logs?limit=999999');
  t.equal(bad.status, 400);
});

t.test('config: view with secrets masked, invalid edit refused with the key path, valid edit saved', async (t) => {
  const c = new Client(g.url);
  await c.login();
  const before = await readFile(g.configFile, 'utf8');
  const v = await c.req('GET', '/api/config');
  t.equal(v.status, 200);
  t.equal(v.json.file, g.configFile);
  t.equal(v.json.editable, true);
  t.match(v.json.yaml, /gatewayId: gw-test/);
  t.equal(v.json.effective.http.port, 0);
  t.match(v.json.keys.find((k: { path: string }) => k.path === 'http.port'), { type: 'integer 0..65535', default: 8080 }, 'key reference from the schema');

  const bad = await c.req('PUT', '/api/config', { yaml: v.json.yaml.replace(/port: 0/, 'port: 70000') });
  t.equal(bad.status, 400);
  t.match(bad.json, { name: 'SCARD_E_INVALID_PARAMETER', message: /invalid configuration: http\.port: / });
  t.equal(await readFile(g.configFile, 'utf8'), before, 'refused edit leaves the file untouched');

  const unknownKey = await c.req('PUT', '/api/config', { yaml: v.json.yaml + 'mqtt2: {}\n' });
  t.equal(unknownKey.status, 400);
  t.match(unknownKey.json.message, /mqtt2|unknown key/);
  const badYaml = await c.req('PUT', '/api/config', { yaml: 'http: [unclosed' });
  t.equal(badYaml.status, 400);
  t.match(badYaml.json.message, /line \d+/);

  const good = await c.req('PUT', '/api/config', { yaml: v.json.yaml.replace(/gatewayId: gw-test/, 'gatewayId: gw-renamed') });
  t.equal(good.status, 200);
  t.same(good.json.changed, ['gatewayId']);
  t.same(good.json.restartNeeded, ['gatewayId'], 'a gateway id change needs a daemon restart and says so');
  t.match(await readFile(g.configFile, 'utf8'), /gatewayId: gw-renamed/);

  const secret = await c.req('PUT', '/api/config', { yaml: (await readFile(g.configFile, 'utf8')) + '# token: not-a-key\n' });
  t.equal(secret.status, 200, 'comments are kept and harmless');
});

t.test('API tokens: bearer works without CSRF, revoked token refused', async (t) => {
  const { token } = await createToken(g.stateDir, 'door-controller', ['transmit']);
  const mode = (await stat(`${g.stateDir}/http-tokens.json`)).mode & 0o777;
  t.equal(mode, 0o600, 'token file is private');
  t.notMatch(await readFile(`${g.stateDir}/http-tokens.json`, 'utf8'), token.slice(4), 'token itself not stored');
  const c = new Client(g.url);
  const auth = { authorization: `Bearer ${token}` };
  t.equal((await c.req('GET', '/api/readers', undefined, auth)).status, 200);
  const ins = await c.req('POST', `/api/readers/${enc(readerA)}/simulate/insert`, { card: 'iso7816' }, auth);
  t.equal(ins.status, 200, 'machines need no CSRF token');
  const tx = await c.req('POST', '/api/transmit', { reader: readerA, apdus: ['00A40000023F00'] }, auth);
  t.equal(tx.json.responses[0].sw, '9000');
  t.equal((await c.req('GET', '/api/auth/session', undefined, auth)).json.name, 'door-controller');
  t.ok(await revokeToken(g.stateDir, 'door-controller'));
  t.equal((await c.req('GET', '/api/readers', undefined, auth)).status, 401, 'revocation applies at once');
});

t.test('logout ends the session and its live channel', async (t) => {
  const c = new Client(g.url);
  await c.login();
  const ws = new WebSocket(g.url.replace('http', 'ws') + '/api/live', { headers: { cookie: c.cookie } });
  await new Promise((r) => ws.once('open', r));
  const closed = new Promise<number>((r) => ws.once('close', (code) => r(code)));
  const out = await c.req('POST', '/api/auth/logout');
  t.equal(out.status, 200);
  t.equal(await closed, 4001, 'live channel closed as "session ended"');
  const after = await c.req('GET', '/api/readers');
  t.equal(after.status, 401);
  t.match(after.json.message, /session expired/);
});

t.test('login rate limit: the 6th attempt within a minute gets 429', async (t) => {
  // Own gateway: the limit is per address and the other tests log in often.
  const g2 = await startTestGateway();
  t.teardown(() => g2.stop());
  const statuses: number[] = [];
  for (let i = 0; i < 6; i++) {
    const r = await fetch(g2.url + '/api/auth/login', { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify({ password: `guess-${i}` }) });
    statuses.push(r.status);
    if (r.status === 429) t.match(((await r.json()) as { message: string }).message, /too many login attempts/);
  }
  t.same(statuses, [401, 401, 401, 401, 401, 429]);
  const right = await fetch(g2.url + '/api/auth/login', { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify({ password: PASSWORD }) });
  t.equal(right.status, 429, 'even the right password waits: guessing gets no signal');
});

t.test('config edit restarts the services it touches and names what waits for a daemon restart', async (t) => {
  const g3 = await startTestGateway({ services: ['control'] });
  t.teardown(() => g3.stop());
  const c = new Client(g3.url);
  await c.login();
  const v = await c.req('GET', '/api/config');
  const oldSock = v.json.effective.control.socket as string;
  const newSock = oldSock.replace(/ctl\.sock$/, 'ctl2.sock');
  const edited = v.json.yaml.replace(oldSock, newSock).replace('name: Sim B', 'name: Sim C');
  const r = await c.req('PUT', '/api/config', { yaml: edited });
  t.equal(r.status, 200, JSON.stringify(r.json));
  t.same(r.json.changed, ['control', 'drivers.sim']);
  t.same(r.json.restarted, ['control'], 'the control service was restarted');
  t.same(r.json.restartNeeded, ['drivers.sim'], 'driver changes wait for a daemon restart');
  const { existsSync } = await import('node:fs');
  t.ok(existsSync(newSock), 'the restarted control service listens on the new socket');
  t.equal((await c.req('GET', '/api/readers')).status, 200, 'the HTTP API kept running');
});

t.test('HTTPS: with tls.cert/tls.key the API is served over TLS and the cookie is Secure', async (t) => {
  const { execFileSync } = await import('node:child_process');
  const { mkdtemp, rm: rmd } = await import('node:fs/promises');
  const { tmpdir } = await import('node:os');
  const { join } = await import('node:path');
  const dir = await mkdtemp(join(tmpdir(), 'scardgate-tls-'));
  t.teardown(() => rmd(dir, { recursive: true, force: true }));
  const cert = join(dir, 'cert.pem');
  const key = join(dir, 'key.pem');
  try {
    execFileSync('openssl', ['req', '-x509', '-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:P-256', '-nodes', '-days', '1', '-subj', '/CN=127.0.0.1', '-addext', 'subjectAltName=IP:127.0.0.1', '-keyout', key, '-out', cert], { stdio: 'pipe' });
  } catch (e) {
    throw new Error(`openssl failed (apt-get install openssl): ${(e as Error).message}`, { cause: e });
  }
  const gt = await startTestGateway({ config: { http: { tls: { cert, key } } } });
  t.teardown(() => gt.stop());
  t.match(gt.url, /^https:\/\//);
  const https = await import('node:https');
  const { readFileSync } = await import('node:fs');
  const ca = readFileSync(cert);
  const res = await new Promise<{ status: number; headers: Record<string, unknown> }>((resolve, reject) => {
    const req = https.request(gt.url + '/api/auth/login', { method: 'POST', ca, headers: { 'content-type': 'application/json' } }, (r) => {
      r.resume();
      r.on('end', () => resolve({ status: r.statusCode ?? 0, headers: r.headers }));
    });
    req.on('error', reject);
    req.end(JSON.stringify({ password: PASSWORD }));
  });
  t.equal(res.status, 200);
  const cookie = (res.headers['set-cookie'] as string[])[0];
  t.match(cookie, /; Secure/);
  t.match(String(res.headers['strict-transport-security']), /max-age=/);
});

t.test('config: secrets are masked in both views and kept when the mask is saved back', async (t) => {
  const gs = await startTestGateway({
    config: {
      mqtt: { enabled: false, username: 'gw', password: 'broker-secret-1' },
      drivers: { sim: { readers: [{ name: 'Sim P', card: { type: 'iso7816', pins: [{ ref: 0x81, pin: '4711' }] } }] } },
    },
  });
  t.teardown(() => gs.stop());
  const c = new Client(gs.url);
  await c.login();
  const v = await c.req('GET', '/api/config');
  t.notMatch(v.text, /broker-secret-1/, 'password not sent');
  t.notMatch(v.text, /4711/, 'card PIN not sent');
  t.equal(v.json.effective.mqtt.password, '********');
  t.equal(v.json.keys.find((k: { path: string }) => k.path === 'mqtt.password').default, undefined, 'no default shown for secrets');
  t.match(v.json.yaml, /password: "?\*{8}"?/);
  const saved = await c.req('PUT', '/api/config', { yaml: v.json.yaml.replace('gatewayId: gw-test', 'gatewayId: gw-2') });
  t.equal(saved.status, 200);
  const file = await readFile(gs.configFile, 'utf8');
  t.match(file, /broker-secret-1/, 'the real password kept in the file');
  t.match(file, /4711/, 'the PIN kept');
  t.match(file, /gatewayId: gw-2/);
  const changed = await c.req('PUT', '/api/config', { yaml: v.json.yaml.replace(/password: "?\*{8}"?/, 'password: new-secret-2') });
  t.equal(changed.status, 200);
  t.match(await readFile(gs.configFile, 'utf8'), /new-secret-2/, 'a typed value replaces the secret');
  const logs = await c.req('GET', '/api/logs?limit=1000');
  t.notOk(logs.json.lines.some((l: string) => /broker-secret-1|new-secret-2/.test(l)), 'secrets not logged');
});

t.test('live channel streams log lines to clients that ask for them', async (t) => {
  const c = new Client(g.url);
  await c.login();
  const ws = new WebSocket(g.url.replace('http', 'ws') + '/api/live', { headers: { cookie: c.cookie } });
  await new Promise((r) => ws.once('open', r));
  const lines: string[] = [];
  ws.on('message', (d) => {
    const m = JSON.parse(String(d));
    if (m.t === 'log') lines.push(m.line);
  });
  ws.send('logs:on');
  await c.req('GET', '/api/readers'); // the server processes messages in order: logs:on is active after this round trip
  await fetch(g.url + '/api/auth/login', { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify({ password: 'wrong-but-logged' }) });
  await eventually(() => lines.some((l) => /web login refused/.test(l)), 'refused-login line streamed');
  t.ok(lines.some((l) => /web login refused/.test(l)));
  t.notOk(lines.some((l) => l.includes('wrong-but-logged')), 'the tried password is not logged');
  ws.send('logs:off');
  ws.close();
});

t.test('config on the embedded default: shown, not editable, and the refusal says how to fix it', async (t) => {
  const ge = await startTestGateway({ noConfigFile: true });
  t.teardown(() => ge.stop());
  const c = new Client(ge.url);
  await c.login();
  const v = await c.req('GET', '/api/config');
  t.equal(v.json.editable, false);
  t.equal(v.json.file, null);
  t.equal(v.json.effective.gatewayId, 'gw-test');
  const put = await c.req('PUT', '/api/config', { yaml: 'gatewayId: x\n' });
  t.equal(put.status, 501);
  t.match(put.json.message, /--config/);
});
