/**
 * Emulated USB CCID readers hosted by the daemon (drivers.ccid.emulate, the
 * emulators/ccid models behind the driver's USB binding): an ACR1252U with an
 * ISO 14443-4 card on its PICC interface and an ISO 7816 card in its SAM
 * slot, under APDU load over MQTT (one-shot transmits on both readers); every
 * 3 s the contactless card leaves the PICC field and a new one is tapped
 * (simulate/remove + simulate/insert over MQTT: the emulated slot's card
 * changes, the driver sees it through the CCID slot status like a real one).
 */
import { inc, sleep, type Tally } from './common.js';
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

export interface CcidFigures {
  taps: number;
}

export async function runCcidLoad(running: () => boolean, requester: Requester, readers: () => string[], tally: Tally, f: CcidFigures): Promise<void> {
  let n = 0;
  let tapAt = performance.now() + 3000;
  while (running()) {
    const names = readers();
    if (!names.length) await sleep(500);
    for (const name of names) requester.count('ccid-transmit', await requester.request('transmit', { reader: name, apdus: ['00A4040000', '0084000008'] }));
    const picc = names.find((x) => /PICC/.test(x));
    if (picc && performance.now() >= tapAt) {
      tapAt = performance.now() + 3000;
      const uid = `08${(0x100000 + (n++ % 0xeffff)).toString(16).toUpperCase()}C0C1D2`;
      const out = await requester.request('simulate/remove', { reader: picc });
      await sleep(200);
      const r = await requester.request('simulate/insert', { reader: picc, card: { type: 'iso14443-4', uid } });
      if (out.status === 'ok' && r.status === 'ok') f.taps++;
      else inc(tally.errors, `ccid-tap ${(out.status === 'ok' ? r : out).error?.name ?? 'error'}`);
    }
    await sleep(50);
  }
}
