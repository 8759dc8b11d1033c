/** Reader names and instance numbers, readers coming and going at run time, unavailability. */
import t from 'tap';
import { InstanceAllocator, readerBaseName, readerName } from '../../src/core/reader-names.js';
import { ResourceManager } from '../../src/core/index.js';
import { ATTR, CARD_STATE, DISPOSITION, PROTOCOL, SCARD, SHARE } from '../../src/pcsc/constants.js';
import { ATR, TestCard, TestDriver, TestReader, settle } from './fixtures/test-driver.js';
import { setup, until } from './fixtures/setup.js';

t.test('pcscd-style names', async (t) => {
  t.equal(readerName({ friendlyName: 'Virtual PCD' }, 0, 0), 'Virtual PCD 00 00');
  t.equal(
    readerName({ friendlyName: 'Identiv SCR3500 A Contact Reader', interfaceName: 'CCID Interface', serial: '54301542611575' }, 0, 0),
    'Identiv SCR3500 A Contact Reader [CCID Interface] (54301542611575) 00 00',
  );
  t.equal(readerName({ friendlyName: 'X', interfaceName: 'X CCID 1234', serial: '1234' }, 1, 2), 'X [X CCID 1234] 01 02', 'serial left out when the interface shows it');
  t.equal(readerName({ friendlyName: 'Y', serial: 'S1' }, 0x1a, 0x0b), 'Y (S1) 1A 0B', 'upper-case hex');
  t.equal(readerBaseName({ friendlyName: 'Caf\u00e9', interfaceName: 'If\u00fc' }), 'Caf. [If.]', 'non-ASCII bytes become dots');
  const long = readerName({ friendlyName: 'L'.repeat(200) }, 3, 1);
  t.equal(long.length, 127, 'at most 127 characters (+ NUL = MAX_READERNAME)');
  t.ok(long.endsWith('L 03 01'));
});

t.test('instance numbers: lowest free per driver name', async (t) => {
  const a = new InstanceAllocator();
  t.equal(a.take('ccid'), 0);
  t.equal(a.take('ccid'), 1);
  t.equal(a.take('pn532'), 0, 'another driver counts on its own');
  t.equal(a.take('ccid'), 2);
  a.release('ccid', 1);
  t.equal(a.take('ccid'), 1, 'freed number reused');
  t.equal(a.take('ccid', 7), 7, 'fixed instance');
  t.equal(a.take('ccid', 7), 3, 'fixed instance taken: lowest free');
  t.equal(a.take('ccid', 0), 4, 'fixed 0 taken: lowest free');
});

t.test('readers of several drivers, multi-slot readers, instances reused after removal', async (t) => {
  const core = new ResourceManager();
  const d1 = new TestDriver('ccid', [new TestReader('a', 'Dual Slot', 2), new TestReader('b', 'Single')]);
  const d2 = new TestDriver('pn532', [new TestReader('c', 'PN532 NFC')]);
  await core.addDriver(d1);
  await core.addDriver(d2);
  t.same(
    core.readers().map((r) => r.name),
    ['Dual Slot 00 00', 'Dual Slot 00 01', 'Single 01 00', 'PN532 NFC 00 00'],
  );
  t.same(core.readers().map((r) => r.driver), ['ccid', 'ccid', 'ccid', 'pn532']);
  const dual = [...d1.readers][0];
  d1.remove(dual);
  t.same(core.readers().map((r) => r.name), ['Single 01 00', 'PN532 NFC 00 00']);
  d1.add(new TestReader('d', 'Another'));
  await settle();
  t.ok(core.reader('Another 00 00'), 'instance 00 is free again');
  await core.stop();
});

t.test('reader removed with open handles: calls answer READER_UNAVAILABLE, disconnect succeeds once', async (t) => {
  const { core, driver, reader, name } = await setup();
  const ctx = core.establishContext();
  const a = (await core.connect(ctx, name, SHARE.SHARED, PROTOCOL.ANY)).handle;
  const b = (await core.connect(ctx, name, SHARE.SHARED, PROTOCOL.ANY)).handle;
  await core.beginTransaction(a);
  const waiting = core.beginTransaction(b);
  const removed: string[] = [];
  core.on('reader-removed', (r) => removed.push(r.name));
  driver.remove(reader);
  t.same(removed, [name]);
  await t.rejects(waiting, { code: SCARD.E_READER_UNAVAILABLE }, 'queued calls fail');
  const calls: Record<string, () => Promise<unknown>> = {
    transmit: () => core.transmit(a, PROTOCOL.T1, Buffer.from('00840000', 'hex')),
    status: () => core.status(a),
    control: () => core.control(a, 0x42000001, Buffer.alloc(0)),
    getAttrib: () => core.getAttrib(a, ATTR.ATR_STRING),
    beginTransaction: () => core.beginTransaction(a),
    endTransaction: () => core.endTransaction(a, DISPOSITION.LEAVE),
    reconnect: () => core.reconnect(a, SHARE.SHARED, PROTOCOL.ANY, DISPOSITION.LEAVE),
  };
  for (const [n, fn] of Object.entries(calls)) await t.rejects(fn(), { code: SCARD.E_READER_UNAVAILABLE }, n);
  await core.disconnect(a, DISPOSITION.RESET);
  await t.rejects(core.disconnect(a, DISPOSITION.LEAVE), { code: SCARD.E_INVALID_HANDLE }, 'second disconnect');
  await t.rejects(core.connect(ctx, name, SHARE.SHARED, PROTOCOL.ANY), { code: SCARD.E_UNKNOWN_READER });
  // The same device coming back is a new reader: the old handle stays dead.
  driver.add(reader);
  await settle();
  t.ok(core.reader(name));
  await t.rejects(core.status(b), { code: SCARD.E_READER_UNAVAILABLE });
  const c = await core.connect(ctx, name, SHARE.SHARED, PROTOCOL.ANY);
  t.ok(await core.transmit(c.handle, c.protocol, Buffer.from('00840000', 'hex')));
  await core.releaseContext(ctx);
  await core.stop();
});

t.test('reader unavailable: UNKNOWN state, calls fail, the card is powered again when it is back', async (t) => {
  const { core, name, slot } = await setup();
  const ctx = core.establishContext();
  const errors: string[] = [];
  core.on('reader-error', (r, e) => errors.push(`${r.name}: ${(e as { code?: number }).code}`));
  const { handle } = await core.connect(ctx, name, SHARE.SHARED, PROTOCOL.ANY);
  slot.setAvailable(false);
  await settle();
  t.equal(core.reader(name)?.state, CARD_STATE.UNKNOWN);
  t.equal(core.reader(name)?.available, false);
  t.same(errors, [`${name}: ${SCARD.E_READER_UNAVAILABLE}`]);
  await t.rejects(core.transmit(handle, PROTOCOL.T1, Buffer.from('00840000', 'hex')), { code: SCARD.E_READER_UNAVAILABLE });
  await t.rejects(core.connect(ctx, name, SHARE.DIRECT, 0), { code: SCARD.E_READER_UNAVAILABLE });
  slot.setAvailable(true);
  await until(() => core.reader(name)?.state === (CARD_STATE.PRESENT | CARD_STATE.POWERED | CARD_STATE.NEGOTIABLE));
  await t.rejects(core.transmit(handle, PROTOCOL.T1, Buffer.from('00840000', 'hex')), { code: SCARD.W_REMOVED_CARD }, 'the card was lost with the reader');
  await core.reconnect(handle, SHARE.SHARED, PROTOCOL.ANY, DISPOSITION.LEAVE);
  t.ok(await core.transmit(handle, PROTOCOL.T1, Buffer.from('00840000', 'hex')));
  await core.stop();
});

t.test('a mute card: PRESENT | SWALLOWED, reader-error, connect answers W_UNPOWERED_CARD, reconnect W_UNRESPONSIVE_CARD', async (t) => {
  const { core, name, slot } = await setup({ card: null });
  const errors: number[] = [];
  core.on('reader-error', (_r, e) => errors.push((e as unknown as { code: number }).code));
  const inserted: boolean[] = [];
  core.on('card-inserted', (r) => inserted.push(r.mute));
  const card = new TestCard(ATR.T0_T1);
  card.mute = true;
  slot.insert(card);
  await until(() => inserted.length === 1);
  t.same(inserted, [true]);
  t.equal(core.reader(name)?.state, CARD_STATE.PRESENT | CARD_STATE.SWALLOWED);
  t.same(errors, [SCARD.W_UNRESPONSIVE_CARD]);
  const ctx = core.establishContext();
  await t.rejects(core.connect(ctx, name, SHARE.SHARED, PROTOCOL.ANY), { code: SCARD.W_UNPOWERED_CARD, message: /power-up failed/ });
  const direct = await core.connect(ctx, name, SHARE.DIRECT, 0);
  await t.rejects(core.reconnect(direct.handle, SHARE.SHARED, PROTOCOL.ANY, 0), { code: SCARD.W_UNRESPONSIVE_CARD });
  card.mute = false;
  const c = await core.connect(ctx, name, SHARE.SHARED, PROTOCOL.ANY);
  t.equal(c.protocol, PROTOCOL.T1, 'a card that answers on retry is usable');
  await core.stop();
});

t.test('events are emitted once per change and a throwing listener does not break the core', async (t) => {
  const { core, name, slot } = await setup();
  let states = 0;
  core.on('reader-state', () => {
    states++;
    throw new Error('listener bug');
  });
  const ctx = core.establishContext();
  const { handle } = await core.connect(ctx, name, SHARE.SHARED, PROTOCOL.ANY);
  t.equal(states, 1, 'a connect is one table change (protocol negotiated, sharing 0 -> 1)');
  await core.transmit(handle, PROTOCOL.T1, Buffer.from('00840000', 'hex'));
  t.equal(states, 1, 'a transmit changes nothing in the table');
  slot.remove();
  await settle();
  t.equal(states, 2);
  await core.stop();
});

t.test('attributes', async (t) => {
  const { core, name } = await setup({ card: new TestCard(ATR.T0_T1) });
  const ctx = core.establishContext();
  const { handle } = await core.connect(ctx, name, SHARE.SHARED, PROTOCOL.ANY);
  t.same(await core.getAttrib(handle, ATTR.ATR_STRING), ATR.T0_T1);
  t.same(await core.getAttrib(handle, ATTR.VENDOR_NAME), Buffer.from('Test Vendor\0'), 'the driver answers first');
  t.same(await core.getAttrib(handle, ATTR.VENDOR_IFD_VERSION), Buffer.from([0x03, 0x00, 0x02, 0x01]));
  t.same(await core.getAttrib(handle, ATTR.CHANNEL_ID), Buffer.from([0x01, 0x00, 0x20, 0x00]));
  t.same(await core.getAttrib(handle, ATTR.CURRENT_PROTOCOL_TYPE), Buffer.from([2, 0, 0, 0]));
  t.same(await core.getAttrib(handle, ATTR.ICC_PRESENCE), Buffer.from([2]));
  t.same(await core.getAttrib(handle, ATTR.DEVICE_FRIENDLY_NAME_A), Buffer.from(`${name}\0`));
  t.same(await core.getAttrib(handle, ATTR.DEVICE_SYSTEM_NAME_A), Buffer.from(`${name}\0`));
  t.equal((await core.getAttrib(handle, ATTR.MAXINPUT)).length, 4);
  await t.rejects(core.getAttrib(handle, 0x12345678), { code: SCARD.E_UNSUPPORTED_FEATURE });
  await t.rejects(core.setAttrib(handle, ATTR.ATR_STRING, Buffer.from([0x3b])), { code: SCARD.E_UNSUPPORTED_FEATURE });
  await core.stop();
});

t.test('control: feature request answered, other codes to the driver or UNSUPPORTED_FEATURE', async (t) => {
  const { core, name } = await setup();
  const ctx = core.establishContext();
  const { handle } = await core.connect(ctx, name, SHARE.DIRECT, 0);
  t.same(await core.control(handle, 0x42000d48, Buffer.alloc(0)), Buffer.alloc(0), 'no features: empty list');
  t.same(await core.control(handle, 0x42000001, Buffer.from('hi')), Buffer.from('ctl:hi'));
  await t.rejects(core.control(handle, 0x42000002, Buffer.alloc(0)), { code: SCARD.E_UNSUPPORTED_FEATURE });
  await t.rejects(core.control(handle, -1, Buffer.alloc(0)), { code: SCARD.E_INVALID_VALUE });
  await core.stop();
});

t.test('stop: drivers stopped, readers gone, new contexts refused', async (t) => {
  const { core, driver } = await setup();
  const ctx = core.establishContext();
  await core.stop();
  t.ok(driver.stopped);
  t.same(core.readers(), []);
  t.throws(() => core.establishContext(), { code: SCARD.E_NO_SERVICE });
  t.ok(core.isValidContext(ctx));
});

t.test('an ATR longer than 33 bytes is never published: the card counts as mute', async (t) => {
  const { core, name, slot } = await setup({ card: null });
  const errors: number[] = [];
  core.on('reader-error', (_r, e) => errors.push((e as unknown as { code: number }).code));
  slot.insert(new TestCard(Buffer.alloc(40, 0x3b)));
  await until(() => core.reader(name)?.eventCounter === 1);
  t.equal(core.reader(name)?.state, CARD_STATE.PRESENT | CARD_STATE.SWALLOWED);
  t.equal(core.reader(name)?.atr.length, 0);
  t.same(errors, [SCARD.W_UNRESPONSIVE_CARD]);
  await core.stop();
});
