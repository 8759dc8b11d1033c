/**
 * The driver against the emulator at its strictest (docs/pn532.md): a card's
 * "gone" status only after 3 x FWT x (MaxRtyCOM + 1), a chip that resets
 * itself and wakes on any frame (losing it), and LowVbat accepting nothing
 * but SAMConfiguration. Each of these failed on the driver before the fixes
 * of issue 13: removal never reported, a reset module never reconfigured, a
 * LowVbat module unavailable for good.
 */
import t from 'tap';
import { SCARD } from '../../src/pcsc/constants.js';
import { fieldCardOf } from '../../emulators/pn532/field.js';
import { hex, hsuRig, presence } from './helpers.js';

const iso = (uid: string, fwi: number) =>
  // ATS: T0 78 (TA TB TC, FSCI 8), TA 80, TB = FWI << 4 | SFGI 0, TC 02, one historical byte 80
  fieldCardOf({ type: 'iso14443-4', uid, ats: `7880${(fwi << 4).toString(16).padStart(2, '0')}0280` });

for (const [fwi, comRetries] of [
  [7, 3],
  [10, 1],
] as const) {
  t.test(`ISO 14443-4 card with FWI ${fwi} (MaxRtyCOM ${comRetries}) leaves the field: removal reported, next card found`, async (t) => {
    const rig = await hsuRig({ comRetries });
    t.teardown(() => rig.close());
    await rig.driver.start();
    const slot = rig.reader().slots[0];
    const tapped = presence(slot, true, 5000);
    rig.chip.tap(iso('04AA000000000' + fwi.toString(16), fwi));
    await tapped;
    t.same(await slot.transmit(hex('FF CA 00 00 00'), 2), Buffer.concat([hex('04AA000000000' + fwi.toString(16)), hex('9000')]));
    // the deadline is a fail-safe, not the figure: the < 1 s bound is arithmetic (removal-bound.test.ts), the time is bench-pn532's
    const removed = presence(slot, false, 5000, `removal of the FWI ${fwi} card`);
    const misses = rig.reader().diagnostics().presenceMisses as number;
    rig.chip.remove();
    await removed;
    t.pass('card.removed');
    // FWI 10: the chip would say "gone" only after 3 x 309 ms x 2; the driver's own missed checks decided
    if (fwi === 10) t.ok((rig.reader().diagnostics().presenceMisses as number) > misses, 'removal decided by missed presence checks, not by the chip');
    const next = presence(slot, true, 3000, 'the next card');
    rig.chip.tap(iso('04BB000000000' + fwi.toString(16), fwi));
    await next;
    t.same(await slot.transmit(hex('FF CA 00 00 00'), 2), Buffer.concat([hex('04BB000000000' + fwi.toString(16)), hex('9000')]), 'the new UID, not the old one');
  });
}

t.test('the chip resets itself (answers in LowVbat): the driver configures it again and MIFARE removals work', async (t) => {
  const rig = await hsuRig({}, {}, false, { lowVbat: 'any' });
  t.teardown(() => rig.close());
  await rig.driver.start();
  const slot = rig.reader().slots[0];
  const classic = () => fieldCardOf({ type: 'mifare-classic-1k', uid: 'C1A55100' });
  const tapped = presence(slot, true, 5000);
  rig.chip.tap(classic());
  await tapped;
  const sams = rig.chip.counters.samConfigurations;
  rig.chip.reset(); // brown-out: LowVbat, defaults, asleep
  // the driver's next frame wakes the chip and is lost; the driver must take that as a reset
  const removed = presence(slot, false, 5000, 'removal after the reset');
  rig.chip.remove();
  await removed;
  const again = presence(slot, true, 5000, 'the tap after the reset');
  rig.chip.tap(classic());
  await again;
  t.ok(rig.chip.counters.samConfigurations > sams, 'SAMConfiguration sent again');
  t.match(rig.chip.configuration, { samConfigured: true, maxRtyCom: 1, passiveRetries: 2 }, 'retries configured again');
  const out = presence(slot, false, 5000, 'MIFARE Classic removal after the reset');
  rig.chip.remove();
  await out;
  t.pass('MIFARE removal detected after the chip reset');
});

t.test('a chip in LowVbat that accepts only SAMConfiguration: the reader recovers by itself', async (t) => {
  const rig = await hsuRig({}, {}, false, { lowVbat: 'sam-only' });
  t.teardown(() => rig.close());
  await rig.driver.start();
  const slot = rig.reader().slots[0];
  const tapped = presence(slot, true, 5000);
  rig.chip.tap(iso('04CC0000000001', 4));
  await tapped;
  rig.chip.reset();
  rig.chip.remove();
  await presence(slot, false, 5000, 'removal after the reset');
  const again = presence(slot, true, 5000, 'a tap after the LowVbat reset');
  rig.chip.tap(iso('04CC0000000002', 4));
  await again;
  t.equal(rig.chip.powerMode, 'normal', 'SAMConfiguration brought the chip out of LowVbat');
  t.same(await slot.transmit(hex('FF CA 00 00 00'), 2), hex('04CC0000000002 9000'));
  t.equal(rig.reader().available, true);
});

t.test('APDUs queued behind a presence check that found the card gone never reach the chip', async (t) => {
  const rig = await hsuRig({ removalCheckMs: 20 });
  t.teardown(() => rig.close());
  await rig.driver.start();
  const slot = rig.reader().slots[0];
  const tapped = presence(slot, true, 5000);
  rig.chip.tap(iso('04DD0000000001', 9));
  await tapped;
  const removed = presence(slot, false, 3000);
  rig.chip.remove();
  // queued while the presence check waits for the chip's verdict
  const queued = Array.from({ length: 6 }, () => slot.transmit(hex('00 B0 00 00 10'), 2));
  const results = await Promise.allSettled(queued);
  await removed;
  const codes = results.map((r) => (r.status === 'rejected' ? (r.reason as { code: number }).code : 0));
  t.ok(codes.every((c) => c === SCARD.W_REMOVED_CARD || c === SCARD.E_NO_SMARTCARD), `every APDU failed with a defined code: ${codes.map((c) => c.toString(16)).join(' ')}`);
  t.ok(codes.filter((c) => c === SCARD.W_REMOVED_CARD).length >= 4, 'the APDUs queued behind the verdict: SCARD_W_REMOVED_CARD without reaching the chip');
});
