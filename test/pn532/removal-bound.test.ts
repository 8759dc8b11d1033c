/**
 * Removal of an ISO 14443-4 card within a second, by design (docs/pn532.md
 * §8.1): the arithmetic of presence-check interval, FWT-derived answer wait,
 * misses and line time stays under the goal with margin for every FWI at the
 * default configuration; the line time it counts is what a missed check
 * really puts on the line; a configuration that breaks the bound is warned
 * about. The measured figure is in bench-pn532, not here.
 */
import { Writable } from 'node:stream';
import pino from 'pino';
import t from 'tap';
import { pn532ReaderDefaults } from '../../drivers/pn532/config.js';
import { createPn532Driver } from '../../drivers/pn532/index.js';
import { HOST_TURN_MS, MISSED_CHECK_BYTES, PRESENCE_FWT_CAP_MS, PRESENCE_MISSES, PRESENCE_SLACK_MS, REMOVAL_GOAL_MS, presenceWaitMs, removalBoundMs } from '../../drivers/pn532/presence.js';
import { fwtMs, goneAfterMs } from '../../drivers/pn532/protocol.js';
import { Pn532Chip } from '../../emulators/pn532/chip.js';
import { fieldCardOf } from '../../emulators/pn532/field.js';
import { FakeGpioBoard } from '../../emulators/pn532/gpio.js';
import { fakeI2c } from '../../emulators/pn532/i2c.js';
import { hex, hsuRig, presence } from './helpers.js';

/** What the bound leaves for host latency beyond its own allowance (a loaded board, GC). */
const MARGIN_MS = 250;

const defaults = pn532ReaderDefaults({ transport: { type: 'i2c', bus: 1 } } as never);

t.test('the presence wait: FWT plus slack, capped, never longer than the chip takes to say "gone"', async (t) => {
  t.equal(presenceWaitMs(7, 1), fwtMs(7) + PRESENCE_SLACK_MS, 'FWI 7: 38.7 ms + slack');
  t.equal(presenceWaitMs(10, 1), PRESENCE_FWT_CAP_MS + PRESENCE_SLACK_MS, 'FWI 10 (FWT 309 ms): the cap');
  t.equal(presenceWaitMs(14, 0), PRESENCE_FWT_CAP_MS + PRESENCE_SLACK_MS, 'FWI 14 (FWT 4.9 s): the cap');
  for (let fwi = 0; fwi <= 14; fwi++) t.ok(presenceWaitMs(fwi, 0) <= goneAfterMs(fwi, 0) + PRESENCE_SLACK_MS, `FWI ${fwi}: no longer than the chip's own verdict`);
});

t.test('worst-case removal at the default configuration: under 1 s with margin, for every FWI, line and speed', async (t) => {
  t.equal(defaults.removalCheckMs, 150);
  t.equal(defaults.comRetries, 1);
  const lines = [
    { name: 'HSU 115200', byteMs: 10000 / 115200 },
    { name: 'HSU 921600', byteMs: 10000 / 921600 },
    { name: 'I2C 100 kHz with IRQ', byteMs: 0.09 },
    { name: 'I2C 100 kHz polled', byteMs: 0.09, pollMs: defaults.i2cPollMs },
  ];
  for (const l of lines) {
    for (let fwi = 0; fwi <= 14; fwi++) {
      const b = removalBoundMs({ removalCheckMs: defaults.removalCheckMs, fwi, comRetries: defaults.comRetries, byteMs: l.byteMs, pollMs: l.pollMs });
      t.ok(b.totalMs <= REMOVAL_GOAL_MS - MARGIN_MS, `${l.name}, FWI ${fwi}: ${b.totalMs.toFixed(1)} ms <= ${REMOVAL_GOAL_MS - MARGIN_MS} ms`);
    }
  }
  // the FWI 10 case of the acceptance, spelled out: interval + 2 x (wait + line time of 56 bytes + host allowance)
  const b = removalBoundMs({ removalCheckMs: 150, fwi: 10, comRetries: 1, byteMs: 10000 / 115200 });
  t.equal(MISSED_CHECK_BYTES, 56, 'ping 10 + ACK 6 + abort ACK 6 + echo 14 + ACK 6 + echo answer 14');
  t.equal(PRESENCE_MISSES, 2);
  t.equal(b.totalMs, 150 + 2 * (250 + (56 * 10000) / 115200 + HOST_TURN_MS));
  t.ok(Math.abs(b.totalMs - 679.7) < 0.1, `FWI 10 at 115200: ${b.totalMs.toFixed(1)} ms`);
});

t.test('a missed check puts exactly the counted bytes on the line, and a slow card leaving is a miss, not a wait for the chip', async (t) => {
  // no automatic checks: the one below is the only traffic
  const rig = await hsuRig({ removalCheckMs: 60000, comRetries: 1 });
  t.teardown(() => rig.close());
  await rig.driver.start();
  const reader = rig.reader();
  const slot = reader.slots[0];
  const tapped = presence(slot, true, 5000);
  rig.chip.tap(fieldCardOf({ type: 'iso14443-4', uid: '04CC000000000A', ats: '7880A00280' })); // FWI 10
  await tapped;
  t.same(await slot.transmit(hex('FF CA 00 00 00'), 2), hex('04CC000000000A 9000'));
  const target = reader.target!;
  t.equal(target.fwi, 10);
  rig.chip.remove();
  const c = reader.link.counters;
  const before = c.bytesOut + c.bytesIn;
  const verdict = await reader.dialogue.exclusive(() => target.presentLocked());
  t.equal(verdict, 'miss', 'no verdict from the chip within the wait: a miss (the chip would answer only after 1.86 s)');
  t.equal(c.bytesOut + c.bytesIn - before, MISSED_CHECK_BYTES, 'line bytes of one missed check, as the bound counts them');
  t.equal(reader.dialogue.counters.resends, 0, 'a clean link: nothing sent twice');
});

t.test('a removalCheckMs that breaks the bound is warned about; diagnostics carry the bound', async (t) => {
  const lines: string[] = [];
  const sink = new Writable({
    write(chunk: Buffer, _enc, cb) {
      lines.push(chunk.toString());
      cb();
    },
  });
  const log = pino({ level: 'warn' }, sink);
  const make = (removalCheckMs: number) => {
    const chip = new Pn532Chip('i2c');
    const board = new FakeGpioBoard();
    board.wire(chip, { irq: 17 });
    return createPn532Driver({ readers: [{ transport: { type: 'i2c', bus: 1, address: 0x24 }, irqPin: 17, removalCheckMs }] } as never, { log }, {
      i2c: fakeI2c({ 1: { 0x24: chip } }),
      gpio: board.factory,
      gpioBase: async () => 0,
    });
  };
  const ok = make(150);
  await ok.start();
  t.teardown(() => ok.stop());
  const d = ok.readers()[0].diagnostics() as { removalBoundMs: number };
  t.equal(d.removalBoundMs, Math.round(removalBoundMs({ removalCheckMs: 150, fwi: 14, comRetries: 1, byteMs: 0.09 }).totalMs));
  t.notOk(lines.some((l) => l.includes('more than a second')), 'no warning at the defaults');
  const slow = make(600);
  await slow.start();
  t.teardown(() => slow.stop());
  t.ok(
    lines.some((l) => l.includes('more than a second') && l.includes('"removalCheckMs":600')),
    'removalCheckMs 600: warned',
  );
});
