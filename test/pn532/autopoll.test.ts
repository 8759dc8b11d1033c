/**
 * InAutoPoll detection (docs/pn532.md §17): the answer decoder, and the
 * driver with `autoPoll` against the strict emulator (polling rounds 150 ms
 * apart): every card family found with what the driver needs from it (ATS,
 * card type), APDUs after it, removal and the next card.
 */
import fc from 'fast-check';
import t from 'tap';
import { decodeAutoPoll } from '../../drivers/pn532/protocol.js';
import { fieldCardOf } from '../../emulators/pn532/field.js';
import { hex, hsuRig, presence } from './helpers.js';

t.test('decodeAutoPoll: type A targets with their ATS; other types skipped by length', async (t) => {
  // ISO 14443-4A (20): Tg 01, ATQA 0344, SAK 20, UID 7, ATS TL 05 78 80 70 02
  const iso = hex('20 11 01 0344 20 07 04A1B2C3D4E5F6 05 78807002');
  // FeliCa 212 (11): skipped by its length
  const felica = hex('11 04 01 02 03 04');
  // MIFARE (10): Tg 01, ATQA 0004, SAK 08, UID 4
  const mifare = hex('10 09 01 0004 08 04 0A0B0C0D');
  const targets = decodeAutoPoll(Buffer.concat([hex('61 03'), iso, felica, mifare]));
  t.equal(targets.length, 2);
  t.same(targets[0].uid, hex('04A1B2C3D4E5F6'));
  t.same(targets[0].ats, hex('0578807002'));
  t.equal(targets[0].sak, 0x20);
  t.same(targets[1].uid, hex('0A0B0C0D'));
  t.equal(targets[1].ats, undefined);
  t.same(decodeAutoPoll(hex('61 00')), [], 'nothing found');
  t.throws(() => decodeAutoPoll(hex('61 01 20 11 01 0344')), /length 17 beyond the answer/);
  t.throws(() => decodeAutoPoll(hex('61 01 10 0A 01 0004 08 04 0A0B0C0D 00')), /1 bytes left over/);
  t.throws(() => decodeAutoPoll(hex('61')), /too short/);
});

t.test('decodeAutoPoll: any bytes decode or throw a plain Error', async (t) => {
  fc.assert(
    fc.property(fc.uint8Array({ maxLength: 60 }), (b) => {
      const body = Buffer.concat([hex('61'), b]);
      try {
        for (const x of decodeAutoPoll(body)) if (![4, 7, 10].includes(x.uid.length)) return false;
        return true;
      } catch (e) {
        return e instanceof Error && e.message.length > 0;
      }
    }),
    { seed: 13, numRuns: 5000 },
  );
  t.pass('5000 random answers');
});

t.test('autoPoll: the driver detects with InAutoPoll; ISO 14443-4, MIFARE Classic and NTAG are found and usable', async (t) => {
  const rig = await hsuRig({ autoPoll: true });
  t.teardown(() => rig.close());
  const commands: string[] = [];
  rig.chip.on('trace', (l) => {
    if (l.startsWith('cmd ')) commands.push(l.slice(4));
  });
  await rig.driver.start();
  const reader = rig.reader();
  const slot = reader.slots[0];
  t.equal(reader.diagnostics().detection, 'autopoll (150 ms rounds)');

  const iso = presence(slot, true, 5000, 'the ISO 14443-4 card');
  rig.chip.tap(fieldCardOf({ type: 'iso14443-4', uid: '04A1B2C3D4E5F6', ats: '7880700280' }));
  await iso;
  t.ok(commands.some((c) => c === '60 ff01201000'), 'InAutoPoll, endless, one 150 ms period, types 20 10 00');
  // Detection is InAutoPoll's: no InListPassiveTarget without a UID. (One with the card's UID is a re-select, which
  // the driver does when the link was suspect, e.g. a frame timed out on a loaded machine: docs/pn532.md §2.)
  t.notOk(commands.some((c) => c.replace(/\s/g, '') === '4a0100'), 'no InListPassiveTarget to detect');
  t.equal(reader.target?.type, 'iso14443-4');
  t.same(reader.target?.ats, hex('7880700280'), 'the ATS came with the InAutoPoll answer');
  t.same(await slot.transmit(hex('FF CA 00 00 00'), 2), hex('04A1B2C3D4E5F6 9000'));
  const gone = presence(slot, false, 5000);
  rig.chip.remove();
  await gone;

  const classic = presence(slot, true, 5000, 'the MIFARE Classic card');
  rig.chip.tap(fieldCardOf({ type: 'mifare-classic-1k', uid: '0A0B0C0D' }));
  await classic;
  t.equal(reader.target?.type, 'mifare-classic-1k');
  t.same(await slot.transmit(hex('FF CA 00 00 00'), 2), hex('0A0B0C0D 9000'));
  const gone2 = presence(slot, false, 5000);
  rig.chip.remove();
  await gone2;

  const ntag = presence(slot, true, 5000, 'the NTAG215');
  rig.chip.tap(fieldCardOf({ type: 'ntag215', uid: '04EE0102030405' }));
  await ntag;
  t.equal(reader.target?.type, 'ntag215', 'told apart by GET_VERSION after InAutoPoll');
  t.same(await slot.transmit(hex('FF CA 00 00 00'), 2), hex('04EE0102030405 9000'));
});
