/**
 * The CCID class descriptor (54 bytes, type 0x21) as a typed object, and the
 * facts the driver derives from it (docs/ccid.md §2). One pure parser; the
 * encoder exists for the emulator and for round-trip tests.
 */

export const CCID_DESCRIPTOR_LENGTH = 54;
export const CCID_DESCRIPTOR_TYPE = 0x21;

export type CcidExchangeLevel = 'character' | 'tpdu' | 'short-apdu' | 'extended-apdu';

/** dwFeatures bits (docs/ccid.md §2.2). */
export const FEATURE_BITS = {
  AUTO_CONFIG_ATR: 0x00000002,
  AUTO_ACTIVATION: 0x00000004,
  AUTO_VOLTAGE: 0x00000008,
  AUTO_CLOCK: 0x00000010,
  AUTO_BAUD: 0x00000020,
  AUTO_PARAMETER_NEGOTIATION: 0x00000040,
  AUTO_PPS: 0x00000080,
  CLOCK_STOP: 0x00000100,
  NAD_OTHER_THAN_00: 0x00000200,
  AUTO_IFSD: 0x00000400,
  ICCD_TOKEN: 0x00000800,
  LEVEL_MASK: 0x00070000,
  LEVEL_TPDU: 0x00010000,
  LEVEL_SHORT_APDU: 0x00020000,
  LEVEL_EXTENDED_APDU: 0x00040000,
  USB_WAKEUP: 0x00100000,
} as const;

export interface CcidDescriptor {
  /** 0x21, or 0xFF for readers that mark it proprietary. */
  descriptorType: number;
  /** BCD, e.g. 0x0110. */
  bcdCcid: number;
  maxSlotIndex: number;
  /** b0 5 V, b1 3 V, b2 1.8 V. */
  voltageSupport: number;
  /** b0 T=0, b1 T=1. */
  protocols: number;
  defaultClockKhz: number;
  maximumClockKhz: number;
  numClockSupported: number;
  dataRate: number;
  maxDataRate: number;
  numDataRatesSupported: number;
  maxIfsd: number;
  synchProtocols: number;
  mechanical: number;
  features: number;
  maxMessageLength: number;
  classGetResponse: number;
  classEnvelope: number;
  /** wLcdLayout: columns (low byte) and lines (high byte); 0 = no display. */
  lcdLayout: number;
  /** b0 VERIFY, b1 MODIFY. */
  pinSupport: number;
  maxBusySlots: number;
}

export class CcidDescriptorError extends Error {
  constructor(detail: string) {
    super(`CCID class descriptor: ${detail}`);
    this.name = 'CcidDescriptorError';
  }
}

/** Parse the 54-byte class descriptor. Throws CcidDescriptorError naming the problem. */
export function parseCcidDescriptor(raw: Uint8Array): CcidDescriptor {
  if (raw.length < CCID_DESCRIPTOR_LENGTH) throw new CcidDescriptorError(`${raw.length} bytes, expected ${CCID_DESCRIPTOR_LENGTH}`);
  const b = Buffer.from(raw.buffer, raw.byteOffset, raw.length);
  if (b[0] !== CCID_DESCRIPTOR_LENGTH) throw new CcidDescriptorError(`bLength is ${b[0]}, expected ${CCID_DESCRIPTOR_LENGTH}`);
  if (b[1] !== CCID_DESCRIPTOR_TYPE && b[1] !== 0xff) throw new CcidDescriptorError(`bDescriptorType is 0x${b[1].toString(16)}, expected 0x21 (or 0xFF)`);
  return {
    descriptorType: b[1],
    bcdCcid: b.readUInt16LE(2),
    maxSlotIndex: b[4],
    voltageSupport: b[5],
    protocols: b.readUInt32LE(6),
    defaultClockKhz: b.readUInt32LE(10),
    maximumClockKhz: b.readUInt32LE(14),
    numClockSupported: b[18],
    dataRate: b.readUInt32LE(19),
    maxDataRate: b.readUInt32LE(23),
    numDataRatesSupported: b[27],
    maxIfsd: b.readUInt32LE(28),
    synchProtocols: b.readUInt32LE(32),
    mechanical: b.readUInt32LE(36),
    features: b.readUInt32LE(40),
    maxMessageLength: b.readUInt32LE(44),
    classGetResponse: b[48],
    classEnvelope: b[49],
    lcdLayout: b.readUInt16LE(50),
    pinSupport: b[52],
    maxBusySlots: b[53],
  };
}

/** The 54 bytes of a descriptor (emulator, tests). */
export function encodeCcidDescriptor(d: CcidDescriptor): Buffer {
  const b = Buffer.alloc(CCID_DESCRIPTOR_LENGTH);
  b[0] = CCID_DESCRIPTOR_LENGTH;
  b[1] = d.descriptorType;
  b.writeUInt16LE(d.bcdCcid, 2);
  b[4] = d.maxSlotIndex;
  b[5] = d.voltageSupport;
  b.writeUInt32LE(d.protocols >>> 0, 6);
  b.writeUInt32LE(d.defaultClockKhz >>> 0, 10);
  b.writeUInt32LE(d.maximumClockKhz >>> 0, 14);
  b[18] = d.numClockSupported;
  b.writeUInt32LE(d.dataRate >>> 0, 19);
  b.writeUInt32LE(d.maxDataRate >>> 0, 23);
  b[27] = d.numDataRatesSupported;
  b.writeUInt32LE(d.maxIfsd >>> 0, 28);
  b.writeUInt32LE(d.synchProtocols >>> 0, 32);
  b.writeUInt32LE(d.mechanical >>> 0, 36);
  b.writeUInt32LE(d.features >>> 0, 40);
  b.writeUInt32LE(d.maxMessageLength >>> 0, 44);
  b[48] = d.classGetResponse;
  b[49] = d.classEnvelope;
  b.writeUInt16LE(d.lcdLayout, 50);
  b[52] = d.pinSupport;
  b[53] = d.maxBusySlots;
  return b;
}

/**
 * The exchange level in dwFeatures. A reader that sets more than one level
 * bit gets the highest one it announces (the extended bit implies short APDUs).
 */
export function exchangeLevel(d: Pick<CcidDescriptor, 'features'>): CcidExchangeLevel {
  const l = d.features & FEATURE_BITS.LEVEL_MASK;
  if (l & FEATURE_BITS.LEVEL_EXTENDED_APDU) return 'extended-apdu';
  if (l & FEATURE_BITS.LEVEL_SHORT_APDU) return 'short-apdu';
  if (l & FEATURE_BITS.LEVEL_TPDU) return 'tpdu';
  return 'character';
}

export const slotCount = (d: Pick<CcidDescriptor, 'maxSlotIndex'>): number => d.maxSlotIndex + 1;

/** Voltages in the order the driver tries them (bPowerSelect codes 1 = 5 V, 2 = 3 V, 3 = 1.8 V). */
export function supportedVoltages(d: Pick<CcidDescriptor, 'voltageSupport'>): number[] {
  const out: number[] = [];
  if (d.voltageSupport & 1) out.push(1);
  if (d.voltageSupport & 2) out.push(2);
  if (d.voltageSupport & 4) out.push(3);
  return out;
}

/** Interface class 0x0B, or a vendor class (0xFF) carrying a class descriptor (docs/ccid.md §2.1). */
export const CCID_INTERFACE_CLASS = 0x0b;

/**
 * Find the 54-byte class descriptor among an interface's extra bytes (and,
 * failing that, the last endpoint's, where some readers put it). The extra
 * bytes may hold several descriptors back to back: walk them by bLength.
 */
export function findClassDescriptor(interfaceExtra: Uint8Array, endpointExtras: Uint8Array[] = []): Buffer | undefined {
  const scan = (x: Uint8Array): Buffer | undefined => {
    let i = 0;
    while (i + 2 <= x.length) {
      const len = x[i];
      if (len < 2 || i + len > x.length) return undefined;
      if (len === CCID_DESCRIPTOR_LENGTH && (x[i + 1] === CCID_DESCRIPTOR_TYPE || x[i + 1] === 0xff)) return Buffer.from(x.subarray(i, i + len));
      i += len;
    }
    return undefined;
  };
  return scan(interfaceExtra) ?? (endpointExtras.length > 0 ? scan(endpointExtras[endpointExtras.length - 1]) : undefined);
}

export interface ConfigInterfaceExtra {
  number: number;
  alternate: number;
  /** Bytes between the interface descriptor and its first endpoint descriptor. */
  extra: Buffer;
  /** Per endpoint (in order), bytes after its descriptor. */
  endpointExtras: Buffer[];
}

/**
 * Walk a raw configuration descriptor (GET_DESCRIPTOR(CONFIGURATION)) and
 * collect each interface's class-specific bytes: USB libraries with a WebUSB
 * shape do not expose them, and the CCID class descriptor lives there.
 */
export function configurationExtras(raw: Uint8Array): ConfigInterfaceExtra[] {
  const out: ConfigInterfaceExtra[] = [];
  let cur: ConfigInterfaceExtra | undefined;
  let inEndpoint = false;
  let i = 0;
  while (i + 2 <= raw.length) {
    const len = raw[i];
    const type = raw[i + 1];
    if (len < 2 || i + len > raw.length) break;
    const d = Buffer.from(raw.subarray(i, i + len));
    if (type === 0x04 && len >= 9) {
      cur = { number: d[2], alternate: d[3], extra: Buffer.alloc(0), endpointExtras: [] };
      out.push(cur);
      inEndpoint = false;
    } else if (type === 0x05 && cur) {
      cur.endpointExtras.push(Buffer.alloc(0));
      inEndpoint = true;
    } else if (cur && type !== 0x02) {
      if (inEndpoint) cur.endpointExtras[cur.endpointExtras.length - 1] = Buffer.concat([cur.endpointExtras[cur.endpointExtras.length - 1], d]);
      else cur.extra = Buffer.concat([cur.extra, d]);
    }
    i += len;
  }
  return out;
}
