/**
 * The data cache through the frontends that expose it: the control channel
 * (scardctl's socket, through src/cli/client.ts) and MQTT (real Mosquitto,
 * request/response). Each: the card's identifier and freshness, write/read,
 * freshness after a write APDU sent through that frontend, removal, the bounds,
 * and a card profile answered from the cache on the second tap.
 */
import t from 'tap';
import { ControlClient, ControlError } from '../../src/cli/client.js';
import { SCARD } from '../../src/pcsc/constants.js';
import { startTestGateway } from '../helpers/gateway.js';
import { startMosquitto } from '../mqtt/mosquitto.js';
import { Observer, request } from '../mqtt/client.js';

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

t.test('data cache through the control channel and MQTT', async (t) => {
  const m = await startMosquitto();
  t.teardown(() => m.close());
  const gw = await startTestGateway({
    services: ['control', 'mqtt'],
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
      if (r.status !== 'ok') throw { code: r.data?.code, message: r.error };
      return r.data;
    },
    async transmit(r, apdu) {
      const res = await request(o, ROOT, 'transmit', { reader: r, apdus: [apdu] });
      if (res.status !== 'ok') throw new Error(res.error);
    },
    async tap(r) {
      await request(o, ROOT, 'simulate/remove', { reader: r });
      await request(o, ROOT, 'simulate/insert', { reader: r, card: CARD });
    },
  };

  for (const f of [control, mqtt]) {
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

  // The second tap's card.inserted event over MQTT says it came from the cache.
  const cached = o.messages.filter((x) => x.topic === `${ROOT}/events`).map((x) => JSON.parse(x.text)).filter((e) => e.type === 'card.inserted' && e.data?.profile);
  t.ok(cached.some((e) => e.data.profile.cached === true), 'an event carries profile.cached');
  t.ok(cached.some((e) => !e.data.profile.cached), 'and the first tap did not');
});
