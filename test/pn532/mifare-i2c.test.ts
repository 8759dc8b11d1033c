/**
 * The I2C path (fake i2c-bus with the real API, status byte first) with and
 * without the IRQ line, and MIFARE Classic / Ultralight through the PC/SC
 * part 3 pseudo-APDUs (FF 82, FF 86, FF B0, FF D6, FF CA).
 */
import t from 'tap';
import { SCARD } from '../../src/pcsc/constants.js';
import type { CardInfo } from '../../src/driver/contract.js';
import { fieldCardOf } from '../../emulators/pn532/field.js';
import { hex, i2cRig, sleep, waitFor } from './helpers.js';

const KEY_FF = 'FFFFFFFFFFFF';

t.test('I2C with IRQ: MIFARE Classic 1K through part 3 pseudo-APDUs', async (t) => {
  const rig = await i2cRig({ irqPin: 17 });
  t.teardown(() => rig.close());
  await rig.driver.start();
  const reader = rig.reader();
  t.equal(reader.id, 'i2c:1:0x24');
  t.match(reader.diagnostics(), { firmware: 'PN532 v1.6', detection: 'irq' });
  const writes = rig.bus.opened[0].log.filter((x) => x.dir === 'write');
  t.same(writes[0].bytes, hex('00 00 FF 05 FB D4 14 01 14 01 02 00'), 'first frame on the bus: SAMConfiguration(normal, 1 s, IRQ)');
  const reads = rig.bus.opened[0].log.filter((x) => x.dir === 'read');
  t.ok(reads.every((r) => r.bytes.length === 1 || r.bytes[0] === 0x01), 'frames read only after RDY');

  const slot = reader.slots[0];
  const present = waitFor<[boolean, CardInfo]>(slot, 'presence');
  rig.chip.tap(fieldCardOf({ type: 'mifare-classic-1k', uid: 'A1B2C3D4' }));
  const [, info] = await present;
  t.match(info, { type: 'mifare-classic-1k', sak: 0x08 });
  const tx = (a: string): Promise<Buffer> => slot.transmit(hex(a), 2);

  t.same(await tx('FF CA 00 00 00'), hex('A1B2C3D4 9000'), 'UID');
  t.same(await tx('FF CA 00 00 02'), hex('6C04'), 'Le too short: 6C 04');
  t.same(await tx('FF CA 01 00 00'), hex('6A81'), 'no ATS on a Classic');
  t.same(await tx('FF B0 00 04 10'), hex('6982'), 'read before authentication: 69 82');
  t.same(await tx(`FF 82 00 00 06 ${KEY_FF}`), hex('9000'), 'LOAD KEYS slot 0');
  t.same(await tx('FF 82 00 01 06 A0A1A2A3A4A5'), hex('9000'), 'LOAD KEYS slot 1 (wrong key)');
  t.same(await tx('FF 86 00 00 05 01 00 04 60 01'), hex('6300'), 'auth with the wrong key: 63 00');
  t.same(await tx('FF 86 00 00 05 01 00 04 60 00'), hex('9000'), 'auth sector 1 with key A (card selected again after the failure)');
  const data = hex('00112233445566778899AABBCCDDEEFF');
  t.same(await tx(`FF D6 00 04 10 ${data.toString('hex')}`), hex('9000'), 'UPDATE BINARY block 4');
  // presence checks run between calls (re-select) and the driver restores the authentication
  await sleep(400);
  t.same(await tx('FF B0 00 04 10'), Buffer.concat([data, hex('9000')]), 'READ BINARY block 4 after presence checks');
  t.same(await tx('FF B0 00 08 10'), hex('6982'), 'block of another sector: 69 82');
  t.same(await tx('FF B0 00 05 10'), Buffer.concat([Buffer.alloc(16), hex('9000')]), 'authentication restored after the refusal');
  t.same(await tx('00 A4 04 00 00'), hex('6E00'), 'an ISO APDU to a storage card: 6E 00');
  t.ok(reader.stats.presenceChecks >= 2, `${reader.stats.presenceChecks} presence checks ran`);

  const gone = waitFor<[boolean]>(slot, 'presence');
  rig.chip.remove();
  t.same(await gone, [false]);
  await t.rejects(tx('FF B0 00 04 10'), { code: SCARD.E_NO_SMARTCARD });
});

t.test('I2C polling (status byte) with a MIFARE Ultralight', async (t) => {
  const rig = await i2cRig({ pollIntervalMs: 30 });
  t.teardown(() => rig.close());
  await rig.driver.start();
  const slot = rig.reader().slots[0];
  const present = waitFor<[boolean, CardInfo]>(slot, 'presence');
  rig.chip.tap(fieldCardOf({ type: 'mifare-ultralight', uid: '04112233445566' }));
  const [, info] = await present;
  t.match(info, { type: 'mifare-ultralight' });
  const tx = (a: string): Promise<Buffer> => slot.transmit(hex(a), 2);
  t.same(await slot.powerUp(), hex('3B 8F 80 01 80 4F 0C A0 00 00 03 06 03 00 03 00 00 00 00 68'), 'Ultralight ATR');
  t.same(await tx('FF CA 00 00 00'), hex('04112233445566 9000'));
  t.same(await tx('FF D6 00 05 04 DEADBEEF'), hex('9000'), 'write page 5');
  const r = await tx('FF B0 00 04 10');
  t.same(r.subarray(4, 8), hex('DEADBEEF'), 'READ returns 4 pages from page 4');
  t.same(r.subarray(16), hex('9000'));
  t.same(await tx('FF B0 00 05 04'), hex('DEADBEEF 9000'), 'Le 4: one page');
  t.same(await tx('FF D6 00 00 04 00000000'), hex('6982'), 'page 0 is read-only: refused');
  t.same(await tx('FF B0 00 20 10'), hex('6A82'), 'no such page');
  t.same(await tx('FF 86 00 00 05 01 00 04 60 00'), hex('6981'), 'no authentication on an Ultralight');
});
