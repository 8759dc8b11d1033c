/**
 * Reader profiles for the CCID emulator, in scardgate's own format: the USB
 * identity and, per CCID interface, the class descriptor values. Where a
 * profile's values come from libccid's published parse output of the real
 * reader (readers/ folder of the CCID project), `source` says so; the others
 * are written by hand for their class and say that instead.
 */
import type { CcidDescriptor } from '../../drivers/ccid/descriptor.js';
import { PROFILE_KEYS, type ProfileKey } from './profile-keys.js';

export interface InterfaceProfile {
  /** iInterface string (pcscd shows it in brackets). */
  name?: string;
  descriptor: CcidDescriptor;
  /** The interface has an interrupt-IN endpoint (NotifySlotChange). */
  interrupt: boolean;
  /** Contactless front end: cards are ISO 14443 / MIFARE, reached through PC/SC part 3 in firmware. */
  contactless?: boolean;
  /** Vendor escape dialect the firmware understands (LED / buzzer). */
  escape?: 'acr122u' | 'acr1252u';
  /** A PIN pad the firmware drives through PC_to_RDR_Secure (the descriptor's bPINSupport says which operations). */
  pinpad?: boolean;
  /** bInterfaceClass; 0x0B unless a vendor-class reader is modelled. */
  interfaceClass?: number;
}

export interface ReaderProfile {
  key: string;
  vendorId: number;
  productId: number;
  bcdDevice: number;
  manufacturer: string;
  product: string;
  serialNumber?: string;
  interfaces: InterfaceProfile[];
  source: string;
}

/** A descriptor with common values; each profile states what differs. */
export function descriptor(over: Partial<CcidDescriptor>): CcidDescriptor {
  return {
    descriptorType: 0x21,
    bcdCcid: 0x0110,
    maxSlotIndex: 0,
    voltageSupport: 0x07,
    protocols: 0x03,
    defaultClockKhz: 4000,
    maximumClockKhz: 4000,
    numClockSupported: 0,
    dataRate: 10752,
    maxDataRate: 250000,
    numDataRatesSupported: 0,
    maxIfsd: 254,
    synchProtocols: 0,
    mechanical: 0,
    features: 0x000204ba,
    maxMessageLength: 271,
    classGetResponse: 0x00,
    classEnvelope: 0x00,
    lcdLayout: 0,
    pinSupport: 0,
    maxBusySlots: 1,
    ...over,
  };
}

export const PROFILES: Record<ProfileKey, ReaderProfile> = {
  acr1252u: {
    key: 'acr1252u',
    vendorId: 0x072f,
    productId: 0x223b,
    bcdDevice: 0x0100,
    manufacturer: 'ACS',
    product: 'ACR1252 Dual Reader',
    interfaces: [
      {
        name: 'ACR1252 Dual Reader PICC',
        descriptor: descriptor({ bcdCcid: 0x0100, protocols: 0x02, features: 0x00040040, maxMessageLength: 522 }),
        interrupt: true,
        contactless: true,
        escape: 'acr1252u',
      },
      {
        name: 'ACR1252 Dual Reader SAM',
        descriptor: descriptor({ voltageSupport: 0x01, defaultClockKhz: 3420, maximumClockKhz: 3420, dataRate: 9193, maxDataRate: 213750, features: 0x000204ba, maxMessageLength: 288 }),
        interrupt: true,
      },
    ],
    source: 'descriptor values from libccid readers/ACS_ACR1252_Dual_Reader.txt (parse output of the real reader)',
  },
  acr122u: {
    key: 'acr122u',
    vendorId: 0x072f,
    productId: 0x2200,
    bcdDevice: 0x0206,
    manufacturer: 'ACS',
    product: 'ACR122U PICC Interface',
    interfaces: [
      {
        descriptor: descriptor({ bcdCcid: 0x0100, protocols: 0x02, features: 0x00020040, maxIfsd: 256, maxMessageLength: 271 }),
        interrupt: true,
        contactless: true,
        escape: 'acr122u',
      },
    ],
    source: 'descriptor values from libccid readers/ACR122U_PICC.txt (parse output of the real reader)',
  },
  'omnikey-class': {
    key: 'omnikey-class',
    vendorId: 0x076b,
    productId: 0x3031,
    bcdDevice: 0x0101,
    manufacturer: 'HID Global',
    product: 'OMNIKEY 3x21 Smart Card Reader',
    serialNumber: 'OKEMU0001',
    interfaces: [
      {
        name: 'OMNIKEY 3x21 Smart Card Reader',
        descriptor: descriptor({ defaultClockKhz: 4000, maximumClockKhz: 8000, maxDataRate: 500000, features: 0x000404ba, maxMessageLength: 271 }),
        interrupt: true,
      },
    ],
    source: 'hand-written for an OMNIKEY-class USB contact reader at extended APDU level (not read from a device); a 271-byte message limit so extended APDUs chain',
  },
  'gempc-twin': {
    key: 'gempc-twin',
    vendorId: 0x08e6,
    productId: 0x3437,
    bcdDevice: 0x0201,
    manufacturer: 'Gemalto',
    product: 'USB GemPC Twin',
    interfaces: [
      {
        descriptor: descriptor({ features: 0x00010230, maxDataRate: 344086, maxMessageLength: 271 }),
        interrupt: true,
      },
    ],
    source: "TPDU-level contact reader; dwFeatures, dwMaxIFSD, clock and data rates as libccid's built-in GemPC Twin descriptor (docs/ccid.md §2.3)",
  },
  'ezio-pinpad': {
    key: 'ezio-pinpad',
    vendorId: 0x08e6,
    productId: 0x34c2,
    bcdDevice: 0x0102,
    manufacturer: 'Gemalto',
    product: 'Ezio Shield',
    serialNumber: 'EZIOEMU1',
    interfaces: [
      {
        descriptor: descriptor({ voltageSupport: 0x03, maxDataRate: 500000, features: 0x000404b2, maxMessageLength: 271, lcdLayout: 0x0211, pinSupport: 0x03 }),
        interrupt: true,
        pinpad: true,
      },
    ],
    source: 'descriptor values from libccid readers/Gemalto_Ezio_Shield_PinPad.txt (parse output of the real reader: extended APDU level, 2x17 display, verify and modify on the pad)',
  },
  'cherry-st-xx44': {
    key: 'cherry-st-xx44',
    vendorId: 0x046a,
    productId: 0x00a7,
    bcdDevice: 0x0103,
    manufacturer: 'Cherry',
    product: 'SmartTerminal XX44',
    interfaces: [
      {
        name: 'Cherry Smart Terminal XX44',
        descriptor: descriptor({
          defaultClockKhz: 4800,
          maximumClockKhz: 8000,
          maxDataRate: 412903,
          synchProtocols: 0x07,
          features: 0x000207b8,
          classGetResponse: 0xff,
          classEnvelope: 0xff,
          pinSupport: 0x03,
        }),
        interrupt: true,
      },
    ],
    source:
      'descriptor values from libccid readers/Cherry_SmartTerminal_XX44.txt (parse output of the real reader; its clock and data-rate lists left out): it claims bPINSupport 03 but has no PIN pad, which the quirk table records',
  },
  'two-slot': {
    key: 'two-slot',
    vendorId: 0x1d50,
    productId: 0x60c2,
    bcdDevice: 0x0100,
    manufacturer: 'scardgate',
    product: 'Emulated Two-Slot Reader',
    serialNumber: 'EMU2SLOT',
    interfaces: [
      {
        descriptor: descriptor({ maxSlotIndex: 1, features: 0x000204ba, maxMessageLength: 271, maxBusySlots: 1 }),
        interrupt: false,
      },
    ],
    source: 'hand-written: a two-slot short-APDU reader without interrupt endpoint (GetSlotStatus polling), for multi-slot and polling tests',
  },
};

export { PROFILE_KEYS } from './profile-keys.js';

/** The profile named `key`, or undefined for a name that is none (from a configuration, a command line). */
export function findProfile(key: string): ReaderProfile | undefined {
  return Object.hasOwn(PROFILES, key) ? PROFILES[key as ProfileKey] : undefined;
}

export function profile(key: string): ReaderProfile {
  const p = findProfile(key);
  if (!p) throw new Error(`unknown CCID reader profile ${JSON.stringify(key)}; known: ${PROFILE_KEYS.join(', ')}`);
  return p;
}
