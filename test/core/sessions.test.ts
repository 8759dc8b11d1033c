/** Leased sessions (src/core/sessions.ts): control on the session's handle, and sessions ended by card or reader removal. */
import t from 'tap';
import { once } from 'node:events';
import { PROTOCOL, SCARD, SHARE } from '../../src/pcsc/constants.js';
import { SessionManager } from '../../src/core/sessions.js';
import { ATR, TestCard, settle } from './fixtures/test-driver.js';
import { setup, until } from './fixtures/setup.js';

const CTL_ECHO = 0x42000000 + 1; // the test reader answers "ctl:" + data

t.test('control runs on the session handle while the session holds the transaction, owner-scoped, lease renewed', async (t) => {
  const { core, name } = await setup();
  t.teardown(() => core.stop());
  const sm = new SessionManager(core, { defaultLeaseMs: 60000 });
  const s = await sm.open('a', name);
  // Another connection to the reader is refused while the session holds its transaction...
  const ctx = core.establishContext('other');
  const { handle } = await core.connect(ctx, name, SHARE.SHARED, PROTOCOL.ANY);
  await t.rejects(core.control(handle, CTL_ECHO, Buffer.from('x')), { code: SCARD.E_SHARING_VIOLATION });
  await core.releaseContext(ctx);
  // ...but the session's own control call goes through.
  const before = Date.parse(sm.info('a', s.id).expiresAt);
  await new Promise((res) => setTimeout(res, 5));
  t.same(await sm.control('a', s.id, CTL_ECHO, Buffer.from('hi')), Buffer.from('ctl:hi'));
  t.ok(Date.parse(sm.info('a', s.id).expiresAt) > before, 'the lease was renewed');
  await t.rejects(sm.control('b', s.id, CTL_ECHO, Buffer.alloc(0)), { code: SCARD.E_INVALID_HANDLE, message: /no session/ }, "another owner's session is not found");
  await sm.close('a', s.id);
  await t.rejects(sm.control('a', s.id, CTL_ECHO, Buffer.alloc(0)), { code: SCARD.E_INVALID_HANDLE, message: /no session/ });
});

t.test('card removed: the session ends at once, its handle is released, the next call says why', async (t) => {
  const { core, name, slot } = await setup();
  t.teardown(() => core.stop());
  const sm = new SessionManager(core, { defaultLeaseMs: 60000 });
  const s = await sm.open('a', name);
  t.equal(core.reader(name)?.sharing, 1);
  const ended = once(sm, 'ended');
  slot.remove();
  const [info, reason] = await ended;
  t.equal(info.id, s.id);
  t.match(reason, /card was removed/);
  t.same(sm.list(), [], 'no session left');
  await until(() => core.reader(name)?.sharing === 0);
  t.equal(core.listenerCount('card-removed'), 0, 'no listener left on the core once no session is open');
  await t.rejects(sm.transmit('a', s.id, Buffer.from('0084000008', 'hex')), { code: SCARD.W_REMOVED_CARD, message: /no session .*card was removed/ });
  await t.rejects(sm.transmit('b', s.id, Buffer.from('0084000008', 'hex')), { code: SCARD.E_INVALID_HANDLE }, 'other owners learn nothing');
  // A new card: new sessions work, the old one stays gone.
  slot.insert(new TestCard(ATR.T0_T1));
  await settle();
  await until(() => (core.reader(name)?.state ?? 0) > 2);
  const s2 = await sm.open('a', name);
  t.ok(s2.id !== s.id);
  await sm.close('a', s2.id);
});

t.test('reader removed: its session ends, the next call says why', async (t) => {
  const { core, name, driver, reader } = await setup();
  t.teardown(() => core.stop());
  const sm = new SessionManager(core, { defaultLeaseMs: 60000 });
  const s = await sm.open('a', name);
  const ended = once(sm, 'ended');
  driver.remove(reader);
  const [, reason] = await ended;
  t.match(reason, /reader "Test Reader 00 00" was removed/);
  t.throws(() => sm.touch('a', s.id), { code: SCARD.E_READER_UNAVAILABLE, message: /reader "Test Reader 00 00" was removed/ });
  t.same(sm.list('a'), []);
});

t.test('an open waiting behind another session survives that session expiring with a card reset', async (t) => {
  const { core, name } = await setup();
  t.teardown(() => core.stop());
  const sm = new SessionManager(core, { defaultLeaseMs: 60000 });
  const first = await sm.open('a', name, { leaseMs: 50 });
  // The second open queues for the transaction; the first lease then expires and resets the card.
  const second = await sm.open('b', name, { leaseMs: 60000 });
  t.not(second.id, first.id);
  t.same(sm.list().map((s) => s.owner), ['b'], 'only the second session is left');
  const r = await sm.transmit('b', second.id, Buffer.from('0084000008', 'hex'));
  t.ok(r.length >= 2, 'the waiting session can use the card at once');
  await sm.close('b', second.id);
});
