/** The vpcd driver with Debian's real vicc (python3-virtualsmartcard), directly and through the core. */
import t, { type Test } from 'tap';
import { once } from 'node:events';
import net from 'node:net';
import pino from 'pino';
import { createVpcdDriver, type VpcdDriver } from '../../drivers/vpcd/index.js';
import { ResourceManager } from '../../src/core/index.js';
import { CARD_STATE, CM_IOCTL_GET_FEATURE_REQUEST, PROTOCOL, SCARD, SHARE, DISPOSITION } from '../../src/pcsc/constants.js';
import { startVicc, VICC_ISO7816_ATR, type Vicc } from '../helpers/vicc.js';
import { freePorts } from './ports.js';

const log = pino({ level: 'silent' });
const h = (s: string): Buffer => Buffer.from(s.replace(/ /g, ''), 'hex');
const hx = (b: Buffer): string => b.toString('hex').toUpperCase();

async function setup(t: Test, slots = 2, start = true): Promise<{ d: VpcdDriver; port: number }> {
  const port = await freePorts(slots);
  const d = createVpcdDriver({ enabled: true, host: '127.0.0.1', port, slots, responseTimeoutMs: 5000 }, { log });
  if (start) await d.start();
  t.teardown(() => d.stop());
  return { d, port };
}

function vicc(t: Test, port: number): Vicc {
  const v = startVicc({ port });
  t.teardown(() => v.stop());
  return v;
}

t.test('one reader "Virtual PCD" with empty slots from start; a vicc inserts, its exit removes', async (t) => {
  const { d, port } = await setup(t);
  t.equal(d.reader.friendlyName, 'Virtual PCD');
  t.equal(d.reader.slots.length, 2);
  t.same(d.reader.slots.map((s) => s.isCardPresent()), [false, false]);
  const slot = d.reader.slots[0];
  await t.rejects(slot.powerUp(), { code: SCARD.E_NO_SMARTCARD });
  const inserted = once(slot, 'presence');
  const v = vicc(t, port);
  const [present, info] = await v.whileRunning(inserted);
  t.equal(present, true, `vicc connected (${v.output()})`);
  t.same(info, { contactless: false, type: 'vicc' });
  t.notOk(d.reader.slots[1].isCardPresent(), 'the other slot stays empty');
  t.same(await slot.powerUp(), VICC_ISO7816_ATR, 'power up returns the vicc ATR');
  t.equal(hx(await slot.transmit(h('00A4000C023F00'), PROTOCOL.T1)), '9000', 'SELECT MF');
  const ch = await slot.transmit(h('0084000008'), PROTOCOL.T1);
  t.equal(ch.length, 10);
  t.equal(hx(ch.subarray(8)), '9000', 'GET CHALLENGE');
  t.equal(hx(await slot.transmit(h('00B0000010'), PROTOCOL.T1)), '6986', 'READ BINARY without a current EF');
  t.equal(hx(await slot.transmit(h('00A4040C0AF0736361726467617465'), PROTOCOL.T1)), '6A82', 'unknown AID');
  t.same(await slot.reset(), VICC_ISO7816_ATR, 'reset');
  await slot.powerDown();
  t.same(await slot.powerUp(), VICC_ISO7816_ATR, 'power down then up');
  t.same(await slot.control!(CM_IOCTL_GET_FEATURE_REQUEST, Buffer.alloc(0)), h('12 04 42330012'), 'part 10 features as ifd-vpcd');
  t.same(await slot.control!(0x42330012, Buffer.alloc(0)), h('0A04 00000100'), 'dwMaxAPDUDataSize 65536');
  const removed = once(slot, 'presence');
  await v.stop();
  t.same(await removed, [false], 'vicc exit = card removed');
  await t.rejects(slot.transmit(h('0084000008'), PROTOCOL.T1), { code: SCARD.E_NO_SMARTCARD });
  // Reconnecting inserts the card again.
  const again = once(slot, 'presence');
  const v2 = vicc(t, port);
  t.same((await v2.whileRunning(again))[0], true);
});

t.test('a second connection to an occupied slot is refused; the first card keeps working', async (t) => {
  const { d, port } = await setup(t, 1);
  const slot = d.reader.slots[0];
  const inserted = once(slot, 'presence');
  await vicc(t, port).whileRunning(inserted);
  const intruder = net.connect({ host: '127.0.0.1', port });
  intruder.on('error', () => undefined);
  await once(intruder, 'close');
  t.pass('the second connection was closed');
  await slot.powerUp();
  t.equal(hx(await slot.transmit(h('00A4000C023F00'), PROTOCOL.T1)), '9000');
  t.ok(slot.isCardPresent());
  t.match(slot.diagnostics(), { refused: 1, connected: true });
});

t.test('through the core: names as pcscd gives them, connect/transmit/status, removal', async (t) => {
  const { d, port } = await setup(t, 2, false);
  const core = new ResourceManager({ transmitTimeoutMs: 5000 });
  t.teardown(() => core.stop());
  await core.addDriver(d);
  t.same(core.readers().map((r) => r.name), ['Virtual PCD 00 00', 'Virtual PCD 00 01']);
  t.ok(core.readers().every((r) => r.state & CARD_STATE.ABSENT), 'empty until a vicc connects');
  const inserted = once(core, 'card-inserted');
  const v = vicc(t, port + 1);
  const [snap] = await v.whileRunning(inserted);
  t.equal(snap.name, 'Virtual PCD 00 01');
  const ctx = core.establishContext('test');
  const { handle, protocol } = await core.connect(ctx, 'Virtual PCD 00 01', SHARE.SHARED, PROTOCOL.T0 | PROTOCOL.T1);
  t.equal(protocol, PROTOCOL.T1);
  t.equal(hx(await core.transmit(handle, PROTOCOL.T1, h('00A4000C023F00'))), '9000');
  const st = await core.status(handle);
  t.same(st.atr, VICC_ISO7816_ATR);
  const removed = once(core, 'card-removed');
  await v.stop();
  await removed;
  await t.rejects(core.transmit(handle, PROTOCOL.T1, h('00A4000C023F00')));
  await core.disconnect(handle, DISPOSITION.LEAVE).catch(() => undefined);
});

t.test('the vicc helper fails fast (not by timeout) when vicc ends early', async (t) => {
  const port = await freePorts(1); // nothing listens there: vicc exits at once
  const v = startVicc({ port });
  t.teardown(() => v.stop());
  await t.rejects(v.whileRunning(new Promise(() => undefined)), /vicc ended \(0\) before that happened; its output:/);
});
