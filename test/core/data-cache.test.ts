/**
 * The Smart Card data cache in the core (src/core/data-cache.ts): Windows'
 * keying (card identifier + freshness + name), the freshness counter advanced
 * by a write command passing the core, entries dropped with a card that has no
 * stable identity, the size bounds, and card profiles answered from the cache
 * on a second tap. Real core, drivers/sim cards.
 */
import t from 'tap';
import { DataCache, isWriteApdu, stableCardId } from '../../src/core/index.js';
import { compileProfiles, runProfile } from '../../src/events/profiles.js';
import { PROTOCOL, SCARD, SHARE, DISPOSITION } from '../../src/pcsc/constants.js';
import { startSimGateway } from '../pcsc/helpers/sim-gateway.js';

const READER = 'Sim A 00 00';
const CARD = { type: 'iso14443-4', uid: '04A1B2C3D4E5F6' };
const SELECT_DEMO = '00A4040C0AF0736361726467617465';
const READ_GREETING = '00B0810014'; // READ BINARY of SFI 1 (EF 5001)

async function transmit(gw: Awaited<ReturnType<typeof startSimGateway>>, hex: string): Promise<Buffer> {
  const ctx = gw.core.establishContext('test');
  try {
    const { handle } = await gw.core.connect(ctx, READER, SHARE.SHARED, PROTOCOL.ANY);
    const r = await gw.core.transmit(handle, PROTOCOL.T1, Buffer.from(hex, 'hex'));
    await gw.core.disconnect(handle, DISPOSITION.LEAVE);
    return r;
  } finally {
    await gw.core.releaseContext(ctx);
  }
}

async function waitFor(cond: () => boolean, what: string): Promise<void> {
  const deadline = Date.now() + 5000;
  while (!cond()) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 5));
  }
}

t.test('write commands are recognised whatever the class byte', async (t) => {
  for (const hex of ['00D6000001AA', '00DC0104020102', '00DA010203AABBCC', '80E2800002AABB', 'FFD6000410' + '00'.repeat(16), '002C000000', '0024000108' + '31'.repeat(8)]) {
    t.ok(isWriteApdu(Buffer.from(hex, 'hex')), hex);
  }
  for (const hex of ['00A4040000', '00B0000000', '00B2010400', '00CA010000', 'FFCA000000', '0020008100']) t.notOk(isWriteApdu(Buffer.from(hex, 'hex')), hex);
  t.equal(stableCardId({ contactless: true, uid: Buffer.from('08112233', 'hex') }), undefined, 'random UID: no stable identity');
  t.equal(stableCardId({ contactless: false }), undefined, 'contact card: none');
  const a = stableCardId({ contactless: true, uid: Buffer.from('04A1B2C3D4E5F6', 'hex') });
  t.match(a, /^[0-9a-f]{8}-[0-9a-f]{4}-8[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$/, 'UUID form');
  t.equal(stableCardId({ contactless: true, uid: Buffer.from('04A1B2C3D4E5F6', 'hex') }), a, 'same UID, same identifier');
});

t.test('freshness: a write command through the core makes entries stale; removal; re-insertion', async (t) => {
  const gw = await startSimGateway([{ name: 'Sim A', card: CARD }]);
  t.teardown(() => gw.stop());
  const cache = gw.core.dataCache;
  await waitFor(() => cache.cardIn(READER) !== undefined, 'the card');
  const card = cache.cardIn(READER);
  t.ok(card, 'the card has an identifier');
  const { cardId, freshness } = card!;
  t.same(cache.write(cardId, 'cert', Buffer.from('3082')), { freshness });
  t.same(cache.read(cardId, 'cert').data, Buffer.from('3082'));
  t.throws(() => cache.read(cardId, 'nope'), { code: SCARD.W_CACHE_ITEM_NOT_FOUND });
  await transmit(gw, READ_GREETING);
  t.equal(cache.cardIn(READER)!.freshness, freshness, 'a read does not advance the counter');
  // UPDATE BINARY: refused by this card without its PIN, but it reached the card: the counter moves.
  await transmit(gw, '00D6000001AA');
  t.equal(cache.cardIn(READER)!.freshness, freshness + 1, 'a write command advances the counter');
  t.throws(() => cache.read(cardId, 'cert'), { code: SCARD.W_CACHE_ITEM_STALE }, 'the old entry reads stale');
  t.throws(() => cache.read(cardId, 'cert'), { code: SCARD.W_CACHE_ITEM_NOT_FOUND }, 'and is gone after');
  t.throws(() => cache.write(cardId, 'cert', Buffer.from('01'), freshness), { code: SCARD.W_CACHE_ITEM_STALE }, 'writing under an old counter');
  cache.write(cardId, 'cert', Buffer.from('3083'));
  // Removal of a card with a fixed UID keeps its entries: the same card tapped again finds them.
  gw.remove('Sim A');
  await waitFor(() => cache.cardIn(READER) === undefined, 'the cache to see the removal');
  gw.insert('Sim A', CARD);
  await waitFor(() => cache.cardIn(READER) !== undefined, 'the card back');
  t.equal(cache.cardIn(READER)!.cardId, cardId, 'same card, same identifier');
  t.same(cache.read(cardId, 'cert').data, Buffer.from('3083'));
  t.equal(cache.remove(cardId, 'cert'), 1, 'explicit removal of an entry');
  t.throws(() => cache.read(cardId, 'cert'), { code: SCARD.W_CACHE_ITEM_NOT_FOUND });
});

t.test('a card without a stable identity: its entries go with it', async (t) => {
  const gw = await startSimGateway([{ name: 'Sim A', card: { type: 'iso7816' } }]);
  t.teardown(() => gw.stop());
  const cache = gw.core.dataCache;
  await waitFor(() => cache.cardIn(READER) !== undefined, 'the card');
  const first = cache.cardIn(READER)!.cardId;
  cache.write(first, 'x', Buffer.from('01'));
  gw.remove('Sim A');
  await waitFor(() => cache.cardIn(READER) === undefined, 'the removal');
  t.throws(() => cache.read(first, 'x'), { code: SCARD.W_CACHE_ITEM_NOT_FOUND }, 'dropped with the card');
  gw.insert('Sim A', { type: 'iso7816' });
  await waitFor(() => cache.cardIn(READER) !== undefined, 'the insertion');
  t.not(cache.cardIn(READER)!.cardId, first, 'a new insertion, a new identifier');
  t.same(cache.list(), [], 'nothing left');
});

t.test('bounds: entry size, total size (least recently used go first)', async (t) => {
  const cache = new DataCache({ maxBytes: 1000, maxEntryBytes: 400 });
  cache.cardInserted('r', { contactless: true, uid: Buffer.from('04010203040506', 'hex') });
  const id = cache.cardIn('r')!.cardId;
  t.throws(() => cache.write(id, 'big', Buffer.alloc(400)), { code: SCARD.W_CACHE_ITEM_TOO_BIG });
  for (const n of ['a', 'b', 'c']) cache.write(id, n, Buffer.alloc(300, n));
  cache.read(id, 'a'); // a is now the most recently used
  cache.write(id, 'd', Buffer.alloc(300, 'd'));
  t.same(cache.list(id).map((e) => e.name).sort(), ['a', 'c', 'd'], 'b, the least recently used, was evicted');
  t.ok((cache.diagnostics().bytes as number) <= 1000);
  t.throws(() => cache.write('00000000-0000-0000-0000-000000000000', 'x', Buffer.alloc(1)), { code: SCARD.E_UNKNOWN_CARD });
  t.throws(() => cache.read(id, ''), { code: SCARD.E_INVALID_PARAMETER }, 'empty name');
});

t.test('card profile: a second tap of the same card is answered from the cache until a write', async (t) => {
  const gw = await startSimGateway([{ name: 'Sim A', card: CARD }]);
  t.teardown(() => gw.stop());
  const [profile] = compileProfiles([
    {
      name: 'greeting',
      match: { contactless: true },
      apdus: [
        { name: 'select', apdu: SELECT_DEMO, secret: false, cache: true },
        { name: 'greeting', apdu: READ_GREETING, secret: false, cache: true },
      ],
    },
  ]);
  await waitFor(() => gw.core.dataCache.cardIn(READER) !== undefined, 'the card');
  const first = await runProfile(gw.core, READER, profile, 5000);
  t.notOk(first.cached, 'first tap: from the card');
  t.equal(first.results.greeting.data, Buffer.from('Hello from scardgate').toString('hex').toUpperCase());
  gw.remove('Sim A');
  await waitFor(() => gw.core.dataCache.cardIn(READER) === undefined, 'the removal');
  gw.insert('Sim A', CARD);
  await waitFor(() => gw.core.dataCache.cardIn(READER) !== undefined, 'the second tap');
  const hits = gw.core.dataCache.stats.hits;
  const second = await runProfile(gw.core, READER, profile, 5000);
  t.ok(second.cached, 'second tap: from the cache');
  t.same(second.results, first.results, 'same answers');
  t.equal(gw.core.dataCache.stats.hits, hits + 2);
  await transmit(gw, '00D6000001AA');
  const third = await runProfile(gw.core, READER, profile, 5000);
  t.notOk(third.cached, 'after a write command the card is asked again');
  t.same(third.results, first.results);
});

t.test('nothing secret is cached unless the profile says so', async (t) => {
  const [p] = compileProfiles([
    {
      name: 'pin',
      match: {},
      apdus: [
        { name: 'verify', apdu: '002000810431323334', secret: false, cache: true },
        { name: 'marked', apdu: '00CA010000', secret: true, cache: true },
        { name: 'allowed', apdu: '00CA010100', secret: true, cache: true, cacheSecret: true },
        { name: 'plain', apdu: '00CA010200', secret: false, cache: true },
      ],
    },
  ]);
  t.same(p.apdus.map((a) => a.cache), [false, false, true, true]);
});
