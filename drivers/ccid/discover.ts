/**
 * What a technician sees before adding a CCID reader (the web UI's guided
 * set-up): the CCID devices on the USB bus as this driver would take them
 * (which interfaces become readers, at which exchange level, and why an
 * interface is skipped), the emulated readers drivers.ccid.emulate
 * configures, and the emulator's profiles. Read-only: nothing is opened.
 */
import type { UsbDeviceInfo } from './binding.js';
import type { CcidConfigT } from './config.js';
import { exchangeLevel, supportedVoltages, type CcidDescriptor } from './descriptor.js';
import { ccidInterfaces } from './index.js';

export interface CcidInterfaceSummary {
  number: number;
  /** iInterface (pcscd shows it in brackets in the reader name). */
  name?: string;
  level: string;
  slots: number;
  protocols: string[];
  voltages: string[];
  maxMessageLength: number;
  /** dwFeatures, hex (docs/ccid.md §2.2). */
  features: string;
  interrupt: boolean;
}

export interface CcidDeviceSummary {
  /** The binding's device id (stable while plugged). */
  id: string;
  /** Set for a device of the emulated bus: its drivers.ccid.emulate entry. */
  emulated?: { index: number; profile: string };
  bus: number;
  address: number;
  vendorId: string;
  productId: string;
  manufacturer?: string;
  product?: string;
  serialNumber?: string;
  /** bcdDevice as libccid prints it (major.minor). */
  firmware: string;
  interfaces: CcidInterfaceSummary[];
  /** Interfaces that look like CCID but that the driver will not use, and why. */
  skipped: string[];
}

const hex4 = (n: number): string => n.toString(16).padStart(4, '0');
const VOLTS = ['5 V', '3 V', '1.8 V'];

export const bcdFirmware = (bcd: number): string => `${(bcd >> 8).toString(16)}.${(bcd & 0xff).toString(16).padStart(2, '0')}`;

export function interfaceSummary(number: number, name: string | undefined, d: CcidDescriptor, interrupt: boolean): CcidInterfaceSummary {
  return {
    number,
    name,
    level: exchangeLevel(d),
    slots: d.maxSlotIndex + 1,
    protocols: [d.protocols & 1 ? 'T=0' : '', d.protocols & 2 ? 'T=1' : ''].filter(Boolean),
    voltages: supportedVoltages(d).map((v) => VOLTS[v - 1] ?? `code ${v}`),
    maxMessageLength: d.maxMessageLength,
    features: d.features.toString(16).padStart(8, '0'),
    interrupt,
  };
}

/** A device as the driver would take it; undefined when it has no CCID-looking interface at all. */
export function summarize(info: UsbDeviceInfo): CcidDeviceSummary | undefined {
  const { ok, skipped } = ccidInterfaces(info);
  if (ok.length === 0 && skipped.length === 0) return undefined;
  return {
    id: info.id,
    bus: info.busNumber,
    address: info.deviceAddress,
    vendorId: hex4(info.vendorId),
    productId: hex4(info.productId),
    manufacturer: info.manufacturer,
    product: info.product,
    serialNumber: info.serialNumber,
    firmware: bcdFirmware(info.bcdDevice),
    interfaces: ok.map((c) => interfaceSummary(c.iface.number, c.iface.name, c.descriptor, c.interrupt !== undefined)),
    skipped,
  };
}

/** CCID devices on the real USB bus, through the driver's libusb binding (which says how to fix a missing library or bus). */
export async function usbCcidDevices(): Promise<CcidDeviceSummary[]> {
  const { createUsbBinding } = await import('./usb-binding.js');
  const binding = await createUsbBinding();
  try {
    return (await binding.list()).map(summarize).filter((d): d is CcidDeviceSummary => d !== undefined);
  } finally {
    await binding.close?.();
  }
}

/** The devices drivers.ccid.emulate puts on the emulated bus, described without starting them. */
export async function emulatedCcidDevices(entries: CcidConfigT['emulate']): Promise<CcidDeviceSummary[]> {
  const { EmulatedCcidDevice } = await import('../../emulators/ccid/device.js');
  return entries.flatMap((e, index) => {
    const d = summarize(new EmulatedCcidDevice(e.profile, { level: e.level, interrupt: e.interrupt, serialNumber: e.serialNumber }).info);
    return d ? [{ ...d, emulated: { index, profile: e.profile } }] : [];
  });
}

/** The emulator's reader profiles a technician can add (drivers.ccid.emulate[].profile). */
export async function emulatorProfiles(): Promise<Array<{ key: string; manufacturer: string; product: string; contactless: boolean; interfaces: CcidInterfaceSummary[] }>> {
  const { PROFILES, PROFILE_KEYS } = await import('../../emulators/ccid/profiles.js');
  return PROFILE_KEYS.map((key) => {
    const p = PROFILES[key];
    return {
      key,
      manufacturer: p.manufacturer,
      product: p.product,
      contactless: p.interfaces.some((i) => i.contactless === true),
      interfaces: p.interfaces.map((i, n) => interfaceSummary(n, i.name, i.descriptor, i.interrupt)),
    };
  });
}
