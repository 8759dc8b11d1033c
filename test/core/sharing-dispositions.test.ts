/** Share modes (pcscd's sharing matrix) and every disposition of Disconnect, Reconnect and EndTransaction. */
import t from 'tap';
import { CARD_STATE, DISPOSITION, PROTOCOL, SCARD, SHARE } from '../../src/pcsc/constants.js';
import { ATR, TestCard } from './fixtures/test-driver.js';
import { setup } from './fixtures/setup.js';

const MODES = { EXCLUSIVE: SHARE.EXCLUSIVE, SHARED: SHARE.SHARED, DIRECT: SHARE.DIRECT } as const;
type Mode = keyof typeof MODES;
/** pcsc-lite: EXCLUSIVE excludes everything; DIRECT counts as a shared user. */
const allowed = (first: Mode, second: Mode): boolean => first !== 'EXCLUSIVE' && second !== 'EXCLUSIVE';

t.test('sharing matrix', async (t) => {
  for (const first of Object.keys(MODES) as Mode[]) {
    for (const second of Object.keys(MODES) as Mode[]) {
      const { core, name } = await setup();
      const c1 = core.establishContext();
      const c2 = core.establishContext();
      const h1 = await core.connect(c1, name, MODES[first], PROTOCOL.ANY);
      t.equal(core.reader(name)?.sharing, first === 'EXCLUSIVE' ? -1 : 1, `${first} sharing count`);
      const p = core.connect(c2, name, MODES[second], PROTOCOL.ANY);
      if (allowed(first, second)) {
        await p;
        t.equal(core.reader(name)?.sharing, 2, `${first} then ${second}: both connected`);
      } else {
        await t.rejects(p, { code: SCARD.E_SHARING_VIOLATION }, `${first} then ${second}: sharing violation`);
      }
      await core.disconnect(h1.handle, DISPOSITION.LEAVE);
      await core.stop();
    }
  }
});

t.test('DIRECT works without a card; SHARED and EXCLUSIVE need one', async (t) => {
  const { core, name } = await setup({ card: null });
  const ctx = core.establishContext();
  const d = await core.connect(ctx, name, SHARE.DIRECT, 0);
  t.equal(d.protocol, 0, 'no protocol without a card');
  await t.rejects(core.connect(ctx, name, SHARE.SHARED, PROTOCOL.ANY), { code: SCARD.E_NO_SMARTCARD });
  await t.rejects(core.connect(ctx, name, SHARE.EXCLUSIVE, PROTOCOL.ANY), { code: SCARD.E_SHARING_VIOLATION }, 'the DIRECT handle is a user');
  const st = await core.status(d.handle);
  t.equal(st.state, CARD_STATE.ABSENT);
  await core.stop();
});

t.test('connect argument checks', async (t) => {
  const { core, name } = await setup();
  const ctx = core.establishContext();
  await t.rejects(core.connect(ctx, name, 0, PROTOCOL.ANY), { code: SCARD.E_INVALID_VALUE });
  await t.rejects(core.connect(ctx, name, 4, PROTOCOL.ANY), { code: SCARD.E_INVALID_VALUE });
  await t.rejects(core.connect(ctx, name, SHARE.SHARED, 0), { code: SCARD.E_PROTO_MISMATCH });
  await t.rejects(core.connect(ctx, name, SHARE.SHARED, PROTOCOL.T15), { code: SCARD.E_PROTO_MISMATCH });
  await t.rejects(core.connect(ctx, 'No Such Reader 00 00', SHARE.SHARED, PROTOCOL.ANY), { code: SCARD.E_UNKNOWN_READER });
  await t.rejects(core.connect(12345, name, SHARE.SHARED, PROTOCOL.ANY), { code: SCARD.E_INVALID_HANDLE });
  const legacy = await core.connect(ctx, name, SHARE.SHARED, PROTOCOL.ANY_LEGACY);
  t.equal(legacy.protocol, PROTOCOL.T1, 'pcsc-lite legacy ANY (0x1000) negotiates');
  await core.stop();
});

t.test('protocol choice from the ATR', async (t) => {
  const { core, name, slot } = await setup({ card: new TestCard(ATR.T0) });
  const ctx = core.establishContext();
  await t.rejects(core.connect(ctx, name, SHARE.SHARED, PROTOCOL.T1), { code: SCARD.E_PROTO_MISMATCH }, 'T=1 on a T=0-only card');
  const c = await core.connect(ctx, name, SHARE.SHARED, PROTOCOL.ANY);
  t.equal(c.protocol, PROTOCOL.T0);
  t.same(slot.protocolsSet, [PROTOCOL.T0]);
  const raw = await core.connect(ctx, name, SHARE.SHARED, PROTOCOL.RAW);
  t.equal(raw.protocol, PROTOCOL.RAW, 'RAW when asked for');
  await core.stop();
});

t.test('transmit with the wrong send PCI protocol: PROTO_MISMATCH', async (t) => {
  const { core, name } = await setup();
  const ctx = core.establishContext();
  const { handle } = await core.connect(ctx, name, SHARE.SHARED, PROTOCOL.T1);
  await t.rejects(core.transmit(handle, PROTOCOL.T0, Buffer.from('0084000008', 'hex')), { code: SCARD.E_PROTO_MISMATCH });
  t.ok(await core.transmit(handle, PROTOCOL.ANY_LEGACY, Buffer.from('0084000008', 'hex')), 'legacy ANY accepted');
  await core.stop();
});

t.test('reconnect changes share mode: to EXCLUSIVE only when alone, back to SHARED lets others in', async (t) => {
  const { core, name } = await setup();
  const ctx = core.establishContext();
  const a = (await core.connect(ctx, name, SHARE.SHARED, PROTOCOL.ANY)).handle;
  const b = (await core.connect(ctx, name, SHARE.SHARED, PROTOCOL.ANY)).handle;
  await t.rejects(core.reconnect(a, SHARE.EXCLUSIVE, PROTOCOL.ANY, DISPOSITION.LEAVE), { code: SCARD.E_SHARING_VIOLATION });
  await core.disconnect(b, DISPOSITION.LEAVE);
  await core.reconnect(a, SHARE.EXCLUSIVE, PROTOCOL.ANY, DISPOSITION.LEAVE);
  t.equal(core.reader(name)?.sharing, -1);
  await t.rejects(core.connect(ctx, name, SHARE.SHARED, PROTOCOL.ANY), { code: SCARD.E_SHARING_VIOLATION });
  await core.reconnect(a, SHARE.SHARED, PROTOCOL.ANY, DISPOSITION.LEAVE);
  t.equal(core.reader(name)?.sharing, 1);
  const c = (await core.connect(ctx, name, SHARE.SHARED, PROTOCOL.ANY)).handle;
  t.ok(await core.transmit(c, PROTOCOL.T1, Buffer.from('0084000008', 'hex')), 'the exclusive lock is gone');
  await t.rejects(core.reconnect(a, SHARE.SHARED, PROTOCOL.ANY, DISPOSITION.EJECT), { code: SCARD.E_INVALID_VALUE }, 'EJECT is not for reconnect');
  await t.rejects(core.reconnect(a, 7, PROTOCOL.ANY, DISPOSITION.LEAVE), { code: SCARD.E_INVALID_VALUE });
  await core.stop();
});

t.test('exclusive handle: transactions nest over the exclusive base level', async (t) => {
  const { core, name } = await setup();
  const ctx = core.establishContext();
  const a = (await core.connect(ctx, name, SHARE.EXCLUSIVE, PROTOCOL.ANY)).handle;
  await t.rejects(core.endTransaction(a, DISPOSITION.LEAVE), { code: SCARD.E_NOT_TRANSACTED }, 'nothing begun');
  await core.beginTransaction(a);
  await core.endTransaction(a, DISPOSITION.LEAVE);
  await t.rejects(core.endTransaction(a, DISPOSITION.LEAVE), { code: SCARD.E_NOT_TRANSACTED });
  await core.disconnect(a, DISPOSITION.LEAVE);
  t.equal(core.reader(name)?.sharing, 0);
  const b = (await core.connect(ctx, name, SHARE.SHARED, PROTOCOL.ANY)).handle;
  await core.beginTransaction(b);
  await core.endTransaction(b, DISPOSITION.LEAVE);
  await core.stop();
});

t.test('disconnect dispositions', async (t) => {
  const cases = [
    { d: DISPOSITION.LEAVE, calls: [], state: CARD_STATE.PRESENT | CARD_STATE.POWERED | CARD_STATE.NEGOTIABLE },
    { d: DISPOSITION.RESET, calls: ['reset'], state: CARD_STATE.PRESENT | CARD_STATE.POWERED | CARD_STATE.NEGOTIABLE },
    { d: DISPOSITION.UNPOWER, calls: ['powerDown'], state: CARD_STATE.PRESENT },
    { d: DISPOSITION.EJECT, calls: [], state: CARD_STATE.ABSENT },
  ];
  for (const c of cases) {
    const { core, name, slot, card } = await setup();
    const ctx = core.establishContext();
    const { handle } = await core.connect(ctx, name, SHARE.SHARED, PROTOCOL.ANY);
    slot.calls.length = 0;
    await core.disconnect(handle, c.d);
    t.same(slot.calls, c.calls, `disposition ${c.d}: driver calls`);
    t.equal(core.reader(name)?.state, c.state, `disposition ${c.d}: table state`);
    if (c.d === DISPOSITION.EJECT) t.equal(slot.ejected, 1, 'the reader ejected the card');
    if (c.d === DISPOSITION.UNPOWER) {
      t.same(core.reader(name)?.atr, card?.atr, 'pcscd keeps the ATR after unpower');
      const again = await core.connect(ctx, name, SHARE.SHARED, PROTOCOL.ANY);
      t.equal(core.reader(name)?.state, CARD_STATE.PRESENT | CARD_STATE.POWERED | CARD_STATE.NEGOTIABLE, 'connect powers the card up again');
      t.ok(await core.transmit(again.handle, again.protocol, Buffer.from('0084000008', 'hex')));
    }
    await t.rejects(core.disconnect(handle, DISPOSITION.LEAVE), { code: SCARD.E_INVALID_HANDLE }, 'handle gone');
    await core.stop();
  }
  const { core, name } = await setup();
  const ctx = core.establishContext();
  const { handle } = await core.connect(ctx, name, SHARE.SHARED, PROTOCOL.ANY);
  await t.rejects(core.disconnect(handle, 4), { code: SCARD.E_INVALID_VALUE });
  await core.stop();
});

t.test('reconnect initializations', async (t) => {
  const { core, name, slot } = await setup();
  const ctx = core.establishContext();
  const { handle } = await core.connect(ctx, name, SHARE.SHARED, PROTOCOL.ANY);
  slot.calls.length = 0;
  await core.reconnect(handle, SHARE.SHARED, PROTOCOL.ANY, DISPOSITION.LEAVE);
  t.same(slot.calls, [], 'LEAVE touches nothing');
  await core.reconnect(handle, SHARE.SHARED, PROTOCOL.ANY, DISPOSITION.RESET);
  t.same(slot.calls, ['reset'], 'RESET: warm reset');
  slot.calls.length = 0;
  await core.reconnect(handle, SHARE.SHARED, PROTOCOL.ANY, DISPOSITION.UNPOWER);
  t.same(slot.calls, ['powerDown', 'powerUp'], 'UNPOWER: cold reset');
  t.equal(core.reader(name)?.state, CARD_STATE.PRESENT | CARD_STATE.POWERED | CARD_STATE.NEGOTIABLE);
  await core.stop();
});

t.test('endTransaction dispositions and the other-holder rule', async (t) => {
  for (const d of [DISPOSITION.LEAVE, DISPOSITION.RESET, DISPOSITION.UNPOWER, DISPOSITION.EJECT]) {
    const { core, name, slot } = await setup();
    const ctx = core.establishContext();
    const { handle } = await core.connect(ctx, name, SHARE.SHARED, PROTOCOL.ANY);
    await core.beginTransaction(handle);
    slot.calls.length = 0;
    await core.endTransaction(handle, d);
    const want = { [DISPOSITION.LEAVE]: [], [DISPOSITION.RESET]: ['reset'], [DISPOSITION.UNPOWER]: ['powerDown', 'powerUp'], [DISPOSITION.EJECT]: [] }[d];
    t.same(slot.calls, want, `endTransaction(${d}) driver calls`);
    if (d === DISPOSITION.EJECT) t.equal(slot.ejected, 1);
    await core.stop();
  }
  const card = new TestCard(ATR.T0_T1);
  const { core, name } = await setup({ card });
  const ctx = core.establishContext();
  const a = (await core.connect(ctx, name, SHARE.SHARED, PROTOCOL.ANY)).handle;
  const b = (await core.connect(ctx, name, SHARE.SHARED, PROTOCOL.ANY)).handle;
  await core.beginTransaction(a);
  await t.rejects(core.endTransaction(b, DISPOSITION.RESET), { code: SCARD.E_SHARING_VIOLATION }, 'RESET while another holds the lock');
  t.equal(card.resets, 0, 'and the card was not reset');
  await t.rejects(core.endTransaction(a, 9), { code: SCARD.E_INVALID_VALUE });
  await core.endTransaction(a, DISPOSITION.LEAVE);
  await core.stop();
});

t.test('disconnect with a disposition waits for another handle\'s transaction', async (t) => {
  const card = new TestCard(ATR.T0_T1);
  const { core, name } = await setup({ card });
  const ctx = core.establishContext();
  const a = (await core.connect(ctx, name, SHARE.SHARED, PROTOCOL.ANY)).handle;
  const b = (await core.connect(ctx, name, SHARE.SHARED, PROTOCOL.ANY)).handle;
  await core.beginTransaction(a);
  let done = false;
  const p = core.disconnect(b, DISPOSITION.RESET).then(() => void (done = true));
  await core.transmit(a, PROTOCOL.T1, Buffer.from('0084000008', 'hex'));
  t.notOk(done, 'still waiting');
  t.equal(card.resets, 0, 'the transaction was not disturbed');
  await core.endTransaction(a, DISPOSITION.LEAVE);
  await p;
  t.equal(card.resets, 1);
  await core.stop();
});
