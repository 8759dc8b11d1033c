/**
 * HSU speed (docs/pn532.md §6) over the in-memory serial port, which garbles
 * every byte while the two ends run at different speeds: the driver switches
 * to maxBaudRate after start-up, falls back to 115200 when the module resets
 * (and switches again), and stays at 115200 when the port refuses the speed.
 */
import t from 'tap';
import { createPn532Driver } from '../../drivers/pn532/index.js';
import { Pn532Chip } from '../../emulators/pn532/chip.js';
import { fieldCardOf } from '../../emulators/pn532/field.js';
import { MemorySerialPort, memorySerialPort } from '../../emulators/pn532/memory-port.js';
import { hex, log, presence } from './helpers.js';

function rig(maxBaudRate: number, refuse?: number) {
  const chip = new Pn532Chip('hsu');
  const ports = memorySerialPort(chip);
  const factory = (o: { path: string; baudRate: number }): MemorySerialPort => {
    const p = ports(o);
    if (refuse !== undefined) {
      const update = p.update.bind(p);
      p.update = (u, cb) => (u.baudRate === refuse ? setImmediate(() => cb?.(new Error('Invalid argument'))) : update(u, cb));
    }
    return p;
  };
  const driver = createPn532Driver({ readers: [{ transport: { type: 'hsu', path: '/dev/mem-pn532', baudRate: 115200, maxBaudRate } }] } as never, { log }, {
    serialPort: factory as never,
    reopenMs: { initial: 50, max: 400 },
  });
  return { chip, driver, ports };
}

t.test('switched to 921600 after start-up; a module reset falls back to 115200 and the driver switches again', async (t) => {
  const { chip, driver } = rig(921600);
  t.teardown(() => driver.stop());
  await driver.start();
  const reader = driver.readers()[0];
  t.equal(chip.baudRate, 921600, 'module at 921600');
  t.equal(reader.link.baud, 921600, 'port at 921600');
  const slot = reader.slots[0];
  const tapped = presence(slot, true, 5000);
  chip.tap(fieldCardOf({ type: 'iso14443-4', uid: '04B0D0000000AA' }));
  await tapped;
  t.same(await slot.transmit(hex('FF CA 00 00 00'), 2), hex('04B0D0000000AA 9000'));
  const resets = reader.stats.reinits + reader.stats.recoveries;
  chip.reset(); // back to 115200, LowVbat: everything the driver sends at 921600 is noise to it
  chip.remove();
  await presence(slot, false, 5000, 'removal after the reset');
  const again = presence(slot, true, 5000, 'a tap after the reset');
  chip.tap(fieldCardOf({ type: 'iso14443-4', uid: '04B0D0000000BB' }));
  await again;
  t.ok(reader.stats.reinits + reader.stats.recoveries > resets, 'initialised again');
  t.ok(reader.stats.baudFallbacks >= 1, 'fell back to 115200 to reach the reset module');
  t.equal(chip.baudRate, 921600, 'and switched up again');
  t.same(await slot.transmit(hex('FF CA 00 00 00'), 2), hex('04B0D0000000BB 9000'));
});

t.test('a port that refuses the speed: the module stays at 115200 and works', async (t) => {
  const { chip, driver } = rig(921600, 921600);
  t.teardown(() => driver.stop());
  await driver.start();
  const reader = driver.readers()[0];
  t.equal(chip.baudRate, 115200);
  t.equal(reader.link.baud, 115200);
  const slot = reader.slots[0];
  const tapped = presence(slot, true, 5000);
  chip.tap(fieldCardOf({ type: 'mifare-classic-1k', uid: 'B0D00001' }));
  await tapped;
  t.same(await slot.transmit(hex('FF CA 00 00 00'), 2), hex('B0D00001 9000'));
});

t.test('maxBaudRate 115200: no SetSerialBaudRate at all', async (t) => {
  const { chip, driver } = rig(115200);
  t.teardown(() => driver.stop());
  let switches = 0;
  chip.on('trace', (l) => {
    if (l.startsWith('cmd 10 ')) switches++;
  });
  await driver.start();
  t.equal(driver.readers()[0].link.baud, 115200);
  t.equal(switches, 0);
});
