/**
 * Driver stop leaves the module idle (docs/pn532.md §5):
 * target released, RF field off, PowerDown with wake-up on the host
 * interface; GPIO lines released. A silent module does not hold up the stop,
 * and a restart wakes the module and detects taps again.
 */
import t from 'tap';
import type { CardInfo } from '../../src/driver/contract.js';
import type { Pn532Reader } from '../../drivers/pn532/index.js';
import { encodeFrame, TFI_HOST, TFI_PN532 } from '../../drivers/pn532/frame.js';
import { Pn532Chip } from '../../emulators/pn532/chip.js';
import { fieldCardOf } from '../../emulators/pn532/field.js';
import { hex, hsuRig, i2cRig, waitFor } from './helpers.js';

/** Commands the emulated chip executed, as its trace prints them (`cmd 32 0100`). */
function commandLog(chip: Pn532Chip): string[] {
  const cmds: string[] = [];
  chip.on('trace', (line) => {
    if (line.startsWith('cmd ')) cmds.push(line.trim());
  });
  return cmds;
}

/** The daemon gives the whole shutdown 5 s; a stop that hangs fails here instead of stalling the run. */
async function boundedStop(stop: Promise<void>, ms = 3000): Promise<'stopped' | 'hung'> {
  let timer: NodeJS.Timeout | undefined;
  const hung = new Promise<'hung'>((r) => (timer = setTimeout(() => r('hung'), ms)));
  try {
    return await Promise.race([stop.then(() => 'stopped' as const), hung]);
  } finally {
    clearTimeout(timer);
  }
}

for (const bus of ['hsu', 'i2c'] as const) {
  t.test(`${bus}: stop releases the card, switches RF off, powers down; restart works`, async (t) => {
    const rig = bus === 'hsu' ? await hsuRig({ irqPin: 25, resetPin: 24, ledPin: 12 }) : await i2cRig({ irqPin: 17, resetPin: 27, ledPin: 12 });
    t.teardown(() => rig.close());
    const irqLine = bus === 'hsu' ? 512 + 25 : 17;
    await rig.driver.start();
    const slot = rig.reader().slots[0];
    const present = waitFor<[boolean, CardInfo]>(slot, 'presence');
    rig.chip.tap(fieldCardOf({ type: 'mifare-ultralight', uid: '04112233445566' }));
    await present;
    t.equal(rig.chip.powerMode, 'normal');
    t.equal(rig.chip.rfField, true, 'field on while the reader runs');

    const cmds = commandLog(rig.chip);
    const removed = waitFor<[Pn532Reader]>(rig.driver, 'reader-removed');
    t.equal(await boundedStop(rig.driver.stop()), 'stopped');
    await removed;
    const wake = bus === 'hsu' ? '10' : '80';
    t.same(cmds.slice(-3), ['cmd 52 00', 'cmd 32 0100', `cmd 16 ${wake}`], 'InRelease(0), RFConfiguration field off, PowerDown');
    t.equal(rig.chip.rfField, false, 'RF field off');
    t.equal(rig.chip.powerMode, 'power-down', 'module powered down');
    t.equal(rig.board.lines.get(irqLine)?.exported, false, 'IRQ line unexported');
    t.equal(rig.driver.readers().length, 0);

    // the card stays on the antenna: a restart must wake the module and find it again
    const added = waitFor<[Pn532Reader]>(rig.driver, 'reader-added');
    await rig.driver.start();
    const [reader] = await added;
    t.equal(rig.chip.powerMode, 'normal', 'woken by the restart');
    t.equal(rig.board.lines.get(irqLine)?.exported, true, 'IRQ line exported again');
    const again = waitFor<[boolean, CardInfo]>(reader.slots[0], 'presence');
    const [isIn, info] = await again;
    t.equal(isIn, true, 'tap seen after the restart');
    t.same(info.uid, hex('04112233445566'));
    t.equal(rig.chip.rfField, true, 'field on again');
    t.same(await reader.slots[0].transmit(hex('FF CA 00 00 00'), 2), hex('04112233445566 9000'));
  });
}

t.test('emulator, hsu: a module powered down without HSU wake-up enabled ignores the wake-up bytes', async (t) => {
  const chip = new Pn532Chip('hsu', { wakeGuardMs: 0 }); // bytes sent without waiting out the oscillator start-up
  const out: Buffer[] = [];
  chip.on('output', (b) => out.push(b));
  chip.hostBytes(Buffer.concat([hex('55 55 00 00 00'), encodeFrame(TFI_HOST, hex('14 01'))]));
  chip.hostBytes(encodeFrame(TFI_HOST, hex('16 80'))); // wake-up on I2C only
  t.same(out.at(-1), encodeFrame(TFI_PN532, hex('17 00')), 'PowerDown answered 17 00');
  t.equal(chip.powerMode, 'power-down');
  out.length = 0;
  chip.hostBytes(Buffer.concat([hex('55 55 00 00 00'), encodeFrame(TFI_HOST, hex('02'))]));
  t.same(out, [], 'no answer: HSU is not a wake-up source');
  t.equal(chip.powerMode, 'power-down');
  chip.reset();
  t.equal(chip.powerMode, 'low-vbat', 'RSTPDN brings it back');
});

for (const bus of ['hsu', 'i2c'] as const) {
  t.test(`${bus}: stop with a silent module completes within its bound and releases the lines`, async (t) => {
    const rig = bus === 'hsu' ? await hsuRig({ irqPin: 25, resetPin: 24 }) : await i2cRig({ irqPin: 17, resetPin: 27 });
    t.teardown(() => rig.close());
    await rig.driver.start();
    rig.reader();
    rig.chip.inject({ kind: 'hang' }); // wedged from the next byte the host sends on
    const removed = waitFor<[Pn532Reader]>(rig.driver, 'reader-removed');
    t.equal(await boundedStop(rig.driver.stop()), 'stopped', 'stop returned although the module never answered');
    await removed;
    t.equal(rig.chip.powerMode, 'normal', 'the wedged module could not be powered down');
    for (const pin of bus === 'hsu' ? [512 + 25, 512 + 24] : [17, 27]) t.equal(rig.board.lines.get(pin)?.exported, false, `line ${pin} unexported`);
  });
}
