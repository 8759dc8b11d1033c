/**
 * An emulated PN532 on HSU under soak: the strict emulator (emulators/pn532)
 * on one end of a socat pty pair, in this process; the daemon's pn532 driver
 * opens the other end through serialport. On a schedule: an ISO 14443-4 card
 * is tapped and APDUs go to it over MQTT while it is in the field, then an
 * NTAG213 or a MIFARE Classic 1K is tapped; each card is taken away again.
 * Faults: the line corrupts bytes both ways (the emulator's multi-byte
 * damage, dropped bytes, stray bytes) for some seconds; the serial adapter is
 * unplugged (the pty pair goes away) and plugged back in on the same path.
 */
import { join } from 'node:path';
import { Pn532Chip } from '../../emulators/pn532/chip.js';
import { fieldCardOf } from '../../emulators/pn532/field.js';
import { HsuAttachment, startPtyPair, type PtyPair } from '../../emulators/pn532/hsu.js';
import { sleep } from './common.js';
import type { Requester } from './mqtt-requester.js';

export const PN532_NAME = 'Soak PN532';

export interface Pn532Figures {
  taps: number;
  iso14443Taps: number;
  tagTaps: number;
  /** Taps of the ISO 14443-4 card the driver did not report inserted within 3 s (daemon down, line corrupted...). */
  isoTapsNotSeenIn3s: number;
  corruptionFaults: number;
  unplugs: number;
  chipFaultsInjected: number;
  chipBadFramesIn: number;
}

export interface Pn532Load {
  /** drivers.pn532 for the daemon's config. */
  driverConfig: Record<string, unknown>;
  figures: Pn532Figures;
  run(ctx: { running: () => boolean; requester: Requester; readerName: () => string | undefined; present: (reader: string) => boolean }): Promise<void>;
  /** The serial-corruption fault: every frame damaged with probability `rate` for `ms`. */
  corrupt(ms: number, rate?: number): Promise<void>;
  /** The USB-serial adapter unplugged for `ms` and plugged back in (the module stays powered). */
  unplug(ms: number): Promise<void>;
  close(): Promise<void>;
}

export async function startPn532(dir: string): Promise<Pn532Load> {
  const at = { host: join(dir, 'pn532'), device: join(dir, 'pn532.emulator') };
  let pty: PtyPair = await startPtyPair(at);
  const chip = new Pn532Chip('hsu', { seed: 16 });
  let hsu = new HsuAttachment(chip, pty.device, { pace: false });
  await hsu.open();
  const f: Pn532Figures = { taps: 0, iso14443Taps: 0, tagTaps: 0, isoTapsNotSeenIn3s: 0, corruptionFaults: 0, unplugs: 0, chipFaultsInjected: 0, chipBadFramesIn: 0 };
  let n = 0;
  const uid = (prefix: string): string => `${prefix}${(0x100000 + (n++ % 0xeffff)).toString(16).toUpperCase()}5A6B7C`;
  // socat keeps the pair across the driver's close and reopen (daemon killed); if it went away, make it again on the same links
  let unplugged = false;
  const keepLine = async (): Promise<void> => {
    if (unplugged || (pty.proc.exitCode === null && pty.proc.signalCode === null)) return;
    await hsu.close().catch(() => undefined);
    pty = await startPtyPair(at);
    hsu = new HsuAttachment(chip, pty.device, { pace: false });
    await hsu.open();
  };
  return {
    driverConfig: {
      readers: [{ name: PN532_NAME, transport: { type: 'hsu', path: at.host, baudRate: 115200, maxBaudRate: 115200 }, pollIntervalMs: 100, removalCheckMs: 150 }],
    },
    figures: f,
    async run({ running, requester, readerName, present }) {
      let tag = 0;
      while (running()) {
        await keepLine().catch(() => undefined);
        const name = readerName();
        chip.tap(fieldCardOf({ type: 'iso14443-4', uid: uid('08') }));
        f.taps++;
        f.iso14443Taps++;
        const seenBy = performance.now() + 3000;
        while (running() && !(name && present(name)) && performance.now() < seenBy) await sleep(50);
        if (name && present(name)) {
          const until = performance.now() + 2000;
          while (running() && performance.now() < until) {
            requester.count('pn532-transmit', await requester.request('transmit', { reader: name, apdus: ['00A4040000', '0084000008'] }));
            await sleep(100);
          }
        } else {
          f.isoTapsNotSeenIn3s++;
          await sleep(500);
        }
        chip.remove();
        await sleep(600);
        chip.tap(fieldCardOf(tag++ % 2 ? { type: 'ntag213', uid: uid('04') } : { type: 'mifare-classic-1k', uid: uid('').slice(0, 8) }));
        f.taps++;
        f.tagTaps++;
        await sleep(1000);
        chip.remove();
        await sleep(600);
      }
      chip.remove();
    },
    async corrupt(ms, rate = 0.3) {
      f.corruptionFaults++;
      chip.faultRate = rate;
      await sleep(ms);
      chip.faultRate = 0;
    },
    async unplug(ms) {
      f.unplugs++;
      unplugged = true;
      await hsu.close().catch(() => undefined);
      await pty.stop();
      await sleep(ms);
      pty = await startPtyPair(at);
      hsu = new HsuAttachment(chip, pty.device, { pace: false });
      await hsu.open();
      unplugged = false;
    },
    async close() {
      f.chipFaultsInjected = chip.counters.faultsInjected;
      f.chipBadFramesIn = chip.counters.badFramesIn;
      await hsu.close().catch(() => undefined);
      await pty.stop().catch(() => undefined);
    },
  };
}
