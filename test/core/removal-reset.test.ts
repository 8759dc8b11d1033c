/** Card removal and reset semantics for every call (docs/pcsc.md §4). */
import t from 'tap';
import { ATTR, CARD_STATE, CM_IOCTL_GET_FEATURE_REQUEST, DISPOSITION, PROTOCOL, SCARD, SHARE } from '../../src/pcsc/constants.js';
import type { ResourceManager } from '../../src/core/index.js';
import { ATR, TestCard, settle } from './fixtures/test-driver.js';
import { setup, until } from './fixtures/setup.js';

const APDU = Buffer.from('0084000008', 'hex');

/** The calls that check the handle's event flag, and one that does not (Control). */
const flaggedCalls = (core: ResourceManager, h: number): Record<string, () => Promise<unknown>> => ({
  transmit: () => core.transmit(h, PROTOCOL.T1, APDU),
  status: () => core.status(h),
  beginTransaction: () => core.beginTransaction(h),
  endTransaction: () => core.endTransaction(h, DISPOSITION.LEAVE),
  getAttrib: () => core.getAttrib(h, ATTR.VENDOR_NAME),
  setAttrib: () => core.setAttrib(h, ATTR.ATR_STRING, Buffer.from([1])),
});

t.test('card removed: every flag-checking call answers W_REMOVED_CARD until reconnect; control does not check', async (t) => {
  const { core, name, slot } = await setup();
  const ctx = core.establishContext();
  const { handle } = await core.connect(ctx, name, SHARE.SHARED, PROTOCOL.ANY);
  slot.remove();
  await settle();
  t.equal(core.reader(name)?.state, CARD_STATE.ABSENT);
  for (const [call, fn] of Object.entries(flaggedCalls(core, handle))) {
    await t.rejects(fn(), { code: SCARD.W_REMOVED_CARD }, call);
  }
  t.same(await core.control(handle, CM_IOCTL_GET_FEATURE_REQUEST, Buffer.alloc(0)), Buffer.alloc(0), 'control still works');
  await t.rejects(core.reconnect(handle, SHARE.SHARED, PROTOCOL.ANY, DISPOSITION.LEAVE), { code: SCARD.E_NO_SMARTCARD }, 'reconnect with no card');
  await t.rejects(core.transmit(handle, PROTOCOL.T1, APDU), { code: SCARD.W_REMOVED_CARD }, 'flag stays after a failed reconnect');
  slot.insert(new TestCard(ATR.T0_T1));
  await until(() => core.reader(name)?.state === (CARD_STATE.PRESENT | CARD_STATE.POWERED | CARD_STATE.NEGOTIABLE));
  await t.rejects(core.transmit(handle, PROTOCOL.T1, APDU), { code: SCARD.W_REMOVED_CARD }, 'a new card does not clear the flag');
  const { protocol } = await core.reconnect(handle, SHARE.SHARED, PROTOCOL.ANY, DISPOSITION.LEAVE);
  t.equal(protocol, PROTOCOL.T1);
  t.same(await core.transmit(handle, PROTOCOL.T1, APDU), Buffer.from([0x90, 0x00]), 'usable again');
  await core.stop();
});

t.test('card removed mid-exchange: E_NO_SMARTCARD and the table shows ABSENT at once', async (t) => {
  const card = new TestCard(ATR.T0_T1);
  card.delayMs = 5;
  const { core, name, slot } = await setup({ card });
  const ctx = core.establishContext();
  const { handle } = await core.connect(ctx, name, SHARE.SHARED, PROTOCOL.ANY);
  const p = core.transmit(handle, PROTOCOL.T1, APDU);
  await until(() => slot.inFlight === 1);
  // The card leaves without the driver's presence event yet: the core learns it from the failed exchange.
  slot.card = undefined;
  await t.rejects(p, { code: SCARD.E_NO_SMARTCARD });
  await settle();
  t.equal(core.reader(name)?.state, CARD_STATE.ABSENT);
  slot.emit('presence', false);
  await settle();
  t.equal(core.reader(name)?.eventCounter, 1, 'the late presence event is not counted twice');
  await core.stop();
});

t.test('card removal clears the transaction lock; waiting handles see the removal', async (t) => {
  const { core, name, slot } = await setup();
  const ctx = core.establishContext();
  const a = (await core.connect(ctx, name, SHARE.SHARED, PROTOCOL.ANY)).handle;
  const b = (await core.connect(ctx, name, SHARE.SHARED, PROTOCOL.ANY)).handle;
  await core.beginTransaction(a);
  const waiting = core.beginTransaction(b);
  slot.remove();
  await t.rejects(waiting, { code: SCARD.W_REMOVED_CARD });
  slot.insert(new TestCard(ATR.T0_T1));
  await until(() => core.reader(name)?.state !== CARD_STATE.ABSENT && core.reader(name)?.atr.length !== 0);
  await core.reconnect(b, SHARE.SHARED, PROTOCOL.ANY, DISPOSITION.LEAVE);
  await core.beginTransaction(b);
  t.pass('the lock of the removed card is gone');
  await t.rejects(core.endTransaction(a, DISPOSITION.LEAVE), { code: SCARD.W_REMOVED_CARD });
  await core.endTransaction(b, DISPOSITION.LEAVE);
  await core.stop();
});

t.test('reset by one handle: the others get W_RESET_CARD until they reconnect; the resetter does not', async (t) => {
  const card = new TestCard(ATR.T0_T1);
  const { core, name } = await setup({ card });
  const ctx = core.establishContext();
  const a = (await core.connect(ctx, name, SHARE.SHARED, PROTOCOL.ANY)).handle;
  const b = (await core.connect(ctx, name, SHARE.SHARED, PROTOCOL.ANY)).handle;
  const counter = core.reader(name)?.eventCounter;
  await core.reconnect(a, SHARE.SHARED, PROTOCOL.ANY, DISPOSITION.RESET);
  t.equal(card.resets, 1);
  t.equal(core.reader(name)?.eventCounter, counter, 'a reset is not a card event');
  t.same(await core.transmit(a, PROTOCOL.T1, APDU), Buffer.from([0x90, 0x00]));
  for (const [call, fn] of Object.entries(flaggedCalls(core, b))) {
    await t.rejects(fn(), { code: SCARD.W_RESET_CARD }, call);
  }
  t.same(await core.control(b, CM_IOCTL_GET_FEATURE_REQUEST, Buffer.alloc(0)), Buffer.alloc(0), 'control does not check the flag');
  await core.reconnect(b, SHARE.SHARED, PROTOCOL.ANY, DISPOSITION.LEAVE);
  t.same(await core.transmit(b, PROTOCOL.T1, APDU), Buffer.from([0x90, 0x00]));
  await core.stop();
});

t.test('endTransaction(RESET) flags the caller too; disconnect(RESET) flags the others', async (t) => {
  const card = new TestCard(ATR.T0_T1);
  const { core, name } = await setup({ card });
  const ctx = core.establishContext();
  const a = (await core.connect(ctx, name, SHARE.SHARED, PROTOCOL.ANY)).handle;
  const b = (await core.connect(ctx, name, SHARE.SHARED, PROTOCOL.ANY)).handle;
  await core.beginTransaction(a);
  await core.endTransaction(a, DISPOSITION.RESET);
  t.equal(card.resets, 1);
  await t.rejects(core.transmit(a, PROTOCOL.T1, APDU), { code: SCARD.W_RESET_CARD }, 'caller flagged');
  await t.rejects(core.transmit(b, PROTOCOL.T1, APDU), { code: SCARD.W_RESET_CARD }, 'other flagged');
  await core.reconnect(a, SHARE.SHARED, PROTOCOL.ANY, DISPOSITION.LEAVE);
  await core.reconnect(b, SHARE.SHARED, PROTOCOL.ANY, DISPOSITION.LEAVE);
  await core.disconnect(a, DISPOSITION.RESET);
  t.equal(card.resets, 2);
  await t.rejects(core.transmit(b, PROTOCOL.T1, APDU), { code: SCARD.W_RESET_CARD });
  await core.stop();
});

t.test('the protocol is negotiated again after a reset', async (t) => {
  const { core, name, slot } = await setup();
  const ctx = core.establishContext();
  const a = (await core.connect(ctx, name, SHARE.SHARED, PROTOCOL.T1)).handle;
  t.same(slot.protocolsSet, [PROTOCOL.T1]);
  const { protocol } = await core.reconnect(a, SHARE.SHARED, PROTOCOL.T0, DISPOSITION.RESET);
  t.equal(protocol, PROTOCOL.T0, 'T=0 possible after the reset cleared the negotiated T=1');
  t.same(slot.protocolsSet, [PROTOCOL.T1, PROTOCOL.T0]);
  await t.rejects(core.connect(ctx, name, SHARE.SHARED, PROTOCOL.T1), { code: SCARD.E_PROTO_MISMATCH }, 'T=1 refused while T=0 is in use');
  await core.stop();
});
