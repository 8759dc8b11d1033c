/**
 * The emulated USB bus a daemon hosts when drivers.ccid.emulate lists
 * readers (`make run` shows a CCID reader this way): one emulated device per
 * entry, cards inserted as configured.
 */
import type { CcidConfigT } from '../../drivers/ccid/config.js';
import { EmulatedUsbBinding } from './binding.js';

export function emulatedBus(readers: CcidConfigT['emulate']): EmulatedUsbBinding {
  const bus = new EmulatedUsbBinding(true);
  readers.forEach((r, i) => {
    const dev = bus.add(r.profile, { level: r.level, interrupt: r.interrupt, serialNumber: r.serialNumber });
    r.cards.forEach((c, j) => {
      try {
        dev.insert(c.card, { interface: c.interface, slot: c.slot });
      } catch (e) {
        throw new Error(`drivers.ccid.emulate[${i}].cards[${j}]: ${(e as Error).message}`, { cause: e });
      }
    });
  });
  return bus;
}
