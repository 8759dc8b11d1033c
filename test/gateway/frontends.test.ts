/**
 * One table of cases driven through the three frontends — MQTT (a real
 * Mosquitto), HTTP and the control channel — asserting the same data and the
 * same error body from each, and that a VERIFY PIN appears in no response,
 * no log line and no event history.
 */
import t from 'tap';
import { startTestGateway } from '../helpers/gateway.js';
import { startMosquitto } from '../mqtt/mosquitto.js';
import { Observer, request } from '../mqtt/client.js';
import { Client, PASSWORD } from '../http/harness.js';
import { setPassword } from '../../src/api/http/auth/password.js';
import { ControlClient, ControlError } from '../../src/cli/client.js';
import { HTTP_ROUTES } from '../../src/api/http/routes/operations.js';
import type { Operation } from '../../src/gateway/catalog.js';

const ROOT = 'scardgate/test-gw';
const PIN = '31323334';
const VERIFY = '00 20 00 81 04 31 32 33 34';

type Outcome = { ok: true; data: any } | { ok: false; error: { code: number; name: string; message: string } };
type Frontend = (op: Operation, params: Record<string, unknown>) => Promise<Outcome>;

/** Fields that differ by when they were read, not by which frontend answered. */
const VOLATILE = new Set(['expiresAt', 'time', 'uptimeS', 'since', 'session', 'eventCounter']);
const stable = (v: unknown): unknown =>
  Array.isArray(v) ? v.map(stable) : v && typeof v === 'object' ? Object.fromEntries(Object.entries(v).filter(([k]) => !VOLATILE.has(k)).map(([k, x]) => [k, stable(x)])) : v;

t.test('the same request gives the same answer on MQTT, HTTP and the control channel', async (t) => {
  const m = await startMosquitto();
  t.teardown(() => m.close());
  const gw = await startTestGateway({
    services: ['control', 'mqtt', 'http'],
    config: { mqtt: { url: m.url }, events: { debounceMs: 0 } },
  });
  t.teardown(() => gw.stop());

  // --- the three transports -------------------------------------------------------------------
  const o = await Observer.connect(m.url, [`${ROOT}/#`]);
  t.teardown(() => o.close());
  await o.waitFor((x) => x.topic === `${ROOT}/availability` && x.text === 'online', 10000, 'gateway online');
  const mqtt: Frontend = async (op, params) => {
    const r = await request(o, ROOT, op, params);
    return r.status === 'ok' ? { ok: true, data: r.data } : { ok: false, error: r.error };
  };

  await setPassword(gw.config.state.dir, PASSWORD);
  const web = new Client(gw.gateway.addresses().http.replace(/\/$/, ''));
  await web.login();
  const http: Frontend = async (op, params) => {
    const row = HTTP_ROUTES.find((r) => r.op === op)!;
    const rest = { ...params };
    const names: Record<string, string> = { name: 'reader', id: 'session', token: 'name' };
    const url = row.url.replace(/:(\w+)/g, (_, p: string) => {
      const v = String(rest[names[p]]);
      delete rest[names[p]];
      return encodeURIComponent(v);
    });
    const query = row.method === 'GET' || row.method === 'DELETE' ? new URLSearchParams(Object.entries(rest).map(([k, v]) => [k === 'afterSeq' ? 'after' : k, String(v)])).toString() : '';
    const r = await web.req(row.method, url + (query ? `?${query}` : ''), row.method === 'GET' || row.method === 'DELETE' ? undefined : rest);
    return r.status < 300 ? { ok: true, data: r.json } : { ok: false, error: r.json };
  };

  const ctl = await ControlClient.connect(gw.config.control.socket);
  t.teardown(() => ctl.close());
  const control: Frontend = async (op, params) => {
    try {
      return { ok: true, data: await ctl.request(op, params) };
    } catch (e) {
      if (e instanceof ControlError) return { ok: false, error: e.body };
      throw e;
    }
  };
  const frontends: Record<string, Frontend> = { mqtt, http, control };

  // --- the cases ------------------------------------------------------------------------------
  const cases: Array<{ what: string; op: Operation; params: Record<string, unknown>; error?: string }> = [
    { what: 'readers', op: 'readers', params: {} },
    { what: 'a reader by its number', op: 'reader/status', params: { reader: '2' } },
    { what: 'a reader by a part of its name', op: 'reader/status', params: { reader: 'contactless' } },
    { what: 'an unknown reader', op: 'reader/status', params: { reader: 'no such reader' }, error: 'SCARD_E_UNKNOWN_READER' },
    { what: 'an ambiguous reader', op: 'reader/status', params: { reader: 'contact' }, error: 'SCARD_E_UNKNOWN_READER' },
    { what: 'one-shot transmit with a VERIFY', op: 'transmit', params: { reader: 'Contact Reader B', apdus: ['00 A4 00 0C 02 3F 00', VERIFY] } },
    { what: 'a protocol by its one spelling', op: 'transmit', params: { reader: '2', apdus: ['00 A4 00 0C 02 3F 00'], protocol: 'T=1' } },
    { what: 'another spelling is refused', op: 'transmit', params: { reader: '2', apdus: ['00 A4 00 0C 02 3F 00'], protocol: 'T1' }, error: 'SCARD_E_INVALID_PARAMETER' },
    { what: 'bad hex', op: 'transmit', params: { reader: '2', apdus: ['00 A4 0G'] }, error: 'SCARD_E_INVALID_PARAMETER' },
    { what: 'an APDU too short', op: 'transmit', params: { reader: '2', apdus: ['00A4'] }, error: 'SCARD_E_INVALID_PARAMETER' },
    { what: 'an unknown field', op: 'transmit', params: { reader: '2', apdus: ['00A4000C023F00'], pin: '1234' }, error: 'SCARD_E_INVALID_PARAMETER' },
    { what: 'no card', op: 'transmit', params: { reader: 'Empty', apdus: ['00A4000C023F00'] }, error: 'SCARD_E_NO_SMARTCARD' },
    { what: 'remove from an empty reader', op: 'simulate/remove', params: { reader: 'Empty' }, error: 'SCARD_E_NO_SMARTCARD' },
    { what: 'an unknown card model', op: 'simulate/insert', params: { reader: 'Empty', card: 'no-such-card' }, error: 'SCARD_E_INVALID_PARAMETER' },
    { what: 'feedback without led or buzzer', op: 'feedback', params: { reader: '1' }, error: 'SCARD_E_INVALID_PARAMETER' },
    { what: 'PIN pad keys on a reader without one', op: 'simulate/pinpad', params: { reader: 'Empty', pin: '1234' }, error: 'SCARD_E_UNSUPPORTED_FEATURE' },
    { what: 'PIN pad: neither pin nor cancel', op: 'simulate/pinpad', params: { reader: 'Empty' }, error: 'SCARD_E_INVALID_PARAMETER' },
    { what: 'control: GET_FEATURE_REQUEST', op: 'control', params: { reader: '1', code: 0x42000000 + 3400 } },
    { what: 'a session that is not there', op: 'session/transmit', params: { session: 'nope', apdus: ['0084000008'] }, error: 'SCARD_E_INVALID_HANDLE' },
  ];

  for (const c of cases) {
    const got: Record<string, Outcome> = {};
    for (const [name, f] of Object.entries(frontends)) got[name] = await f(c.op, c.params);
    const [first, ...others] = Object.keys(got);
    if (c.error) t.match(got[first], { ok: false, error: { name: c.error, code: Number, message: String } }, `${c.what}: ${c.error}`);
    else t.equal(got[first].ok, true, `${c.what}: ${JSON.stringify(got[first])}`);
    for (const o2 of others) t.same(stable(got[o2]), stable(got[first]), `${c.what}: ${o2} answers as ${first}`);
    for (const [name, r] of Object.entries(got)) t.notMatch(JSON.stringify(r), PIN, `${c.what}: no PIN in the ${name} answer`);
  }

  // --- a session through each frontend: open, VERIFY, read, close (reset) -----------------------
  const sessionRuns: Record<string, unknown[]> = {};
  for (const [name, f] of Object.entries(frontends)) {
    const open = await f('session/open', { reader: 'Contact Reader B' });
    t.equal(open.ok, true, `${name}: session opened`);
    const session = (open as { data: { session: string } }).data.session;
    const x = await f('session/transmit', { session, apdus: [VERIFY, '00 20 00 81'] });
    const closed = await f('session/close', { session });
    t.match(closed, { ok: true, data: { session, disposition: 'reset' } }, `${name}: closed with a card reset`);
    const after = await f('transmit', { reader: 'Contact Reader B', apdus: ['00 20 00 81'] });
    t.match((after as { data: { responses: Array<{ sw: string }> } }).data.responses[0].sw, /^63C/, `${name}: the PIN is no longer verified after close`);
    sessionRuns[name] = [stable(open), stable(x), stable(closed)];
  }
  t.same(sessionRuns.http, sessionRuns.mqtt, 'session answers: http as mqtt');
  t.same(sessionRuns.control, sessionRuns.mqtt, 'session answers: control as mqtt');
  t.notMatch(JSON.stringify(sessionRuns), PIN);

  // --- events: the same history from each frontend ----------------------------------------------
  await gw.gateway.context.api.call('simulate/insert', { reader: 'Empty', card: 'iso7816' }, { owner: 'test' });
  const journal = gw.gateway.context.api.events()!;
  await o.waitFor((x) => x.topic === `${ROOT}/events` && x.json().type === 'card.inserted', 10000, 'card.inserted published');
  const last = journal.lastSeq();
  const history: Record<string, Outcome> = {};
  for (const [name, f] of Object.entries(frontends)) history[name] = await f('events', { afterSeq: Math.max(0, last - 5), limit: 5 });
  t.match(history.mqtt, { ok: true, data: { lastSeq: last } });
  t.same(history.http, history.mqtt, 'events: http as mqtt');
  t.same(history.control, history.mqtt, 'events: control as mqtt');

  // --- secrets: not in any log line, the event history, or anything MQTT carried -----------------
  t.notMatch(gw.logs.raw, PIN, 'no PIN in the log');
  t.notMatch(gw.logs.raw, '31 32 33 34', 'no PIN in the log (spaced)');
  t.notMatch(JSON.stringify(journal.history({ afterSeq: 0, limit: 1000 })), PIN, 'no PIN in the event history');
  // What the gateway published (our own requests, which carry the PIN, excepted).
  const published = o.messages.filter((x) => !x.topic.startsWith(`${ROOT}/request/`));
  t.ok(published.some((x) => x.topic.startsWith(`${ROOT}/response/`)), 'responses were seen');
  t.notOk(published.some((x) => x.text.includes(PIN) || x.text.includes('31 32 33 34')), 'no PIN in anything the gateway published');
});
