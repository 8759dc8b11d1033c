/** getStatusChange: known states, event counters, timeouts, INFINITE, cancel, the PnP pseudo reader. */
import t from 'tap';
import { INFINITE, PNP_NOTIFICATION, PROTOCOL, SCARD, SHARE, STATE } from '../../src/pcsc/constants.js';
import { ATR, TestCard, TestReader, settle } from './fixtures/test-driver.js';
import { setup, until } from './fixtures/setup.js';

const counterOf = (s: number): number => s >>> 16;

t.test('UNAWARE answers at once with the current state and counter', async (t) => {
  const { core, name } = await setup();
  const ctx = core.establishContext();
  const [r] = await core.getStatusChange(ctx, [{ reader: name, currentState: STATE.UNAWARE }], 0);
  t.equal(r.reader, name);
  t.ok(r.eventState & STATE.CHANGED);
  t.ok(r.eventState & STATE.PRESENT);
  t.notOk(r.eventState & STATE.EMPTY);
  t.equal(counterOf(r.eventState), 0);
  t.same(r.atr, ATR.T0_T1);
  await core.stop();
});

t.test('known state: timeout 0 and a short timeout give E_TIMEOUT', async (t) => {
  const { core, name } = await setup();
  const ctx = core.establishContext();
  const [r] = await core.getStatusChange(ctx, [{ reader: name, currentState: STATE.UNAWARE }], 0);
  const known = r.eventState & ~STATE.CHANGED;
  await t.rejects(core.getStatusChange(ctx, [{ reader: name, currentState: known }], 0), { code: SCARD.E_TIMEOUT });
  await t.rejects(core.getStatusChange(ctx, [{ reader: name, currentState: known }], 20), { code: SCARD.E_TIMEOUT });
  await core.stop();
});

t.test('removal and insertion wake waiters; the counter moves on each', async (t) => {
  const { core, name, slot } = await setup();
  const ctx = core.establishContext();
  let [r] = await core.getStatusChange(ctx, [{ reader: name, currentState: STATE.UNAWARE }], 0);
  let known = r.eventState & ~STATE.CHANGED;
  const wait = core.getStatusChange(ctx, [{ reader: name, currentState: known }], INFINITE);
  slot.remove();
  [r] = await wait;
  t.ok(r.eventState & STATE.CHANGED);
  t.ok(r.eventState & STATE.EMPTY);
  t.equal(counterOf(r.eventState), 1);
  t.equal(r.atr.length, 0);
  known = r.eventState & ~STATE.CHANGED;
  const wait2 = core.getStatusChange(ctx, [{ reader: name, currentState: known }], INFINITE);
  slot.insert(new TestCard(ATR.T0));
  [r] = await wait2;
  t.ok(r.eventState & STATE.PRESENT);
  t.equal(counterOf(r.eventState), 2);
  t.same(r.atr, ATR.T0);
  await core.stop();
});

t.test('a quick remove+insert between two calls is seen through the counter', async (t) => {
  const { core, name, slot } = await setup();
  const ctx = core.establishContext();
  // A known counter of 0 means "no counter" to pcsc-lite, so start from a non-zero one.
  slot.remove();
  slot.insert(new TestCard(ATR.T0_T1));
  await until(() => core.reader(name)?.eventCounter === 2);
  const [r] = await core.getStatusChange(ctx, [{ reader: name, currentState: STATE.UNAWARE }], 0);
  const known = r.eventState & ~STATE.CHANGED;
  t.equal(counterOf(known), 2);
  slot.remove();
  slot.insert(new TestCard(ATR.T0_T1));
  await until(() => core.reader(name)?.eventCounter === 4);
  const [r2] = await core.getStatusChange(ctx, [{ reader: name, currentState: known }], 0);
  t.ok(r2.eventState & STATE.CHANGED, 'PRESENT -> PRESENT, but the counter moved');
  t.equal(counterOf(r2.eventState), 4);
  await core.stop();
});

t.test('sharing shows as INUSE / EXCLUSIVE', async (t) => {
  const { core, name } = await setup();
  const ctx = core.establishContext();
  const [r] = await core.getStatusChange(ctx, [{ reader: name, currentState: STATE.UNAWARE }], 0);
  const wait = core.getStatusChange(ctx, [{ reader: name, currentState: r.eventState & ~STATE.CHANGED }], INFINITE);
  const { handle } = await core.connect(ctx, name, SHARE.EXCLUSIVE, PROTOCOL.ANY);
  const [r2] = await wait;
  t.ok(r2.eventState & STATE.EXCLUSIVE);
  t.notOk(r2.eventState & STATE.INUSE);
  await core.reconnect(handle, SHARE.SHARED, PROTOCOL.ANY, 0);
  const [r3] = await core.getStatusChange(ctx, [{ reader: name, currentState: r2.eventState & ~STATE.CHANGED }], 0);
  t.ok(r3.eventState & STATE.INUSE);
  t.notOk(r3.eventState & STATE.EXCLUSIVE);
  await core.stop();
});

t.test('cancel wakes the context\'s waiters with E_CANCELLED, not other contexts\'', async (t) => {
  const { core, name } = await setup();
  const a = core.establishContext();
  const b = core.establishContext();
  const [r] = await core.getStatusChange(a, [{ reader: name, currentState: STATE.UNAWARE }], 0);
  const known = r.eventState & ~STATE.CHANGED;
  const wa = core.getStatusChange(a, [{ reader: name, currentState: known }], INFINITE);
  const wb = core.getStatusChange(b, [{ reader: name, currentState: known }], 50);
  core.cancel(a);
  await t.rejects(wa, { code: SCARD.E_CANCELLED });
  await t.rejects(wb, { code: SCARD.E_TIMEOUT }, 'b was not cancelled');
  t.throws(() => core.cancel(999), { code: SCARD.E_INVALID_HANDLE });
  await core.stop();
});

t.test('releaseContext wakes its waiters with E_CANCELLED', async (t) => {
  const { core, name } = await setup();
  const a = core.establishContext();
  const [r] = await core.getStatusChange(a, [{ reader: name, currentState: STATE.UNAWARE }], 0);
  const w = core.getStatusChange(a, [{ reader: name, currentState: r.eventState & ~STATE.CHANGED }], INFINITE);
  await core.releaseContext(a);
  await t.rejects(w, { code: SCARD.E_CANCELLED });
  await t.rejects(core.getStatusChange(a, [], 0), { code: SCARD.E_INVALID_HANDLE });
  await core.stop();
});

t.test('the PnP pseudo reader reports a new reader, and a removed one', async (t) => {
  const { core, driver } = await setup();
  const ctx = core.establishContext();
  const w = core.getStatusChange(ctx, [{ reader: PNP_NOTIFICATION, currentState: 0 }], INFINITE);
  driver.add(new TestReader('r1', 'Second Reader'));
  const [r] = await w;
  t.ok(r.eventState & STATE.CHANGED);
  t.ok(core.reader('Second Reader 01 00'), 'the new reader is listed when the waiter wakes');
  const lower = PNP_NOTIFICATION.toLowerCase();
  await t.rejects(core.getStatusChange(ctx, [{ reader: lower, currentState: 0 }], 0), { code: SCARD.E_TIMEOUT }, 'PnP name matched case-insensitively');
  const w2 = core.getStatusChange(ctx, [{ reader: PNP_NOTIFICATION, currentState: 0 }], INFINITE);
  driver.remove([...driver.readers].find((x) => x.id === 'r1')!);
  t.ok((await w2)[0].eventState & STATE.CHANGED);
  await core.stop();
});

t.test('a reader that disappears during a wait reports UNKNOWN | UNAVAILABLE', async (t) => {
  const { core, driver, reader, name } = await setup();
  const ctx = core.establishContext();
  const [r] = await core.getStatusChange(ctx, [{ reader: name, currentState: STATE.UNAWARE }], 0);
  const w = core.getStatusChange(ctx, [{ reader: name, currentState: r.eventState & ~STATE.CHANGED }], INFINITE);
  driver.remove(reader);
  const [g] = await w;
  t.equal(g.eventState, STATE.CHANGED | STATE.UNKNOWN | STATE.UNAVAILABLE);
  await t.rejects(core.getStatusChange(ctx, [{ reader: name, currentState: 0 }], 0), { code: SCARD.E_UNKNOWN_READER }, 'unknown at the start of a call');
  await core.stop();
});

t.test('reader unavailable (transport lost) and back', async (t) => {
  const { core, name, slot } = await setup();
  const ctx = core.establishContext();
  const [r] = await core.getStatusChange(ctx, [{ reader: name, currentState: STATE.UNAWARE }], 0);
  const w = core.getStatusChange(ctx, [{ reader: name, currentState: r.eventState & ~STATE.CHANGED }], INFINITE);
  slot.setAvailable(false);
  const [u] = await w;
  t.equal(u.eventState, STATE.CHANGED | STATE.UNAVAILABLE, 'UNAVAILABLE alone, counter bits cleared (pcsc-lite)');
  const w2 = core.getStatusChange(ctx, [{ reader: name, currentState: u.eventState & ~STATE.CHANGED }], INFINITE);
  slot.setAvailable(true);
  const [b] = await w2;
  t.ok(b.eventState & STATE.CHANGED);
  t.notOk(b.eventState & STATE.UNAVAILABLE);
  await settle();
  const [p] = await core.getStatusChange(ctx, [{ reader: name, currentState: STATE.UNAWARE }], 0);
  t.ok(p.eventState & STATE.PRESENT, 'the card is powered again');
  await core.stop();
});

t.test('IGNORE entries and argument checks', async (t) => {
  const { core, name } = await setup();
  const ctx = core.establishContext();
  const rs = await core.getStatusChange(ctx, [{ reader: name, currentState: STATE.IGNORE }], INFINITE);
  t.equal(rs[0].eventState, STATE.IGNORE, 'all IGNORE: answered at once');
  t.same(await core.getStatusChange(ctx, [], INFINITE), []);
  await t.rejects(core.getStatusChange(ctx, [{ reader: name, currentState: -1 }], 0), { code: SCARD.E_INVALID_VALUE });
  await t.rejects(core.getStatusChange(ctx, [{ reader: name, currentState: 0 }], -5), { code: SCARD.E_INVALID_VALUE });
  await t.rejects(core.getStatusChange(ctx, [{ reader: 7 as unknown as string, currentState: 0 }], 0), { code: SCARD.E_INVALID_VALUE });
  await core.stop();
});

t.test('stop fails pending waits with E_SERVICE_STOPPED', async (t) => {
  const { core, name } = await setup();
  const ctx = core.establishContext();
  const [r] = await core.getStatusChange(ctx, [{ reader: name, currentState: STATE.UNAWARE }], 0);
  const w = core.getStatusChange(ctx, [{ reader: name, currentState: r.eventState & ~STATE.CHANGED }], INFINITE);
  await core.stop();
  await t.rejects(w, { code: SCARD.E_SERVICE_STOPPED });
});
