/**
 * Request/response against a real Mosquitto: from mqtt.js (3.1.1 style topics
 * with `transaction`, and MQTT 5 response topic + correlation data) and from
 * Debian's mosquitto_rr; every method; bad requests answered with an error
 * that names the problem while the gateway keeps serving.
 */
import t from 'tap';
import { execFile } from 'node:child_process';
import { promisify } from 'node:util';
import { startTestGateway, type TestGateway } from '../helpers/gateway.js';
import { startMosquitto } from './mosquitto.js';
import { Observer, request } from './client.js';
import { lcg } from '../helpers/prng.js';
import { waitFor } from '../helpers/wait-for.js';

const run = promisify(execFile);
const ROOT = 'scardgate/test-gw';

t.test('request/response', async (t) => {
  const m = await startMosquitto();
  t.teardown(() => m.close());
  const gw: TestGateway = await startTestGateway({
    services: ['mqtt'],
    logLevel: 'warn',
    config: { mqtt: { url: m.url, maxRequestBytes: 4096 }, events: { debounceMs: 0 } },
  });
  t.teardown(() => gw.stop());
  const o = await Observer.connect(m.url, [`${ROOT}/response/#`, `${ROOT}/availability`]);
  t.teardown(() => o.close());
  await o.waitFor((x) => x.topic === `${ROOT}/availability` && x.text === 'online');
  const names = gw.core.readers().map((r) => r.name);
  const contactA = names.find((n) => n.includes('Contact Reader A'))!;
  const contactB = names.find((n) => n.includes('Contact Reader B'))!;
  const contactless = names.find((n) => n.includes('Contactless'))!;
  const empty = names.find((n) => n.includes('Empty'))!;

  t.test('readers, reader/status, info, events', async (t) => {
    const r = await request(o, ROOT, 'readers', {}, 'tx-1');
    t.equal(r.status, 'ok');
    t.equal(r.transaction, 'tx-1', 'transaction echoed');
    t.equal(r.data.readers.length, 4);
    const id = r.data.readers.find((x: { name: string }) => x.name === contactless).id;
    const byId = await request(o, ROOT, 'reader/status', { reader: id });
    const byName = await request(o, ROOT, 'reader/status', { reader: contactless });
    t.same(byId.data, byName.data, 'a reader is found by name or by id');
    t.equal(byId.data.state, 'present');
    const info = await request(o, ROOT, 'info', {}, 42);
    t.equal(info.transaction, 42, 'numeric transaction echoed');
    t.equal(info.data.gatewayId, 'test-gw');
    await gw.core.simulateRemove(empty).catch(() => undefined);
    await gw.core.simulateInsert(empty, 'iso7816');
    let ev: any;
    await waitFor(
      async () => {
        ev = await request(o, ROOT, 'events', { limit: 10 });
        return ev.data.events.some((e: { type: string; reader: string }) => e.type === 'card.inserted' && e.reader === empty);
      },
      'card.inserted of the empty reader in the events answer',
      5000,
      50,
    ).catch(() => undefined); // the assertion below says what is missing
    t.ok(ev.data.events.some((e: { type: string; reader: string }) => e.type === 'card.inserted' && e.reader === empty), 'recent events from memory');
  });

  t.test('transmit: one-shot, every response with its status word decoded', async (t) => {
    const r = await request(o, ROOT, 'transmit', { reader: contactB, apdus: ['00 A4 00 0C 02 3F 00', '00 84 00 00 08', '00 B0 00 00 04'] });
    t.equal(r.status, 'ok', JSON.stringify(r));
    t.equal(r.data.reader, contactB);
    t.equal(r.data.protocol, 'T=1');
    t.match(r.data.atr, /^3B/);
    t.equal(r.data.responses.length, 3);
    t.same([r.data.responses[0].sw, r.data.responses[0].ok], ['9000', true]);
    t.equal(r.data.responses[1].data.length, 16, 'GET CHALLENGE: 8 bytes');
    t.equal(r.data.responses[1].swText, 'success');
    t.equal(r.data.responses[2].ok, false);
    t.match(r.data.responses[2].sw, /^6[0-9A-F]{3}$/, 'error SW reported, not thrown');
    const stop = await request(o, ROOT, 'transmit', { reader: contactA, apdus: ['00 A4 04 00 02 DE AD', '00 84 00 00 08'], stopOnError: true });
    t.equal(stop.data.responses.length, 1, 'stopOnError stops at the first error SW');
    t.equal(stop.data.responses[0].sw, '6A82');
    t.equal(stop.data.responses[0].swText, 'file or application not found');
    const uid = await request(o, ROOT, 'transmit', { reader: contactless, apdus: ['FFCA000000'] });
    t.equal(uid.data.responses[0].sw, '9000');
    t.match(uid.data.responses[0].data, /^[0-9A-F]{8}$/);
  });

  t.test('a VERIFY PIN never appears in clear in the response', async (t) => {
    const r = await request(o, ROOT, 'transmit', { reader: contactB, apdus: ['00 20 00 81 04 31 32 33 34'] });
    t.equal(r.status, 'ok');
    t.notMatch(JSON.stringify(r), /31323334|31 32 33 34/, 'PIN bytes absent');
    t.match(r.data.responses[0].apdu, /redacted/);
    t.equal(r.data.responses[0].sw, '9000');
  });

  t.test('sessions: open with a lease, transmit, close; an expired lease closes the session', async (t) => {
    const open = await request(o, ROOT, 'session/open', { reader: contactB, leaseMs: 5000 });
    t.equal(open.status, 'ok', JSON.stringify(open));
    const s = open.data.session;
    t.equal(open.data.protocol, 'T=1');
    t.ok(Date.parse(open.data.expiresAt) > Date.now());
    const sel = await request(o, ROOT, 'session/transmit', { session: s, apdus: ['00 A4 00 0C 02 3F 00'] });
    t.equal(sel.data.responses[0].sw, '9000');
    // SCardControl on the reader the session holds: through the session's handle.
    const ctl = await request(o, ROOT, 'session/control', { session: s, code: 0x42000000 + 3400, data: '' });
    t.equal(ctl.status, 'ok', JSON.stringify(ctl));
    t.equal(ctl.data.session, s);
    t.match(ctl.data.response, /^([0-9A-F]{2})*$/, 'the feature list, as hex');
    const otherCtl = await request(o, ROOT, 'session/control', { session: 'no-such-session', code: 0x42000000 + 3400 });
    t.match(otherCtl.error, { name: 'SCARD_E_INVALID_HANDLE', message: /no session/ });
    const close = await request(o, ROOT, 'session/close', { session: s });
    t.equal(close.status, 'ok');
    const after = await request(o, ROOT, 'session/transmit', { session: s, apdus: ['00 84 00 00 08'] });
    t.equal(after.status, 'error');
    t.match(after.error, { code: 0x80100003, name: 'SCARD_E_INVALID_HANDLE', message: /no session/ });
    const short = await request(o, ROOT, 'session/open', { reader: contactB, leaseMs: 200 });
    // The lease ends on the gateway's own timer: its release of the card handle is the event to wait for.
    await waitFor(() => gw.core.reader(contactB)!.sharing === 0, 'the 200 ms lease to expire and release the handle', 5000);
    const expired = await request(o, ROOT, 'session/transmit', { session: short.data.session, apdus: ['00 84 00 00 08'] });
    t.match(expired.error.message, /no session/);
    t.equal(gw.core.reader(contactB)!.sharing, 0, 'the expired session released its handle');
  });

  t.test('control, feedback, simulate insert/remove', async (t) => {
    const fb = await request(o, ROOT, 'feedback', { reader: contactless, led: 'green', buzzer: { ms: 100 } });
    t.equal(fb.status, 'ok', JSON.stringify(fb));
    const ctl = await request(o, ROOT, 'control', { reader: contactless, code: 0x42000000 + 3400, data: '' });
    t.ok(ctl.status === 'ok' || ctl.error.name, 'control answered (a result or a PC/SC error)');
    const rem = await request(o, ROOT, 'simulate/remove', { reader: empty });
    t.equal(rem.status, 'ok');
    const ins = await request(o, ROOT, 'simulate/insert', { reader: empty, card: { type: 'mifare-ultralight', uid: '04112233445566' } });
    t.equal(ins.status, 'ok', JSON.stringify(ins));
    const st = await request(o, ROOT, 'reader/status', { reader: empty });
    t.equal(st.data.state, 'present');
    t.equal(st.data.uid, '04112233445566');
  });

  t.test('MQTT 5: response topic and correlation data are honoured', async (t) => {
    const c = await Observer.connect(m.url, ['my/replies/#'], { protocolVersion: 5 });
    t.teardown(() => c.close());
    const corr = Buffer.from([1, 2, 3, 0xff]);
    const wait = c.waitFor((x) => x.topic === 'my/replies/1');
    await c.client.publishAsync(`${ROOT}/request/readers`, '{}', { qos: 1, properties: { responseTopic: 'my/replies/1', correlationData: corr } });
    const msg = await wait;
    t.same(msg.packet.properties?.correlationData, corr, 'correlation data returned');
    t.equal(msg.json().status, 'ok');
  });

  t.test('mosquitto_rr (Debian mosquitto-clients) gets its answer', async (t) => {
    const { stdout } = await run('mosquitto_rr', ['-h', '127.0.0.1', '-p', String(m.port), '-t', `${ROOT}/request/reader/status`, '-e', 'rr/response', '-m', JSON.stringify({ reader: contactless }), '-W', '10']);
    const r = JSON.parse(stdout);
    t.equal(r.status, 'ok');
    t.equal(r.data.name, contactless);
    const bad = await run('mosquitto_rr', ['-h', '127.0.0.1', '-p', String(m.port), '-t', `${ROOT}/request/transmit`, '-e', 'rr/response', '-m', '{"reader":"x","apdus":["0G"]}', '-W', '10']);
    t.match(JSON.parse(bad.stdout).error.message, /apdus\.0: not a valid APDU \(invalid hex character "G"/);
  });

  t.test('bad requests get an error that names the problem; nothing else is disturbed', async (t) => {
    const cases: Array<[string, string, RegExp]> = [
      ['readers', '{"transaction": "a", ', /not valid JSON/],
      ['no/such/method', '{}', /unknown operation "no\/such\/method"/],
      ['transmit', JSON.stringify({ reader: contactB, apdus: 'not-an-array' }), /apdus: must be array, got string/],
      ['transmit', JSON.stringify({ reader: contactB, apdus: ['00A4040'] }), /odd number of hex digits/],
      ['transmit', JSON.stringify({ reader: contactB, apdus: ['00A4'] }), /APDU too short/],
      ['transmit', JSON.stringify({ reader: 5, apdus: ['0084000008'] }), /reader: must be string, got number/],
      ['transmit', JSON.stringify({ reader: 'Nope', apdus: ['0084000008'] }), /SCARD_E_UNKNOWN_READER|unknown reader|Nope/i],
      ['transmit', JSON.stringify({ apdus: ['0084000008'] }), /missing field "reader"/],
      ['transmit', JSON.stringify({ reader: contactB, apdus: ['0084000008'], bogus: 1 }), /unknown field "bogus"/],
      ['feedback', JSON.stringify({ reader: contactless, led: 'purple' }), /led: must be one of/],
      ['readers', '[1,2]', /must be a JSON object, got an array/],
      ['readers', JSON.stringify({ pad: 'x'.repeat(5000) }), /over the 4096-byte limit/],
      ['session/transmit', JSON.stringify({ session: 'nope', apdus: ['0084000008'] }), /no session "nope"/],
    ];
    for (const [method, payload, re] of cases) {
      const r = await request(o, ROOT, method, payload);
      t.equal(r.status, 'error', `${method} ${payload.slice(0, 60)}`);
      t.match(r.error.message, re, r.error.message);
      t.same(Object.keys(r).sort(), ['error', 'status'], 'response shape');
      t.same(Object.keys(r.error).sort(), ['code', 'message', 'name'], 'the one error body');
    }
    const ok = await request(o, ROOT, 'readers', {});
    t.equal(ok.status, 'ok', 'still serving');
  });

  t.test('fuzz: random payloads on random methods never crash and always answer', async (t) => {
    const rnd = lcg(1234);
    const methods = ['readers', 'transmit', 'session/open', 'control', 'feedback', 'simulate/insert', 'x'];
    const pieces = ['{', '}', '[', ']', '"reader"', ':', ',', '"apdus"', '"00A4"', 'null', '1e999', '"\\u0000"', 'true', '"transaction"', '-1', '"FF"'];
    for (let i = 0; i < 150; i++) {
      const method = methods[rnd(methods.length)];
      let payload = '';
      const n = rnd(12);
      for (let k = 0; k < n; k++) payload += pieces[rnd(pieces.length)];
      const tx = `fz${i}`;
      // Valid JSON objects carry a transaction so the answer can be matched; other payloads are matched by order.
      const r = await request(o, ROOT, method, payload.startsWith('{') ? payload : payload || '', tx).catch((e: Error) => ({ status: 'timeout', error: e.message }));
      if (r.status !== 'ok' && r.status !== 'error') t.fail(`no answer to ${method} ${payload}`);
    }
    const ok = await request(o, ROOT, 'readers', {});
    t.equal(ok.status, 'ok', 'still serving after the fuzz');
  });
});
