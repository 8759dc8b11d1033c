/**
 * Through the core (ResourceManager): a tap on the emulated module (real pty,
 * serialport) becomes 'card-inserted' with UID and ATR; APDUs to an emulated
 * ISO 14443-4 card through connect/transmit; removal; the reader leaving the
 * table when its port goes away and coming back; feedback by command.
 */
import t from 'tap';
import { ResourceManager } from '../../src/core/index.js';
import type { ReaderSnapshot } from '../../src/core/api.js';
import { CARD_STATE, PROTOCOL, SCARD, SHARE } from '../../src/pcsc/constants.js';
import { fieldCardOf } from '../../emulators/pn532/field.js';
import { HsuAttachment, startPtyPair } from '../../emulators/pn532/hsu.js';
import { hex, hsuRig, waitFor } from './helpers.js';

t.test('tap -> card-inserted with UID and ATR; APDUs; removal; port loss', async (t) => {
  const rig = await hsuRig({ irqPin: 25, ledPin: 12, buzzerPin: 13, name: 'Door NFC', feedback: { ledOnCard: true, beepOnTapMs: 5 } });
  const core = new ResourceManager({ transmitTimeoutMs: 5000 });
  t.teardown(async () => {
    await core.stop();
    await rig.close();
  });
  await core.addDriver(rig.driver);
  const [reader] = core.readers();
  t.equal(reader.name, 'Door NFC 00 00', 'pcscd-style name');
  t.equal(reader.driver, 'pn532');
  t.equal(reader.state & CARD_STATE.ABSENT, CARD_STATE.ABSENT);
  t.equal(reader.capabilities.feedback, true);

  const inserted = waitFor<[ReaderSnapshot]>(core, 'card-inserted');
  rig.chip.tap(fieldCardOf({ type: 'iso14443-4', uid: '04112233445566', ats: '7877810280' }));
  const [snap] = await inserted;
  t.same(snap.card?.uid, hex('04112233445566'), 'UID in the event');
  t.same(snap.atr, hex('3B 81 80 01 80 80'), 'part 3 ATR in the event');
  t.equal(snap.card?.type, 'iso14443-4');
  t.equal(snap.eventCounter, 1);

  const led = rig.board.line(512 + 12);
  const buzzer = rig.board.line(512 + 13);
  for (let i = 0; i < 50 && buzzer.writes.length < 2; i++) await new Promise((r) => setTimeout(r, 10));
  t.equal(led.value, 1, 'LED on while the card is in the field');
  t.same(buzzer.writes.map((w) => w.value), [1, 0], 'one beep on the tap');

  const ctx = core.establishContext('test');
  const c = await core.connect(ctx, snap.name, SHARE.SHARED, PROTOCOL.ANY);
  t.equal(c.protocol, PROTOCOL.T1, 'ISO 14443-4 card: T=1');
  const uid = await core.transmit(c.handle, c.protocol, hex('FF CA 00 00 00'));
  t.same(uid, hex('04112233445566 9000'));
  const sel = await core.transmit(c.handle, c.protocol, hex('00 A4 04 00 0A F0736361726467617465 00'));
  t.equal(sel.readUInt16BE(sel.length - 2), 0x9000, 'SELECT the demo application');
  const rb = await core.transmit(c.handle, c.protocol, hex('00 B0 83 00 00'));
  t.equal(rb.length, 258, 'READ BINARY 256 bytes of the 300-byte record');
  t.equal(rb.readUInt16BE(256), 0x9000);
  t.same(rb.subarray(0, 4), hex('00010203'));

  await core.feedback(snap.name, { led: 'off', buzzer: { ms: 2, count: 2 } });
  t.equal(led.value, 0, 'LED off by command');
  t.same(buzzer.writes.slice(2).map((w) => w.value), [1, 0, 1, 0], 'two beeps by command');

  const removed = waitFor<[ReaderSnapshot]>(core, 'card-removed');
  rig.chip.remove();
  const [gone] = await removed;
  t.equal(gone.state & CARD_STATE.ABSENT, CARD_STATE.ABSENT);
  await t.rejects(core.transmit(c.handle, c.protocol, hex('FF CA 00 00 00')), { code: SCARD.W_REMOVED_CARD });

  // the USB-serial adapter is pulled: the reader leaves the table, and comes back with its port
  const readerGone = waitFor<[ReaderSnapshot]>(core, 'reader-removed');
  await rig.hsu.close();
  await rig.pty.stop();
  t.equal((await readerGone)[0].name, 'Door NFC 00 00');
  t.equal(core.readers().length, 0);
  const back = waitFor<[ReaderSnapshot]>(core, 'reader-added');
  const pty = await startPtyPair({ host: rig.pty.host, device: rig.pty.device, removeDirOnStop: true });
  const hsu = new HsuAttachment(rig.chip, pty.device, { pace: false });
  await hsu.open();
  rig.chip.reset();
  t.teardown(async () => {
    await hsu.close();
    await pty.stop();
  });
  t.equal((await back)[0].name, 'Door NFC 00 00', 'reader-added with the same name');
  const again = waitFor<[ReaderSnapshot]>(core, 'card-inserted');
  rig.chip.tap(fieldCardOf({ type: 'mifare-classic-1k', uid: 'DEADBEEF' }));
  const [s2] = await again;
  t.same(s2.card?.uid, hex('DEADBEEF'));
  t.same(s2.atr, hex('3B 8F 80 01 80 4F 0C A0 00 00 03 06 03 00 01 00 00 00 00 6A'));
});
