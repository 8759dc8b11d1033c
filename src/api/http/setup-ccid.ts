/**
 * The CCID part of the guided set-up. A CCID reader is either real (any USB
 * CCID device: drivers.ccid.enabled takes every one on the bus, so "adding"
 * one turns that on) or emulated (an entry of drivers.ccid.emulate that the
 * daemon hosts on its emulated USB bus). A probe starts the CCID driver on
 * its own with only the candidate: the device as the driver takes it
 * (interfaces, exchange level, descriptor facts), the PC/SC names pcscd would
 * give its slots, firmware, and a test tap (a real card, or a card inserted
 * on the emulated one).
 */
import type { Config } from '../../config/schema.js';
import type { DriverReader } from '../../driver/contract.js';
import { InstanceAllocator, readerName } from '../../core/reader-names.js';
import type { CcidDeviceSummary } from '../../../drivers/ccid/discover.js';
import { HttpError } from './errors.js';
import type { HttpDeps } from './deps.js';

/** A real device is named by its USB id ({ usbId }); anything else is an emulate entry. */
export function usbCandidate(reader: Record<string, unknown>): string | undefined {
  if (!('usbId' in reader)) return undefined;
  const extra = Object.keys(reader).filter((k) => k !== 'usbId');
  if (typeof reader.usbId !== 'string' || reader.usbId.length === 0 || reader.usbId.length > 100) throw new HttpError(400, 'reader.usbId: expected the USB id of a detected CCID device (a string)');
  if (extra.length) throw new HttpError(400, `reader: a USB CCID reader takes only usbId (unexpected: ${extra.join(', ')})`);
  return reader.usbId;
}

/** The running configuration with the CCID driver on real USB only (a probe of a real device). */
export function realCcidConfig(config: Config): Config {
  const c = structuredClone(config);
  c.drivers.ccid = { ...c.drivers.ccid, enabled: true, emulate: [] };
  return c;
}

/** Refuse a probe of real USB while the running driver holds every device. */
export function checkRealFree(config: Config): void {
  if (config.drivers.ccid.enabled && config.drivers.ccid.emulate.length === 0) {
    throw new HttpError(409, 'the running CCID driver already takes every USB CCID reader (drivers.ccid.enabled): see it in the Readers view');
  }
}

export async function findUsbDevice(usbId: string): Promise<CcidDeviceSummary> {
  const { usbCcidDevices } = await import('../../../drivers/ccid/discover.js');
  const d = (await usbCcidDevices()).find((x) => x.id === usbId);
  if (!d) throw new HttpError(404, `no USB CCID device ${usbId} on the bus (unplugged? reload the list)`);
  return d;
}

export async function describeEmulated(entry: Record<string, unknown>): Promise<CcidDeviceSummary> {
  const { emulatedCcidDevices } = await import('../../../drivers/ccid/discover.js');
  const [d] = await emulatedCcidDevices([entry as unknown as Config['drivers']['ccid']['emulate'][number]]);
  return d;
}

/** Display name of an emulate entry (what pcscd would show before the interface and slot). */
export async function emulatedLabel(entry: Record<string, unknown>): Promise<string | null> {
  const { PROFILES } = await import('../../../emulators/ccid/profiles.js');
  const p = typeof entry.profile === 'string' ? PROFILES[entry.profile] : undefined;
  if (!p) return null;
  return `${p.manufacturer} ${p.product}${typeof entry.serialNumber === 'string' ? ` (${entry.serialNumber})` : ''}`;
}

/**
 * PC/SC names of the probed readers' slots as the core would give them once
 * the reader runs: instance numbers after the CCID readers already running.
 */
export function pcscNames(deps: HttpDeps, readers: DriverReader[]): string[] {
  const alloc = new InstanceAllocator();
  for (const r of deps.api.core.readers()) {
    const rr = / ([0-9A-F]{2}) [0-9A-F]{2}$/.exec(r.name);
    if (r.driver === 'ccid' && rr && r.name.endsWith(' 00')) alloc.take('ccid', Number.parseInt(rr[1], 16));
  }
  return readers.flatMap((r) => {
    const n = alloc.take('ccid');
    return r.slots.map((_, i) => readerName({ friendlyName: r.friendlyName, interfaceName: r.interfaceName, serial: r.serial }, n, i));
  });
}

/** The slot a test card goes in: the first contactless interface's first slot, else the first slot. */
export function testSlot(readers: DriverReader[]): DriverReader['slots'][number] | undefined {
  const contactless = readers.find((r) => r.slots.some((s) => s.cardInfo()?.contactless) || /PICC|contactless/i.test(r.interfaceName ?? r.friendlyName));
  return (contactless ?? readers[0])?.slots[0];
}
