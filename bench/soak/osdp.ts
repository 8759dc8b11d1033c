/**
 * An emulated OSDP reader (PD, emulators/osdp) under soak, in this process on
 * one end of a socat pty pair; the daemon's osdp driver (control panel) polls
 * it on the other end over the Secure Channel (SCBK set on both sides, the PD
 * refuses plain commands). Cards are tapped on a schedule in Wiegand 26 and
 * raw-UID formats; each read is a card present for cardHoldMs.
 */
import { randomBytes } from 'node:crypto';
import { join } from 'node:path';
import { EmulatedPd } from '../../emulators/osdp/pd.js';
import { startPtyPair, type PtyPair } from '../../emulators/pn532/hsu.js';
import { openSerialLink, type ByteLink } from '../../src/osdp/link.js';
import { sleep } from './common.js';

export const OSDP_NAME = 'Soak OSDP';

export interface OsdpFigures {
  taps: number;
  tapsRefused: number;
}

export interface OsdpLoad {
  driverConfig: Record<string, unknown>;
  figures: OsdpFigures;
  run(running: () => boolean): Promise<void>;
  close(): Promise<void>;
}

export async function startOsdp(dir: string): Promise<OsdpLoad> {
  const scbk = randomBytes(16);
  const pty: PtyPair = await startPtyPair({ host: join(dir, 'osdp-cp'), device: join(dir, 'osdp-pd') });
  const link: ByteLink = await openSerialLink(pty.device, 115200);
  const pd = new EmulatedPd(link, { address: 1, scbk, installMode: false, enforceSecure: true });
  const f: OsdpFigures = { taps: 0, tapsRefused: 0 };
  return {
    driverConfig: {
      buses: [
        {
          path: pty.host,
          baudRate: 115200,
          pollIntervalMs: 20,
          offlineAfterMs: 3000,
          reconnectMs: 200,
          readers: [{ address: 1, name: OSDP_NAME, secure: true, scbk: scbk.toString('hex'), cardHoldMs: 400 }],
        },
      ],
    },
    figures: f,
    async run(running) {
      let i = 0;
      while (running()) {
        try {
          pd.tap(Buffer.from([0x10, (i >> 8) & 0xff, i & 0xff, 0x2a]), i % 2 ? 'uid' : 'wiegand26');
          f.taps++;
        } catch {
          f.tapsRefused++;
        }
        i++;
        await sleep(1500);
      }
    },
    async close() {
      await link.close().catch(() => undefined);
      await pty.stop().catch(() => undefined);
    },
  };
}
