/**
 * BCM -> sysfs GPIO numbering (Pi 5 / kernel >= 6.6 offset) from a sysfs
 * tree laid out like the real ones, and the driver's config schema.
 */
import t from 'tap';
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { bcmGpioBase } from '../../drivers/pn532/gpio.js';
import { resolveConfig } from '../../src/config/load.js';

const made: string[] = [];
t.teardown(() => made.forEach((d) => rmSync(d, { recursive: true, force: true })));

function sysfs(chips: Record<string, { label: string; base: number }>): string {
  const root = mkdtempSync(join(tmpdir(), 'gpio-'));
  made.push(root);
  for (const [name, c] of Object.entries(chips)) {
    mkdirSync(join(root, name));
    writeFileSync(join(root, name, 'label'), `${c.label}\n`);
    writeFileSync(join(root, name, 'base'), `${c.base}\n`);
  }
  writeFileSync(join(root, 'export'), '');
  return root;
}

t.test('BCM base from the gpiochip labels', async (t) => {
  // Raspberry Pi 5, kernel 6.6: RP1 carries the header pins at base 571; the SoC controllers too are listed
  const pi5 = sysfs({
    gpiochip512: { label: 'gpio-brcmstb@107d508500', base: 512 },
    gpiochip544: { label: 'gpio-brcmstb@107d508520', base: 544 },
    gpiochip571: { label: 'pinctrl-rp1', base: 571 },
  });
  t.equal(await bcmGpioBase(pi5), 571, 'Pi 5: BCM 17 is sysfs 588');
  // Pi 4 on kernel >= 6.6: base 512
  t.equal(await bcmGpioBase(sysfs({ gpiochip512: { label: 'pinctrl-bcm2711', base: 512 }, gpiochip570: { label: 'raspberrypi-exp-gpio', base: 570 } })), 512);
  // Pi 3 on an older kernel: base 0
  t.equal(await bcmGpioBase(sysfs({ gpiochip0: { label: 'pinctrl-bcm2835', base: 0 }, gpiochip504: { label: 'raspberrypi-exp-gpio', base: 504 } })), 0);
  t.equal(await bcmGpioBase(sysfs({ gpiochip0: { label: 'some-other-soc', base: 0 } })), 0, 'not a Pi: numbers as given');
  t.equal(await bcmGpioBase(join(tmpdir(), 'no-such-gpio-dir')), 0, 'no sysfs GPIO at all');
});

t.test('config through the daemon loader: defaults and errors naming the key', async (t) => {
  const load = (pn532: unknown) => resolveConfig({ drivers: { pn532 } }, 'test.yaml', { env: {} });
  const { config } = load({ readers: [{ transport: { type: 'hsu', path: '/dev/ttyAMA0' }, irqPin: 25 }, { transport: { type: 'i2c', bus: 1 } }] });
  const readers = config.drivers.pn532.readers;
  t.match(readers[0], { name: 'PN532 NFC', pollIntervalMs: 100, removalCheckMs: 150, transport: { baudRate: 115200 }, feedback: { ledOnCard: true, beepOnTapMs: 0 } });
  t.match(readers[1], { transport: { address: 0x24 } });
  const bad = (pn532: unknown, re: RegExp, what: string) => t.throws(() => load(pn532), { message: re }, what);
  bad({ readers: [{ transport: { type: 'hsu', path: '/dev/ttyS0', baudRate: 12345 } }] }, /drivers\.pn532\.readers\[0\]\.transport/, 'unsupported baud rate');
  bad({ readers: [{ transport: { type: 'i2c', bus: 1, address: 0x90 } }] }, /drivers\.pn532\.readers\[0\]\.transport/, 'address above 0x77');
  bad({ readers: [{ transport: { type: 'hsu', path: '/dev/x' }, irqPin: 99 }] }, /drivers\.pn532\.readers\[0\]\.irqPin/, 'pin out of range');
  bad({ readers: [{ transport: { type: 'hsu', path: '/dev/x' }, colour: 'red' }] }, /colour/, 'unknown key');
});
