/**
 * The PN532 driver over its real HSU path: serialport on one end of a socat
 * pty pair, the emulated module on the other. Start-up, detection with and
 * without the IRQ line, ISO 14443-4 APDUs with chaining both ways, part 3
 * GET DATA, removal.
 */
import t from 'tap';
import { buildIso14443Atr } from '../../src/iso7816/atr.js';
import { SCARD } from '../../src/pcsc/constants.js';
import type { CardInfo } from '../../src/driver/contract.js';
import type { Pn532Reader } from '../../drivers/pn532/index.js';
import { fieldCardOf } from '../../emulators/pn532/field.js';
import { hex, hsuRig, sleep, waitFor } from './helpers.js';

t.test('start-up, tap, APDUs, GET DATA, removal (IRQ wired)', async (t) => {
  const rig = await hsuRig({ irqPin: 25 });
  t.teardown(() => rig.close());
  const added = waitFor<[Pn532Reader]>(rig.driver, 'reader-added');
  await rig.driver.start();
  const [reader] = await added;
  t.equal(reader.id, `hsu:${rig.pty.host}`);
  t.equal(reader.friendlyName, 'PN532 NFC');
  t.match(reader.diagnostics(), { firmware: 'PN532 v1.6', detection: 'irq', available: true });
  t.ok(rig.board.lines.get(512 + 25)?.exported, 'IRQ configured on sysfs 512 + BCM 25');
  const slot = reader.slots[0];
  t.equal(slot.isCardPresent(), false);
  await t.rejects(slot.powerUp(), { code: SCARD.E_NO_SMARTCARD });

  const ats = hex('78 77 81 02 80 73 63 67');
  const files = {
    fid: '3F00',
    children: [{ fid: '1001', data: Buffer.from(Array.from({ length: 700 }, (_, i) => (i * 13) & 0xff)).toString('hex'), update: 'always' }],
  };
  const present = waitFor<[boolean, CardInfo]>(slot, 'presence');
  rig.chip.tap(fieldCardOf({ type: 'iso14443-4', uid: '04A1B2C3D4E5F6', ats: ats.toString('hex'), files }));
  const [isIn, info] = await present;
  t.equal(isIn, true);
  t.match(info, { contactless: true, type: 'iso14443-4', sak: 0x20 });
  t.same(info.uid, hex('04A1B2C3D4E5F6'));
  t.same(info.atqa, hex('0044'));
  t.same(info.ats, ats, 'ATS without TL');
  const atr = await slot.powerUp();
  t.same(atr, buildIso14443Atr(hex('80 73 63 67')), 'part 3 ATR from the ATS historical bytes');
  t.same(atr, hex('3B 84 80 01 80 73 63 67 ' + (0x84 ^ 0x80 ^ 0x01 ^ 0x80 ^ 0x73 ^ 0x63 ^ 0x67).toString(16).padStart(2, '0')));

  t.same(await slot.transmit(hex('FF CA 00 00 00'), 2), hex('04A1B2C3D4E5F6 9000'), 'FF CA: UID');
  t.same(await slot.transmit(hex('FF CA 01 00 00'), 2), hex('80736367 9000'), 'FF CA 01: historical bytes');
  t.same(await slot.transmit(hex('00 A4 00 0C 02 1001'), 2), hex('9000'), 'SELECT EF');
  const long = await slot.transmit(hex('00 B0 0000 000000'), 2);
  t.equal(long.length, 702, 'extended READ BINARY: 700 bytes + SW through 3 chained frames');
  t.same(long.subarray(0, 4), hex('000D1A27'));
  const big = Buffer.from(Array.from({ length: 600 }, (_, i) => (255 - i) & 0xff));
  t.same(await slot.transmit(Buffer.concat([hex('00 D6 0000 00 0258'), big]), 2), hex('9000'), 'UPDATE BINARY of 600 bytes chained host -> card');
  const back = await slot.transmit(hex('00 B0 0000 000258'), 2);
  t.same(back, Buffer.concat([big, hex('9000')]), 'read back');
  t.ok(reader.dialogue.counters.commands > 10);

  const gone = waitFor<[boolean]>(slot, 'presence');
  rig.chip.remove();
  t.same(await gone, [false], 'removal detected by presence check');
  await t.rejects(slot.transmit(hex('00A4040000'), 2), { code: SCARD.E_NO_SMARTCARD });

  // with the IRQ line the module waits for the card: one InListPassiveTarget, no busy polling
  const before = rig.chip.counters.commands;
  await sleep(500);
  t.ok(rig.chip.counters.commands - before <= 2, `IRQ mode, empty field: ${rig.chip.counters.commands - before} commands in 500 ms`);
  const again = waitFor<[boolean, CardInfo]>(slot, 'presence');
  rig.chip.tap(fieldCardOf({ type: 'mifare-classic-1k', uid: '01020304' }));
  const [, info2] = await again;
  t.match(info2, { type: 'mifare-classic-1k', sak: 0x08 });
  t.same(await slot.powerUp(), hex('3B 8F 80 01 80 4F 0C A0 00 00 03 06 03 00 01 00 00 00 00 6A'), 'MIFARE 1K ATR (TCK 6A)');
});

t.test('polling without IRQ: detection at the configured interval', async (t) => {
  const rig = await hsuRig({ pollIntervalMs: 40 });
  t.teardown(() => rig.close());
  await rig.driver.start();
  const reader = rig.reader();
  t.match(reader.diagnostics(), { detection: 'poll 40 ms' });
  const before = rig.chip.counters.commands;
  await sleep(400);
  t.ok(rig.chip.counters.commands - before >= 3, `polling: ${rig.chip.counters.commands - before} InListPassiveTarget in 400 ms`);
  const present = waitFor<[boolean, CardInfo]>(reader.slots[0], 'presence');
  rig.chip.tap(fieldCardOf({ type: 'mifare-ultralight' }));
  const [, info] = await present;
  t.match(info, { type: 'mifare-ultralight', sak: 0 });
  t.same(await reader.slots[0].transmit(hex('FF CA 00 00 00'), 2), Buffer.concat([info.uid!, hex('9000')]));
});

t.test('a missing port is retried until it appears', async (t) => {
  const rig = await hsuRig();
  t.teardown(() => rig.close());
  await rig.hsu.close();
  await rig.pty.stop();
  await rig.driver.start();
  t.equal(rig.driver.readers().length, 0, 'no reader while the port is missing');
  const { startPtyPair } = await import('../../emulators/pn532/hsu.js');
  const { HsuAttachment } = await import('../../emulators/pn532/hsu.js');
  const pty = await startPtyPair({ host: rig.pty.host, device: rig.pty.device, removeDirOnStop: true });
  const hsu = new HsuAttachment(rig.chip, pty.device, { pace: false });
  await hsu.open();
  rig.chip.reset();
  t.teardown(async () => {
    await rig.driver.stop();
    await hsu.close();
    await pty.stop();
  });
  const [r] = await waitFor<[Pn532Reader]>(rig.driver, 'reader-added');
  t.equal(r.id, `hsu:${rig.pty.host}`, 'reader added once the port exists');
});
