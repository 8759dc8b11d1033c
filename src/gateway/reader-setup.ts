/**
 * Guided reader set-up, the part that touches hardware and drivers: what the
 * board offers (serial ports, I2C buses, USB CCID devices as the CCID driver
 * takes them), the emulated CCID readers running and the emulator's profiles
 * (operation `setup/devices`), and a live probe of a candidate reader
 * (`setup/probe`): its driver started on its own for a moment with only the
 * candidate in its configuration, firmware, PC/SC names and descriptor facts
 * for CCID, then optionally a test tap. Which drivers take readers, and how a
 * candidate is validated, are plain functions (src/gateway/reader-schema.ts)
 * the frontends use to edit the configuration file (saved through `config/apply`).
 *
 * A CCID reader is real (`{ usbId }`: drivers.ccid.enabled takes every CCID
 * device on the bus, so adding one turns that on) or emulated (an entry of
 * drivers.ccid.emulate, hosted by the daemon on its emulated USB bus).
 */
import type { TSchema } from '@sinclair/typebox';
import type { Logger } from 'pino';
import type { Config } from '../config/schema.js';
import type { ScardCore } from '../core/api.js';
import { InstanceAllocator, readerName } from '../core/reader-names.js';
import type { Driver, DriverContext, DriverReader } from '../driver/contract.js';
import { SCARD } from '../pcsc/constants.js';
import { PcscError } from '../pcsc/error.js';
import type { CcidDeviceSummary } from '../../drivers/ccid/discover.js';
import { boardDevices, type BoardDevices } from './board.js';
import { invalid } from './errors.js';

/** How long a probe waits for the reader to answer (a PN532 wakes within a second; a port retry is slower). */
export const PROBE_ATTACH_MS = 8000;

/** A real CCID device is named by its USB id ({ usbId }); anything else is an emulate entry. */
export function usbCandidate(reader: Record<string, unknown>): string | undefined {
  if (!('usbId' in reader)) return undefined;
  const extra = Object.keys(reader).filter((k) => k !== 'usbId');
  if (typeof reader.usbId !== 'string' || reader.usbId.length === 0 || reader.usbId.length > 100) throw invalid('reader.usbId: expected the USB id of a detected CCID device (a string)');
  if (extra.length) throw invalid(`reader: a USB CCID reader takes only usbId (unexpected: ${extra.join(', ')})`);
  return reader.usbId;
}

/** Display name of an emulate entry (what pcscd shows before the interface and slot). */
export async function emulatedLabel(entry: Record<string, unknown>): Promise<string | null> {
  const { findProfile } = await import('../../emulators/ccid/profiles.js');
  const p = typeof entry.profile === 'string' ? findProfile(entry.profile) : undefined;
  if (!p) return null;
  return `${p.manufacturer} ${p.product}${typeof entry.serialNumber === 'string' ? ` (${entry.serialNumber})` : ''}`;
}

/** Same device twice would fight over the port: a probe of what a configured reader uses is refused. */
function transportKey(reader: Record<string, unknown>): string {
  const t = reader.transport as Record<string, unknown> | undefined;
  return JSON.stringify(t ? { type: t.type, path: t.path, bus: t.bus, address: t.address } : reader);
}

export interface SetupDevices {
  devices: BoardDevices;
  drivers: Array<{ name: string; listKey: string; readerSchema: TSchema }>;
  ccid: { emulated: CcidDeviceSummary[]; profiles: Awaited<ReturnType<typeof import('../../drivers/ccid/discover.js').emulatorProfiles>> };
}

export interface ProbeAnswer {
  ok: boolean;
  ms: number;
  error?: string;
  diagnostics?: Record<string, unknown>;
  friendlyName?: string;
  firmware?: string | null;
  /** CCID: the PC/SC names of the candidate's slots, instance numbers after the CCID readers running. */
  names?: string[];
  device?: Record<string, unknown>;
  tap?: { uid: string | null; type: string | null; at: string } | null;
  tapMessage?: string;
}

export interface ReaderSetupOptions {
  /** The configuration in effect now. */
  config: () => Config;
  core: ScardCore;
  log: Logger;
  /** Build a driver from a configuration (the daemon's registry); without it probes are refused. */
  createDriver?: (name: string, config: Config, ctx: DriverContext) => Promise<Driver>;
}

type Slot = DriverReader['slots'][number];

export class ReaderSetup {
  constructor(private readonly o: ReaderSetupOptions) {}

  async devices(): Promise<SetupDevices> {
    const { emulatedCcidDevices, emulatorProfiles } = await import('../../drivers/ccid/discover.js');
    const { readerDrivers } = await import('./reader-schema.js');
    return {
      devices: await boardDevices(),
      drivers: readerDrivers(),
      ccid: { emulated: await emulatedCcidDevices(this.o.config().drivers.ccid.emulate), profiles: await emulatorProfiles() },
    };
  }

  async probe(p: { driver: string; reader: Record<string, unknown>; tapWaitMs?: number; testCard?: unknown }): Promise<ProbeAnswer> {
    const { driver, testCard } = p;
    const { checkCandidate, knownDriver, readersOf } = await import('./reader-schema.js');
    knownDriver(driver);
    const running = this.o.config();
    let config: Config;
    let device: Record<string, unknown> | undefined;
    /** Which of the probe driver's readers are the candidate (a real CCID probe sees the whole bus). */
    let mine = (_r: DriverReader): boolean => true;
    const usbId = driver === 'ccid' ? usbCandidate(p.reader) : undefined;
    if (testCard !== undefined && (driver !== 'ccid' || usbId !== undefined)) {
      throw invalid('testCard: only an emulated reader takes a test card; hold a real card on a real reader');
    }
    const discover = await import('../../drivers/ccid/discover.js');
    if (usbId !== undefined) {
      if (running.drivers.ccid.enabled && running.drivers.ccid.emulate.length === 0) {
        throw new PcscError(SCARD.E_SHARING_VIOLATION, 'the running CCID driver already takes every USB CCID reader (drivers.ccid.enabled): see it in the Readers view');
      }
      const found = (await discover.usbCcidDevices()).find((x) => x.id === usbId);
      if (!found) throw new PcscError(SCARD.E_UNKNOWN_READER, `no USB CCID device ${usbId} on the bus (unplugged? list the devices again)`);
      device = { ...found };
      config = structuredClone(running);
      config.drivers.ccid = { ...config.drivers.ccid, enabled: true, emulate: [] };
      mine = (r) => r.id.startsWith(`${usbId}:`);
    } else {
      const v = checkCandidate(running, driver, p.reader);
      config = v.config;
      if (driver === 'ccid') {
        const [d] = await discover.emulatedCcidDevices([v.reader as unknown as Config['drivers']['ccid']['emulate'][number]]);
        device = { ...d };
        delete device.emulated;
      } else {
        const key = transportKey(v.reader);
        if (readersOf(running, driver).some((r) => transportKey(r) === key)) {
          throw new PcscError(SCARD.E_SHARING_VIOLATION, 'a configured reader already uses this device: remove it first, or test it from the Readers view');
        }
      }
    }
    if (!this.o.createDriver) throw new PcscError(SCARD.E_UNSUPPORTED_FEATURE, 'this gateway cannot start a driver for a probe');
    const tapWaitMs = p.tapWaitMs ?? (testCard !== undefined ? 5000 : 0);
    const drv = await this.o.createDriver(driver, config, { log: this.o.log.child({ module: 'setup-probe', driver }) });
    return this.run(drv, driver, mine, device, tapWaitMs, testCard);
  }

  private async run(drv: Driver, driver: string, mine: (r: DriverReader) => boolean, device: Record<string, unknown> | undefined, tapWaitMs: number, testCard: unknown): Promise<ProbeAnswer> {
    const t0 = Date.now();
    const found: DriverReader[] = [];
    const attached = new Promise<boolean>((resolve) => {
      const timer = setTimeout(() => resolve(false), PROBE_ATTACH_MS);
      const onAdded = (r: DriverReader): void => {
        if (!mine(r)) return;
        found.push(r);
        if (found.length > 1) return;
        clearTimeout(timer);
        // A composite device announces its interfaces one after the other, in the same turn.
        setImmediate(() => {
          drv.off('reader-added', onAdded);
          resolve(true);
        });
      };
      drv.on('reader-added', onAdded);
    });
    try {
      await drv.start();
      const diag = (drv.diagnostics?.() ?? {}) as Record<string, unknown>;
      if (!(await attached)) {
        const lastError = JSON.stringify(diag).match(/"lastError":"([^"]+)"/)?.[1];
        return { ok: false, ms: Date.now() - t0, error: `no answer from the reader within ${PROBE_ATTACH_MS / 1000} s${lastError ? `: ${lastError}` : ''}`, diagnostics: diag };
      }
      const first = found[0];
      const info = first.diagnostics?.() ?? {};
      const out: ProbeAnswer = { ok: true, ms: Date.now() - t0, friendlyName: first.friendlyName, firmware: typeof info.firmware === 'string' ? info.firmware : null };
      if (driver === 'ccid') {
        out.names = this.pcscNames(found);
        out.device = device;
      }
      if (tapWaitMs > 0) {
        const tap = await this.tap(found, tapWaitMs, testCard);
        if (tap && 'error' in tap) throw invalid(tap.error);
        out.tap = tap;
        if (!tap) out.tapMessage = `no card seen within ${Math.round(tapWaitMs / 1000)} s`;
      }
      return out;
    } finally {
      await drv.stop().catch((err: unknown) => this.o.log.warn({ err }, 'probe: driver stop failed'));
    }
  }

  /** The first card seen on any slot of the candidate within `ms`; a test card goes on the emulator first. */
  private tap(readers: DriverReader[], ms: number, testCard: unknown): Promise<ProbeAnswer['tap'] | { error: string }> {
    const slots = readers.flatMap((r) => r.slots);
    return new Promise((resolve) => {
      const done = (v: ProbeAnswer['tap'] | { error: string }): void => {
        clearTimeout(timer);
        for (const s of slots) s.off('presence', onPresence);
        resolve(v);
      };
      const timer = setTimeout(() => done(null), ms);
      const seen = (slot: Slot): void => {
        const c = slot.cardInfo();
        done({ uid: c?.uid?.toString('hex').toUpperCase() ?? null, type: c?.type ?? null, at: new Date().toISOString() });
      };
      const onPresence = function (this: Slot, present: boolean): void {
        if (present) seen(this);
      };
      const already = slots.find((s) => s.isCardPresent());
      if (already) return seen(already);
      for (const s of slots) s.on('presence', onPresence);
      if (testCard !== undefined) {
        const slot = testSlot(readers);
        if (!slot?.simulate) return done({ error: 'this emulated reader takes no test card' });
        slot.simulate.insert(testCard).catch((e: unknown) => done({ error: `test card refused: ${(e as Error).message}` }));
      }
    });
  }

  /** PC/SC names of the candidate's slots as the core will give them: instance numbers after the CCID readers running. */
  private pcscNames(readers: DriverReader[]): string[] {
    const alloc = new InstanceAllocator();
    for (const r of this.o.core.readers()) {
      const rr = / ([0-9A-F]{2}) 00$/.exec(r.name);
      if (r.driver === 'ccid' && rr) alloc.take('ccid', Number.parseInt(rr[1], 16));
    }
    return readers.flatMap((r) => {
      const n = alloc.take('ccid');
      return r.slots.map((_, i) => readerName({ friendlyName: r.friendlyName, interfaceName: r.interfaceName, serial: r.serial }, n, i));
    });
  }
}

/** The slot a test card goes in: the first contactless interface's first slot, else the first slot. */
function testSlot(readers: DriverReader[]): Slot | undefined {
  const contactless = readers.find((r) => /PICC|contactless/i.test(r.interfaceName ?? r.friendlyName));
  return (contactless ?? readers[0])?.slots[0];
}
