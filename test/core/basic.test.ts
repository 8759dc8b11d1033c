import t from 'tap';
import { ResourceManager } from '../../src/core/index.js';
import { CARD_STATE, PROTOCOL, SCARD, SHARE, DISPOSITION } from '../../src/pcsc/constants.js';
import { ATR, TestCard, TestDriver, TestReader, settle } from './fixtures/test-driver.js';
import { waitFor } from '../helpers/wait-for.js';

async function setup(withCard = true) {
  const reader = new TestReader('r0', 'Test Reader');
  if (withCard) reader.slot.card = new TestCard(ATR.T0_T1);
  const driver = new TestDriver('test', [reader]);
  const core = new ResourceManager({ transmitTimeoutMs: 1000 });
  await core.addDriver(driver);
  return { core, driver, reader, slot: reader.slot, name: 'Test Reader 00 00' };
}

t.test('readers are listed with their first state, card powered at start', async (t) => {
  const { core, name, slot } = await setup();
  const rs = core.readers();
  t.equal(rs.length, 1);
  t.equal(rs[0].name, name);
  t.equal(rs[0].driver, 'test');
  t.equal(rs[0].state, CARD_STATE.PRESENT | CARD_STATE.POWERED | CARD_STATE.NEGOTIABLE);
  t.same(rs[0].atr, ATR.T0_T1);
  t.equal(rs[0].eventCounter, 0, 'the initial card is not an event');
  t.equal(rs[0].sharing, 0);
  t.equal(rs[0].protocol, 0);
  t.ok(slot.powered);
  t.same(core.reader(name), rs[0]);
  t.equal(core.reader('nope'), undefined);
  await core.stop();
});

t.test('connect, transmit, status, disconnect', async (t) => {
  const { core, name, slot } = await setup();
  const ctx = core.establishContext('test');
  t.ok(core.isValidContext(ctx));
  t.ok(ctx > 0 && ctx <= 0x7fffffff);
  t.same(core.listReaders(ctx), [name]);
  const { handle, protocol } = await core.connect(ctx, name, SHARE.SHARED, PROTOCOL.T0 | PROTOCOL.T1);
  t.equal(protocol, PROTOCOL.T1, 'T=1 preferred when both are offered');
  t.same(slot.protocolsSet, [PROTOCOL.T1], 'the driver was asked to select T=1');
  t.ok(handle > 0 && handle <= 0x7fffffff);
  const resp = await core.transmit(handle, PROTOCOL.T1, Buffer.from('00A4040003A0000100', 'hex'));
  t.same(resp, Buffer.from('A00001' + '9000', 'hex'));
  const st = await core.status(handle);
  t.equal(st.reader, name);
  t.equal(st.protocol, PROTOCOL.T1);
  t.equal(st.state, CARD_STATE.PRESENT | CARD_STATE.POWERED | CARD_STATE.NEGOTIABLE);
  t.same(st.atr, ATR.T0_T1);
  t.equal(core.reader(name)?.sharing, 1);
  t.equal(core.reader(name)?.protocol, PROTOCOL.T1);
  await core.disconnect(handle, DISPOSITION.LEAVE);
  t.equal(core.reader(name)?.sharing, 0);
  await t.rejects(core.transmit(handle, PROTOCOL.T1, Buffer.from('00000000', 'hex')), { code: SCARD.E_INVALID_HANDLE });
  await core.releaseContext(ctx);
  t.notOk(core.isValidContext(ctx));
  await core.stop();
});

t.test('events: card removed and inserted, reader-state once per change', async (t) => {
  const { core, name, slot } = await setup();
  const seen: string[] = [];
  core.on('reader-state', (r) => seen.push(`state:${r.state}:${r.eventCounter}`));
  core.on('card-removed', (r) => seen.push(`removed:${r.eventCounter}`));
  core.on('card-inserted', (r) => seen.push(`inserted:${r.eventCounter}`));
  slot.remove();
  await settle();
  slot.insert(new TestCard(ATR.T0));
  await settle();
  await settle();
  t.same(seen, [`state:${CARD_STATE.ABSENT}:1`, 'removed:1', `state:${CARD_STATE.PRESENT | CARD_STATE.POWERED | CARD_STATE.NEGOTIABLE}:2`, 'inserted:2']);
  t.same(core.reader(name)?.atr, ATR.T0);
  await core.stop();
});

t.test('reader added and removed at run time', async (t) => {
  const { core, driver } = await setup();
  const added: string[] = [];
  const removed: string[] = [];
  core.on('reader-added', (r) => added.push(r.name));
  core.on('reader-removed', (r) => removed.push(r.name));
  const r2 = new TestReader('r1', 'Test Reader');
  driver.add(r2);
  await settle();
  t.same(added, ['Test Reader 01 00']);
  t.same(core.readers().map((r) => r.name), ['Test Reader 00 00', 'Test Reader 01 00']);
  driver.remove(r2);
  t.same(removed, ['Test Reader 01 00']);
  t.equal(core.readers().length, 1);
  await core.stop();
});

t.test('no card or state event for a reader before its reader-added: a change while the device is listed is its first state', async (t) => {
  // A two-slot device is listed once both slots know their first state. Slot 1's power-up is held; meanwhile
  // slot 0's card leaves. Nobody has been told of slot 0 yet, so that is no event: its entry starts empty.
  const reader = new TestReader('r2', 'Two Slot Reader', 2);
  reader.slots[0].card = new TestCard(ATR.T0_T1);
  reader.slots[1].card = new TestCard(ATR.T0_T1);
  let release!: () => void;
  const held = new Promise<void>((r) => (release = r));
  const slow = reader.slots[1];
  const powerUp = slow.powerUp.bind(slow);
  slow.powerUp = async () => {
    await held;
    return powerUp();
  };
  const core = new ResourceManager({ transmitTimeoutMs: 1000 });
  t.teardown(() => core.stop());
  const seen: string[] = [];
  for (const ev of ['reader-added', 'reader-state', 'card-inserted', 'card-removed'] as const) {
    core.on(ev, (r) => seen.push(`${ev} ${r.name.slice(-5)} counter ${r.eventCounter}`));
  }
  const driver = new TestDriver('test', [reader]);
  const adding = core.addDriver(driver);
  await waitFor(() => reader.slots[0].powered, 'slot 0 powered at start');
  reader.slots[0].remove();
  await settle();
  release();
  await adding;
  t.same(
    seen.filter((s) => !s.startsWith('reader-state')),
    ['reader-added 00 00 counter 0', 'reader-added 00 01 counter 0'],
    'the readers are announced first, each at counter 0, and the removal before is no event',
  );
  t.equal(core.reader('Two Slot Reader 00 00')!.state & CARD_STATE.PRESENT, 0, 'slot 0 is listed empty');
  t.equal(core.reader('Two Slot Reader 00 00')!.eventCounter, 0);
  // from here on, changes are events as ever
  reader.slots[0].insert(new TestCard(ATR.T0_T1));
  await waitFor(() => seen.some((s) => s.startsWith('card-inserted 00 00 counter 1')), 'the insertion after listing');
  t.ok(seen.indexOf('card-inserted 00 00 counter 1') > seen.indexOf('reader-added 00 00 counter 0'));
});
