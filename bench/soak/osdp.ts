/**
 * An emulated OSDP reader (PD, emulators/osdp) under soak, in this process on
 * one end of a socat pty pair; the daemon's osdp driver (control panel) polls
 * it on the other end over the Secure Channel (SCBK set on both sides, the PD
 * refuses plain commands). Cards are tapped on a schedule in Wiegand 26 and
 * raw-UID formats; each read is a card present for cardHoldMs. Fault: the
 * RS-485 adapter unplugged (the pty pair goes away) and plugged back in on
 * the same path, the reader powered again (a fresh PD, same key).
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
  /** Taps while the line was unplugged (no reader to read them). */
  tapsWhileUnplugged: number;
  unplugs: number;
}

export interface OsdpLoad {
  driverConfig: Record<string, unknown>;
  figures: OsdpFigures;
  run(running: () => boolean): Promise<void>;
  /** The adapter unplugged for `ms`, then plugged back in. */
  unplug(ms: number): Promise<void>;
  close(): Promise<void>;
}

export async function startOsdp(dir: string): Promise<OsdpLoad> {
  const scbk = randomBytes(16);
  const at = { host: join(dir, 'osdp-cp'), device: join(dir, 'osdp-pd') };
  let pty: PtyPair = await startPtyPair(at);
  let link: ByteLink = await openSerialLink(pty.device, 115200);
  const newPd = (): EmulatedPd => new EmulatedPd(link, { address: 1, scbk, installMode: false, enforceSecure: true });
  let pd: EmulatedPd | undefined = newPd();
  const f: OsdpFigures = { taps: 0, tapsRefused: 0, tapsWhileUnplugged: 0, unplugs: 0 };
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
          if (!pd) f.tapsWhileUnplugged++;
          else pd.tap(Buffer.from([0x10, (i >> 8) & 0xff, i & 0xff, 0x2a]), i % 2 ? 'uid' : 'wiegand26');
          if (pd) f.taps++;
        } catch {
          f.tapsRefused++;
        }
        i++;
        await sleep(1500);
      }
    },
    async unplug(ms) {
      f.unplugs++;
      pd = undefined;
      await link.close().catch(() => undefined);
      await pty.stop();
      await sleep(ms);
      pty = await startPtyPair(at);
      link = await openSerialLink(pty.device, 115200);
      pd = newPd();
    },
    async close() {
      await link.close().catch(() => undefined);
      await pty.stop().catch(() => undefined);
    },
  };
}
