import t from 'tap';
import { ResourceManager } from '../../src/core/index.js';
import { CARD_STATE, PROTOCOL, SCARD, SHARE, DISPOSITION } from '../../src/pcsc/constants.js';
import { ATR, TestCard, TestDriver, TestReader, settle } from './fixtures/test-driver.js';

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
