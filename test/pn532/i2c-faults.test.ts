/**
 * Faults on the I2C path (fake i2c-bus, IRQ wired): byte faults on 1% of the
 * frames over 2,000 MIFARE reads, a module reset, and a bus that stops
 * answering (EREMOTEIO) and comes back.
 */
import t from 'tap';
import { PcscError } from '../../src/pcsc/error.js';
import type { CardInfo } from '../../src/driver/contract.js';
import { fieldCardOf } from '../../emulators/pn532/field.js';
import { hex, i2cRig, waitFor } from './helpers.js';

t.test('2,000 MIFARE reads over I2C with 1% frame faults', async (t) => {
  t.setTimeout(300000);
  const rig = await i2cRig({ irqPin: 17, removalCheckMs: 200 });
  t.teardown(() => rig.close());
  await rig.driver.start();
  const slot = rig.reader().slots[0];
  const present = waitFor<[boolean, CardInfo]>(slot, 'presence');
  rig.chip.tap(fieldCardOf({ type: 'mifare-classic-1k', uid: '11223344' }));
  await present;
  const tx = (a: string): Promise<Buffer> => slot.transmit(hex(a), 2);
  t.same(await tx('FF 82 00 00 06 FFFFFFFFFFFF'), hex('9000'));
  t.same(await tx('FF 86 00 00 05 01 00 04 60 00'), hex('9000'));
  const block = hex('0102030405060708090A0B0C0D0E0F10');
  t.same(await tx(`FF D6 00 05 10 ${block.toString('hex')}`), hex('9000'));
  rig.chip.setSeed(7);
  rig.chip.faultRate = 0.01;
  const counts = { ok: 0, sw: {} as Record<string, number>, errors: {} as Record<string, number>, other: 0 };
  for (let i = 0; i < 2000; i++) {
    try {
      const r = await tx('FF B0 00 05 10');
      if (r.equals(Buffer.concat([block, hex('9000')]))) counts.ok++;
      else {
        const k = r.subarray(-2).toString('hex');
        counts.sw[k] = (counts.sw[k] ?? 0) + 1;
        // a refusal (auth lost with a module reset...): authenticate again, as an application would
        await tx('FF 86 00 00 05 01 00 04 60 00').catch(() => undefined);
      }
    } catch (e) {
      if (e instanceof PcscError) {
        counts.errors[e.codeName] = (counts.errors[e.codeName] ?? 0) + 1;
        if (!slot.isCardPresent()) await waitFor(slot, 'presence', 5000).catch(() => undefined);
        await tx('FF 86 00 00 05 01 00 04 60 00').catch(() => undefined);
      } else counts.other++;
    }
  }
  rig.chip.faultRate = 0;
  const r = rig.reader();
  t.comment(`reads: 2000, ok: ${counts.ok}, other SW: ${JSON.stringify(counts.sw)}, PC/SC errors: ${JSON.stringify(counts.errors)}, other: ${counts.other}`);
  t.comment(`faults injected: ${rig.chip.counters.faultsInjected}; driver: ${JSON.stringify(r.dialogue.counters)}`);
  t.equal(counts.other, 0, 'every failure is a PcscError');
  t.same(Object.keys(counts.sw).filter((k) => k !== '6982' && k !== '6300'), [], 'a read answers its data or a part 3 refusal, never wrong data');
  t.ok(counts.ok >= 1900, `most reads succeed (${counts.ok})`);
  await tx('FF 86 00 00 05 01 00 04 60 00');
  t.same(await tx('FF B0 00 05 10'), Buffer.concat([block, hex('9000')]), 'recovered');
});

t.test('I2C bus stops answering, then comes back: unavailable, then available', async (t) => {
  const rig = await i2cRig({ removalCheckMs: 50 }, { tuning: { recoverBackoffMs: { initial: 30, max: 100 } } });
  t.teardown(() => rig.close());
  await rig.driver.start();
  const slot = rig.reader().slots[0];
  const present = waitFor<[boolean, CardInfo]>(slot, 'presence');
  rig.chip.tap(fieldCardOf({ type: 'iso14443-4' }));
  await present;
  const bus = rig.bus.opened[0];
  const realRead = bus.i2cRead.bind(bus);
  const realWrite = bus.i2cWrite.bind(bus);
  const nak = async (): Promise<never> => {
    throw Object.assign(new Error('Remote I/O error'), { code: 'EREMOTEIO' });
  };
  bus.i2cRead = nak;
  bus.i2cWrite = nak;
  const [av] = await waitFor<[boolean]>(slot, 'availability');
  t.equal(av, false, 'slot unavailable while the module does not answer');
  bus.i2cRead = realRead;
  bus.i2cWrite = realWrite;
  const [av2] = await waitFor<[boolean]>(slot, 'availability');
  t.equal(av2, true, 'available again');
  const [p] = await waitFor<[boolean]>(slot, 'presence');
  t.equal(p, true, 'the card is found again');
});
