/**
 * The data cache through the frontends that expose it: the control channel
 * (scardctl's socket, through src/cli/client.ts), MQTT (real Mosquitto,
 * request/response) and HTTP (the REST routes, with API tokens). Each: the
 * card's identifier and freshness, write/read, freshness after a write APDU
 * sent through that frontend, removal, the bounds, and a card profile answered
 * from the cache on the second tap. Then what never reaches the cache or its
 * answers: secret-bearing profile commands.
 */
import t from 'tap';
import { ControlClient, ControlError } from '../../src/cli/client.js';
import { SCARD } from '../../src/pcsc/constants.js';
import { startTestGateway } from '../helpers/gateway.js';
import { startMosquitto } from '../mqtt/mosquitto.js';
import { Observer, request } from '../mqtt/client.js';
import { createToken } from '../../src/api/http/auth/tokens.js';

const ROOT = 'scardgate/test-gw';
const CARD = { type: 'iso14443-4', uid: '04A1B2C3D4E5F6' };
const PROFILE = {
  name: 'greeting',
  match: { contactless: true },
  apdus: [
    { name: 'select', apdu: '00A4040C0AF0736361726467617465', cache: true },
    { name: 'greeting', apdu: '00B0810014', cache: true },
  ],
};
const UPDATE_BINARY = '00D6000001AA';

interface Frontend {
  name: string;
  /** Resolves with the result data, or rejects with { code } (the SCARD_* number) for a PC/SC failure. */
  call(method: string, params: Record<string, unknown>): Promise<Record<string, any>>;
  transmit(reader: string, apdu: string): Promise<void>;
  tap(reader: string): Promise<void>;
}

async function waitFor<T>(f: () => T | undefined | false, what: string): Promise<T> {
  const deadline = Date.now() + 10000;
  for (;;) {
    const v = f();
    if (v) return v;
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 10));
  }
}

/** A response of the HTTP API: its status and JSON body. */
async function httpCall(base: string, token: string, method: string, path: string, body?: unknown): Promise<{ status: number; json: any; text: string }> {
  const headers: Record<string, string> = { authorization: `Bearer ${token}` };
  if (body !== undefined) headers['content-type'] = 'application/json';
  const res = await fetch(base.replace(/\/$/, '') + path, { method, headers, body: body === undefined ? undefined : JSON.stringify(body) });
  const text = await res.text();
  return { status: res.status, json: text ? JSON.parse(text) : undefined, text };
}

/** The cache operations as REST routes: the card by identifier (/api/cache/:cardId/...) or by reader (/api/readers/:name/cache/...). */
function httpFrontend(base: string, token: string): Frontend & { last?: { status: number; text: string } } {
  const enc = encodeURIComponent;
  const f: Frontend & { last?: { status: number; text: string } } = {
    name: 'http',
    async call(method, p) {
      const card = p.cardId !== undefined ? `/api/cache/${enc(p.cardId as string)}` : `/api/readers/${enc(p.reader as string)}/cache`;
      const item = p.name === undefined ? card : `${card}/${enc(p.name as string)}`;
      const query = (q: Record<string, unknown>) => {
        const e = Object.entries(q).filter(([, v]) => v !== undefined);
        return e.length ? '?' + e.map(([k, v]) => `${k}=${enc(String(v))}`).join('&') : '';
      };
      let r;
      switch (method) {
        case 'cache/card':
          r = await httpCall(base, token, 'GET', card);
          break;
        case 'cache/read':
          r = await httpCall(base, token, 'GET', item + query({ freshness: p.freshness }));
          break;
        case 'cache/write':
          r = await httpCall(base, token, 'PUT', item, { data: p.data, ...(p.freshness === undefined ? {} : { freshness: p.freshness }) });
          break;
        case 'cache/remove':
          r = await httpCall(base, token, 'DELETE', item);
          break;
        case 'cache/list':
          r = await httpCall(base, token, 'GET', '/api/cache' + query({ cardId: p.cardId, reader: p.reader }));
          break;
        default:
          throw new Error(`no HTTP route for ${method} in this test`);
      }
      f.last = r;
      if (r.status >= 300) throw { code: r.json?.code, status: r.status, message: r.json?.message };
      return r.json;
    },
    async transmit(reader, apdu) {
      const r = await httpCall(base, token, 'POST', '/api/transmit', { reader, apdus: [apdu] });
      if (r.status !== 200) throw new Error(r.text);
    },
    async tap(reader) {
      for (const step of ['remove', 'insert']) {
        const r = await httpCall(base, token, 'POST', `/api/readers/${enc(reader)}/simulate/${step}`, step === 'insert' ? { card: CARD } : {});
        if (r.status !== 200) throw new Error(r.text);
      }
    },
  };
  return f;
}

t.test('data cache through the control channel, MQTT and HTTP', async (t) => {
  const m = await startMosquitto();
  t.teardown(() => m.close());
  const gw = await startTestGateway({
    services: ['control', 'mqtt', 'http'],
    logLevel: 'warn',
    config: {
      mqtt: { url: m.url, maxRequestBytes: 300000 },
      events: { debounceMs: 0, profiles: [PROFILE] },
      drivers: { sim: { readers: [{ name: 'Tap Reader', card: CARD }] } },
    },
  });
  t.teardown(() => gw.stop());
  const reader = gw.core.readers()[0].name;
  await waitFor(() => gw.core.dataCache.cardIn(reader), 'the card');

  const ctl = await ControlClient.connect(gw.config.control.socket);
  t.teardown(() => ctl.close());
  const o = await Observer.connect(m.url, [`${ROOT}/response/#`, `${ROOT}/availability`, `${ROOT}/events`]);
  t.teardown(() => o.close());
  await o.waitFor((x) => x.topic === `${ROOT}/availability` && x.text === 'online');

  const control: Frontend = {
    name: 'control',
    async call(method, params) {
      try {
        return await ctl.request<Record<string, any>>(method, params);
      } catch (e) {
        if (e instanceof ControlError) throw { code: e.body.code, message: e.message };
        throw e;
      }
    },
    async transmit(r, apdu) {
      await ctl.request('transmit', { reader: r, apdus: [apdu] });
    },
    async tap(r) {
      await ctl.request('simulate/remove', { reader: r });
      await ctl.request('simulate/insert', { reader: r, card: CARD });
    },
  };
  const mqtt: Frontend = {
    name: 'mqtt',
    async call(method, params) {
      const r = await request(o, ROOT, method, params);
      // The gateway's error body: {"status":"error","error":{code,name,message}}.
      if (r.status !== 'ok') throw { code: r.error?.code, message: r.error?.message };
      return r.data;
    },
    async transmit(r, apdu) {
      const res = await request(o, ROOT, 'transmit', { reader: r, apdus: [apdu] });
      if (res.status !== 'ok') throw new Error(res.error?.message);
    },
    async tap(r) {
      await request(o, ROOT, 'simulate/remove', { reader: r });
      await request(o, ROOT, 'simulate/insert', { reader: r, card: CARD });
    },
  };

  const { token } = await createToken(gw.config.state.dir, 'cache-test', ['transmit']);
  const http = httpFrontend(gw.gateway.addresses().http, token);

  for (const f of [control, mqtt, http]) {
    await t.test(f.name, async (t) => {
      const fails = async (p: Promise<unknown>, code: number, what: string) => {
        try {
          await p;
          t.fail(`${what}: expected ${code.toString(16)}`);
        } catch (e) {
          t.equal((e as { code?: number }).code, code, what);
        }
      };
      const card = await f.call('cache/card', { reader });
      t.match(card.cardId, /^[0-9a-f-]{36}$/, 'card identifier');
      t.same(await f.call('cache/write', { reader, name: 'cert', data: '3082AA' }), { cardId: card.cardId, name: 'cert', freshness: card.freshness, size: 3 });
      t.equal((await f.call('cache/read', { cardId: card.cardId, name: 'cert' })).data, '3082AA', 'read by card identifier');
      t.equal((await f.call('cache/read', { reader, name: 'cert', freshness: card.freshness })).data, '3082AA', 'read by reader, freshness given');
      await fails(f.call('cache/read', { reader, name: 'nothing' }), SCARD.W_CACHE_ITEM_NOT_FOUND, 'missing item');

      // Freshness: a write APDU sent through this frontend makes the entry stale.
      await f.transmit(reader, UPDATE_BINARY);
      t.equal((await f.call('cache/card', { reader })).freshness, card.freshness + 1, 'counter advanced by UPDATE BINARY');
      await fails(f.call('cache/read', { reader, name: 'cert' }), SCARD.W_CACHE_ITEM_STALE, 'stale after a write');
      await fails(f.call('cache/write', { reader, name: 'cert', data: '01', freshness: card.freshness }), SCARD.W_CACHE_ITEM_STALE, 'write under the old counter');

      // Removal.
      await f.call('cache/write', { reader, name: 'cert', data: '3083' });
      t.same(await f.call('cache/remove', { reader, name: 'cert' }), { cardId: card.cardId, removed: 1 });
      await fails(f.call('cache/read', { reader, name: 'cert' }), SCARD.W_CACHE_ITEM_NOT_FOUND, 'gone after removal');

      // Bounds: one entry at most 64 KB; beyond 256 KB in all the least recently used go.
      await fails(f.call('cache/write', { reader, name: 'big', data: '00'.repeat(65537) }), SCARD.W_CACHE_ITEM_TOO_BIG, 'entry too big');
      for (let i = 0; i < 5; i++) await f.call('cache/write', { reader, name: `blob${i}`, data: 'AB'.repeat(60000) });
      const list = await f.call('cache/list', { reader });
      t.same(list.items.map((x: { name: string }) => x.name).filter((n: string) => n.startsWith('blob')).sort(), ['blob1', 'blob2', 'blob3', 'blob4'], 'the oldest blob was evicted');
      t.ok(list.bytes <= list.maxBytes, 'within the bound');
      for (let i = 0; i < 5; i++) await f.call('cache/remove', { reader, name: `blob${i}` });
      await fails(f.call('cache/write', { reader, name: 'x', data: 'not hex' }), SCARD.E_INVALID_PARAMETER, 'bad data named');

      // Profile: the first tap reads the card and fills the cache, the second is answered from it.
      await f.tap(reader);
      await waitFor(() => gw.core.dataCache.list().some((x) => x.name.startsWith('profile:greeting:greeting')), 'the profile entries');
      const before = (await f.call('cache/list', {})).hits as number;
      await f.tap(reader);
      await waitFor(() => (gw.core.dataCache.diagnostics().hits as number) >= before + 2, 'the second tap answered from the cache');
      const after = await f.call('cache/list', { reader });
      t.ok(after.hits >= before + 2, 'both profile APDUs answered from the cache');
      // Leave the card unwritten-to for the next frontend: a fresh write advances its counter anyway.
      await f.transmit(reader, UPDATE_BINARY);
    });
  }

  await t.test('http: statuses, scopes, whole-card removal', async (t) => {
    const base = gw.gateway.addresses().http;
    const card = await http.call('cache/card', { reader });
    const status = async (p: Promise<unknown>) => {
      try {
        await p;
        return 200;
      } catch (e) {
        return (e as { status: number }).status;
      }
    };
    t.equal(await status(http.call('cache/read', { cardId: card.cardId, name: 'absent' })), 404, 'not found: 404');
    t.equal(await status(http.call('cache/write', { reader, name: 'big', data: '00'.repeat(65537) })), 413, 'too big: 413');
    t.equal(await status(http.call('cache/read', { reader, name: 'x', freshness: 'soon' as unknown as number })), 400, 'a freshness that is no number: 400');
    t.match(http.last?.text, /freshness/, 'the error names the field');
    // A lookup name with a slash travels encoded in the path.
    await http.call('cache/write', { cardId: card.cardId, name: 'certs/piv auth', data: '0102' });
    await http.call('cache/write', { cardId: card.cardId, name: 'other', data: '03' });
    t.equal((await http.call('cache/read', { reader, name: 'certs/piv auth', freshness: card.freshness })).data, '0102', 'name with a slash and a space');
    await http.transmit(reader, UPDATE_BINARY);
    t.equal(await status(http.call('cache/read', { cardId: card.cardId, name: 'other' })), 409, 'stale: 409');
    await http.call('cache/write', { cardId: card.cardId, name: 'other', data: '03' });

    const { token: readOnly } = await createToken(gw.config.state.dir, 'cache-reader', ['read']);
    t.equal((await httpCall(base, readOnly, 'GET', `/api/cache?cardId=${card.cardId}`)).status, 200, 'read scope may list');
    t.equal((await httpCall(base, readOnly, 'GET', `/api/cache/${card.cardId}/other`)).status, 200, 'read scope may read');
    const refused = await httpCall(base, readOnly, 'PUT', `/api/cache/${card.cardId}/other`, { data: '04' });
    t.equal(refused.status, 403, 'read scope may not write');
    t.match(refused.json?.message, /transmit scope/, 'and is told which scope');
    t.equal((await httpCall(base, readOnly, 'DELETE', `/api/cache/${card.cardId}`)).status, 403, 'nor remove');
    t.equal((await http.call('cache/read', { cardId: card.cardId, name: 'other' })).data, '03', 'the refused write changed nothing');

    const all = await httpCall(base, token, 'DELETE', `/api/cache/${card.cardId}`);
    t.equal(all.status, 200);
    t.ok(all.json.removed >= 2, 'every entry of the card removed');
    t.same((await http.call('cache/list', { cardId: card.cardId })).items, [], 'none left');
  });

  // The second tap's card.inserted event over MQTT says it came from the cache.
  const cached = o.messages.filter((x) => x.topic === `${ROOT}/events`).map((x) => JSON.parse(x.text)).filter((e) => e.type === 'card.inserted' && e.data?.profile);
  t.ok(cached.some((e) => e.data.profile.cached === true), 'an event carries profile.cached');
  t.ok(cached.some((e) => !e.data.profile.cached), 'and the first tap did not');
});

t.test('secret-bearing profile commands stay out of the cache and its answers', async (t) => {
  const PIN_HEX = '31323334';
  const gw = await startTestGateway({
    services: ['http'],
    logLevel: 'warn',
    config: {
      events: {
        debounceMs: 0,
        profiles: [
          {
            name: 'pin',
            match: { contactless: true },
            apdus: [
              { name: 'select', apdu: '00A4040C0AF0736361726467617465', cache: true },
              { name: 'verify', apdu: `0020008104${PIN_HEX}`, cache: true },
              { name: 'marked', apdu: '00B0810014', secret: true, cache: true },
              { name: 'allowed', apdu: `0020008104${PIN_HEX}`, cache: true, cacheSecret: true },
            ],
          },
        ],
      },
      drivers: { sim: { readers: [{ name: 'Tap Reader', card: CARD }] } },
    },
  });
  t.teardown(() => gw.stop());
  const reader = gw.core.readers()[0].name;
  const { token } = await createToken(gw.config.state.dir, 'cache-test', ['transmit']);
  const http = httpFrontend(gw.gateway.addresses().http, token);
  await http.tap(reader);
  // The profile's last APDU is the one allowed in: once it is there the profile has run.
  await waitFor(() => gw.core.dataCache.list().some((x) => x.name.startsWith('profile:pin:allowed:')), 'the allowed secret entry');

  const list = await http.call('cache/list', { reader });
  const names = list.items.map((x: { name: string }) => x.name);
  t.ok(names.some((n: string) => n.startsWith('profile:pin:select:')), 'the plain command is cached');
  t.notOk(names.some((n: string) => n.startsWith('profile:pin:verify:')), 'a VERIFY is not cached without cacheSecret');
  t.notOk(names.some((n: string) => n.startsWith('profile:pin:marked:')), 'a command marked secret is not cached without cacheSecret');
  t.notOk(http.last!.text.includes(PIN_HEX), 'the listing does not carry the PIN (not even in a key)');
  const allowed = names.find((n: string) => n.startsWith('profile:pin:allowed:'));
  t.notOk(allowed.includes(PIN_HEX), 'the allowed entry is keyed by a digest of its command');
  t.match(list.items.find((x: { name: string }) => x.name === allowed), { secret: true }, 'the listing marks it as read under a secret');
  t.match(list.items.find((x: { name: string }) => x.name.startsWith('profile:pin:select:')), { secret: false }, 'the command before the VERIFY is not');
  // Read under a secret: not for a transmit token (it could not have sent the PIN itself), only for an administrator.
  const refused = await http.call('cache/read', { reader, name: allowed }).then(
    () => 'answered',
    (e: Error) => e.message,
  );
  t.match(refused, /SCARD_E_NO_ACCESS|admin scope/, 'a transmit token may not read it');
  t.equal((await http.call('cache/read', { reader, name: names.find((n: string) => n.startsWith('profile:pin:select:')) })).data.slice(-4), '9000', 'the plain entry it may');
  const { token: adminToken } = await createToken(gw.config.state.dir, 'cache-admin', ['admin']);
  const admin = httpFrontend(gw.gateway.addresses().http, adminToken);
  t.equal((await admin.call('cache/read', { reader, name: allowed })).data, '9000', 'an admin token reads its answer (the status word) by that key');
});
