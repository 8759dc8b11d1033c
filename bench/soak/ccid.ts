/**
 * Emulated USB CCID readers hosted by the daemon (drivers.ccid.emulate, the
 * emulators/ccid models behind the driver's USB binding): an ACR1252U with an
 * ISO 14443-4 card on its PICC interface and an ISO 7816 card in its SAM
 * slot, under APDU load over MQTT (one-shot transmits on both readers).
 */
import { sleep } from './common.js';
import type { Requester } from './mqtt-requester.js';

export const CCID_DRIVER_CONFIG = {
  enabled: true,
  emulate: [
    {
      profile: 'acr1252u',
      serialNumber: 'SOAK1252',
      cards: [
        { interface: 0, slot: 0, card: 'iso14443-4' },
        { interface: 1, slot: 0, card: 'iso7816' },
      ],
    },
  ],
};

/** The emulated readers' names contain the profile's product string. */
export const isCcidReader = (name: string): boolean => /ACR1252/i.test(name);

export async function runCcidLoad(running: () => boolean, requester: Requester, readers: () => string[]): Promise<void> {
  while (running()) {
    const names = readers();
    if (!names.length) await sleep(500);
    for (const name of names) requester.count('ccid-transmit', await requester.request('transmit', { reader: name, apdus: ['00A4040000', '0084000008'] }));
    await sleep(50);
  }
}
