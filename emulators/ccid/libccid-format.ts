/**
 * Reader profiles from libccid's readers/*.txt files: the text its `parse`
 * tool prints for a device (one block per CCID interface, "key: value"
 * lines). Only the values are read; the emulator and the descriptor tests
 * use them through encodeCcidDescriptor / parseCcidDescriptor.
 */
import type { CcidDescriptor } from '../../drivers/ccid/descriptor.js';
import type { InterfaceProfile, ReaderProfile } from './profiles.js';

export class ParseOutputError extends Error {}

const num = (v: string, what: string): number => {
  const m = /^\s*(0x[0-9a-f]+|\d+)/i.exec(v);
  if (!m) throw new ParseOutputError(`${what}: no number in ${JSON.stringify(v)}`);
  return Number(m[1]);
};

/** "1.10" -> 0x0110 (BCD as printed by parse). */
const bcd = (v: string, what: string): number => {
  const m = /^\s*([0-9a-f]{1,2})\.([0-9a-f]{1,2})/i.exec(v);
  if (!m) throw new ParseOutputError(`${what}: not a BCD version: ${JSON.stringify(v)}`);
  return (parseInt(m[1], 16) << 8) | parseInt(m[2].padEnd(2, '0'), 16);
};

/** "4.000 MHz" -> 4000 kHz; "4000 kHz" -> 4000. */
const khz = (v: string, what: string): number => {
  const m = /^\s*([\d.]+)\s*(MHz|kHz)?/i.exec(v);
  if (!m) throw new ParseOutputError(`${what}: not a frequency: ${JSON.stringify(v)}`);
  const f = Number(m[1]);
  return Math.round(m[2]?.toLowerCase() === 'mhz' ? f * 1000 : f);
};

/** "0x0000 0x0003" (parse prints the two halves) -> 0x00000003. */
const dword2 = (v: string, what: string): number => {
  const m = /^\s*0x([0-9a-f]{4})\s+0x([0-9a-f]{4})/i.exec(v);
  if (m) return ((parseInt(m[1], 16) << 16) | parseInt(m[2], 16)) >>> 0;
  return num(v, what) >>> 0;
};

/** "echo" (0xFF) or a byte. */
const classByte = (v: string, what: string): number => (/^\s*echo/i.test(v) ? 0xff : num(v, what));

export interface ParsedReaderFile {
  profile: ReaderProfile;
  /** Interfaces whose "CCID Class Descriptor" section had a bLength other than 54 (non-standard readers). */
  warnings: string[];
}

/** One readers/*.txt file -> a profile (one interface per block with a class descriptor). */
export function parseReaderFile(text: string, key = 'libccid'): ParsedReaderFile {
  const lines = text.split(/\r?\n/);
  const blocks: Array<Map<string, string>> = [];
  let cur: Map<string, string> | undefined;
  for (const line of lines) {
    const m = /^\s*([A-Za-z][A-Za-z0-9]*):\s?(.*)$/.exec(line);
    if (!m) continue;
    const [, k, v] = m;
    if (k === 'idVendor') {
      cur = new Map();
      blocks.push(cur);
    }
    // The first occurrence within a block wins (the class descriptor repeats bLength/bDescriptorType).
    if (cur && k === 'bLength' && cur.has('bLength')) cur.set('ccid.bLength', v);
    else if (cur && k === 'bDescriptorType' && cur.has('bDescriptorType')) cur.set('ccid.bDescriptorType', v);
    else if (cur && !cur.has(k)) cur.set(k, v);
  }
  if (blocks.length === 0) throw new ParseOutputError('no "idVendor:" line: not a libccid parse output');
  const warnings: string[] = [];
  const interfaces: InterfaceProfile[] = [];
  const first = blocks[0];
  for (const b of blocks) {
    if (!b.has('dwFeatures')) continue;
    const get = (k: string): string => {
      const v = b.get(k);
      if (v === undefined) throw new ParseOutputError(`missing ${k}`);
      return v;
    };
    const opt = (k: string, f: (v: string, what: string) => number, dflt: number): number => (b.has(k) ? f(b.get(k)!, k) : dflt);
    const len = b.has('ccid.bLength') ? num(get('ccid.bLength'), 'bLength') : 0x36;
    if (len !== 0x36) warnings.push(`interface ${b.get('bInterfaceNumber') ?? '?'}: class descriptor bLength ${len}`);
    const d: CcidDescriptor = {
      descriptorType: b.has('ccid.bDescriptorType') ? num(get('ccid.bDescriptorType'), 'bDescriptorType') : 0x21,
      bcdCcid: bcd(get('bcdCCID'), 'bcdCCID'),
      maxSlotIndex: num(get('bMaxSlotIndex'), 'bMaxSlotIndex'),
      voltageSupport: num(get('bVoltageSupport'), 'bVoltageSupport'),
      protocols: dword2(get('dwProtocols'), 'dwProtocols'),
      defaultClockKhz: khz(get('dwDefaultClock'), 'dwDefaultClock'),
      maximumClockKhz: khz(get('dwMaximumClock'), 'dwMaximumClock'),
      numClockSupported: opt('bNumClockSupported', num, 0),
      dataRate: num(get('dwDataRate'), 'dwDataRate'),
      maxDataRate: num(get('dwMaxDataRate'), 'dwMaxDataRate'),
      numDataRatesSupported: opt('bNumDataRatesSupported', num, 0),
      maxIfsd: num(get('dwMaxIFSD'), 'dwMaxIFSD'),
      synchProtocols: opt('dwSynchProtocols', num, 0),
      mechanical: opt('dwMechanical', num, 0),
      features: num(get('dwFeatures'), 'dwFeatures') >>> 0,
      maxMessageLength: num(get('dwMaxCCIDMessageLength'), 'dwMaxCCIDMessageLength'),
      classGetResponse: opt('bClassGetResponse', classByte, 0),
      classEnvelope: opt('bClassEnvelope', classByte, 0),
      lcdLayout: opt('wLcdLayout', num, 0),
      pinSupport: opt('bPINSupport', num, 0),
      maxBusySlots: opt('bMaxCCIDBusySlots', num, 1),
    };
    const iname = b.get('iInterface');
    interfaces.push({
      name: iname && iname !== '?' && iname.trim() !== '' ? iname.trim() : undefined,
      descriptor: d,
      interrupt: /Interrupt-IN/i.test(text) && num(b.get('bNumEndpoints') ?? '3', 'bNumEndpoints') >= 3,
      interfaceClass: b.has('bInterfaceClass') ? num(b.get('bInterfaceClass')!, 'bInterfaceClass') : 0x0b,
    });
  }
  if (interfaces.length === 0) throw new ParseOutputError('no CCID class descriptor (no dwFeatures line)');
  const s = (k: string): string | undefined => {
    const v = first.get(k)?.trim();
    return v && v !== '?' ? v : undefined;
  };
  return {
    profile: {
      key,
      vendorId: num(first.get('idVendor') ?? '0', 'idVendor'),
      productId: num(first.get('idProduct') ?? '0', 'idProduct'),
      bcdDevice: first.has('bcdDevice') ? bcd(first.get('bcdDevice')!, 'bcdDevice') : 0,
      manufacturer: s('iManufacturer') ?? '',
      product: s('iProduct') ?? '',
      serialNumber: undefined,
      interfaces,
      source: `libccid readers/ parse output (${key})`,
    },
    warnings,
  };
}

const h = (n: number, w: number): string => `0x${n.toString(16).toUpperCase().padStart(w, '0')}`;
const ver = (b: number): string => `${(b >> 8).toString(16)}.${(b & 0xff).toString(16).padStart(2, '0')}`;

/** A profile printed in the parse-output layout (emulator CLI `describe`; round-trip tests). */
export function formatParseOutput(p: ReaderProfile): string {
  const out: string[] = [];
  p.interfaces.forEach((i, n) => {
    const d = i.descriptor;
    out.push(
      ` idVendor: ${h(p.vendorId, 4)}`,
      `  iManufacturer: ${p.manufacturer}`,
      ` idProduct: ${h(p.productId, 4)}`,
      `  iProduct: ${p.product}`,
      ` bcdDevice: ${ver(p.bcdDevice)} (firmware release?)`,
      ` bLength: 9`,
      ` bDescriptorType: 4`,
      ` bInterfaceNumber: ${n}`,
      ` bAlternateSetting: 0`,
      ` bNumEndpoints: ${i.interrupt ? 3 : 2}`,
      i.interrupt ? '  bulk-IN, bulk-OUT and Interrupt-IN' : '  bulk-IN and bulk-OUT',
      ` bInterfaceClass: ${h(i.interfaceClass ?? 0x0b, 2)}`,
      ` bInterfaceSubClass: 0`,
      ` bInterfaceProtocol: 0`,
      ` iInterface: ${i.name ?? '?'}`,
      ` CCID Class Descriptor`,
      `  bLength: 0x36`,
      `  bDescriptorType: ${h(d.descriptorType, 2)}`,
      `  bcdCCID: ${ver(d.bcdCcid)}`,
      `  bMaxSlotIndex: ${h(d.maxSlotIndex, 2)}`,
      `  bVoltageSupport: ${h(d.voltageSupport, 2)}`,
      `  dwProtocols: ${h(d.protocols >>> 16, 4)} ${h(d.protocols & 0xffff, 4)}`,
      `  dwDefaultClock: ${(d.defaultClockKhz / 1000).toFixed(3)} MHz`,
      `  dwMaximumClock: ${(d.maximumClockKhz / 1000).toFixed(3)} MHz`,
      `  bNumClockSupported: ${d.numClockSupported}`,
      `  dwDataRate: ${d.dataRate} bps`,
      `  dwMaxDataRate: ${d.maxDataRate} bps`,
      `  bNumDataRatesSupported: ${d.numDataRatesSupported}`,
      `  dwMaxIFSD: ${d.maxIfsd}`,
      `  dwSynchProtocols: ${h(d.synchProtocols, 8)}`,
      `  dwMechanical: ${h(d.mechanical, 8)}`,
      `  dwFeatures: ${h(d.features, 8)}`,
      `  dwMaxCCIDMessageLength: ${d.maxMessageLength} bytes`,
      `  bClassGetResponse: ${d.classGetResponse === 0xff ? 'echo' : h(d.classGetResponse, 2)}`,
      `  bClassEnvelope: ${d.classEnvelope === 0xff ? 'echo' : h(d.classEnvelope, 2)}`,
      `  wLcdLayout: ${h(d.lcdLayout, 4)}`,
      `  bPINSupport: ${h(d.pinSupport, 2)}`,
      `  bMaxCCIDBusySlots: ${d.maxBusySlots}`,
    );
  });
  return out.join('\n') + '\n';
}
