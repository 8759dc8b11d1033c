/**
 * Data records of the commands and replies the gateway uses (docs/osdp.md
 * §4): byte layouts in one place for the PD, the CP and the emulator. Every
 * decoder throws RecordError naming the problem; callers map it to NAK 0x02/0x09.
 */
export class RecordError extends Error {
  constructor(
    /** 'length' -> NAK 0x02, 'value' -> NAK 0x09. */
    readonly kind: 'length' | 'value',
    message: string,
  ) {
    super(message);
    this.name = 'RecordError';
  }
}

const need = (d: Buffer, n: number, what: string, exact = true): void => {
  if (exact ? d.length !== n : d.length < n) throw new RecordError('length', `${what}: ${d.length} bytes, expected ${exact ? '' : 'at least '}${n}`);
};

// ---- osdp_PDID -------------------------------------------------------------

export interface PdIdentity {
  /** IEEE OUI, 3 bytes. */
  vendorCode: number;
  model: number;
  version: number;
  serial: number;
  firmware: [major: number, minor: number, build: number];
}

export function encodePdid(id: PdIdentity): Buffer {
  const b = Buffer.alloc(12);
  b.writeUIntLE(id.vendorCode & 0xffffff, 0, 3);
  b[3] = id.model & 0xff;
  b[4] = id.version & 0xff;
  b.writeUInt32LE(id.serial >>> 0, 5);
  b[9] = id.firmware[0] & 0xff;
  b[10] = id.firmware[1] & 0xff;
  b[11] = id.firmware[2] & 0xff;
  return b;
}

export function decodePdid(d: Buffer): PdIdentity {
  need(d, 12, 'osdp_PDID');
  return { vendorCode: d.readUIntLE(0, 3), model: d[3], version: d[4], serial: d.readUInt32LE(5), firmware: [d[9], d[10], d[11]] };
}

/** cUID sent in osdp_CCRYPT: 8 bytes the PD chooses; here vendor code (3), model (1), serial (4, LSB first). */
export function clientUid(id: PdIdentity): Buffer {
  const p = encodePdid(id);
  return Buffer.concat([p.subarray(0, 4), p.subarray(5, 9)]);
}

// ---- osdp_PDCAP ------------------------------------------------------------

export interface Capability {
  fn: number;
  compliance: number;
  count: number;
}

export const encodeCaps = (caps: Capability[]): Buffer => Buffer.from(caps.flatMap((c) => [c.fn, c.compliance, c.count]));

export function decodeCaps(d: Buffer): Capability[] {
  if (d.length % 3) throw new RecordError('length', `osdp_PDCAP: ${d.length} bytes is not a multiple of 3`);
  const out: Capability[] = [];
  for (let i = 0; i < d.length; i += 3) out.push({ fn: d[i], compliance: d[i + 1], count: d[i + 2] });
  return out;
}

// ---- osdp_LED ---------------------------------------------------------------

export interface LedRecord {
  reader: number;
  led: number;
  temporary: { control: number; onTime: number; offTime: number; onColor: number; offColor: number; timer: number };
  permanent: { control: number; onTime: number; offTime: number; onColor: number; offColor: number };
}

/** Temporary control codes: 0 keep, 1 cancel the temporary state, 2 set it. Permanent: 0 keep, 1 set. */
export const LED_TEMP = { NOP: 0, CANCEL: 1, SET: 2 } as const;
export const LED_PERM = { NOP: 0, SET: 1 } as const;

export function encodeLed(recs: LedRecord[]): Buffer {
  const b = Buffer.alloc(14 * recs.length);
  recs.forEach((r, i) => {
    const o = i * 14;
    const t = r.temporary;
    const p = r.permanent;
    b[o] = r.reader;
    b[o + 1] = r.led;
    b[o + 2] = t.control;
    b[o + 3] = t.onTime;
    b[o + 4] = t.offTime;
    b[o + 5] = t.onColor;
    b[o + 6] = t.offColor;
    b.writeUInt16LE(t.timer, o + 7);
    b[o + 9] = p.control;
    b[o + 10] = p.onTime;
    b[o + 11] = p.offTime;
    b[o + 12] = p.onColor;
    b[o + 13] = p.offColor;
  });
  return b;
}

export function decodeLed(d: Buffer): LedRecord[] {
  if (d.length === 0 || d.length % 14) throw new RecordError('length', `osdp_LED: ${d.length} bytes is not a multiple of 14`);
  const out: LedRecord[] = [];
  for (let o = 0; o < d.length; o += 14) {
    const r: LedRecord = {
      reader: d[o],
      led: d[o + 1],
      temporary: { control: d[o + 2], onTime: d[o + 3], offTime: d[o + 4], onColor: d[o + 5], offColor: d[o + 6], timer: d.readUInt16LE(o + 7) },
      permanent: { control: d[o + 9], onTime: d[o + 10], offTime: d[o + 11], onColor: d[o + 12], offColor: d[o + 13] },
    };
    if (r.temporary.control > 2) throw new RecordError('value', `osdp_LED: temporary control code ${r.temporary.control}`);
    if (r.permanent.control > 1) throw new RecordError('value', `osdp_LED: permanent control code ${r.permanent.control}`);
    out.push(r);
  }
  return out;
}

// ---- osdp_BUZ ---------------------------------------------------------------

export interface BuzzerRecord {
  reader: number;
  /** 0 = no tone (off), 1 = off, 2 = default tone. */
  tone: number;
  /** Units of 100 ms. */
  onTime: number;
  offTime: number;
  /** 0 = until told otherwise. */
  count: number;
}

export const encodeBuz = (r: BuzzerRecord): Buffer => Buffer.from([r.reader, r.tone, r.onTime, r.offTime, r.count]);

export function decodeBuz(d: Buffer): BuzzerRecord {
  need(d, 5, 'osdp_BUZ');
  if (d[1] > 2) throw new RecordError('value', `osdp_BUZ: tone code ${d[1]}`);
  return { reader: d[0], tone: d[1], onTime: d[2], offTime: d[3], count: d[4] };
}

// ---- osdp_COMSET / osdp_COM -------------------------------------------------

export interface ComSettings {
  address: number;
  baudRate: number;
}

export const encodeCom = (c: ComSettings): Buffer => {
  const b = Buffer.alloc(5);
  b[0] = c.address;
  b.writeUInt32LE(c.baudRate, 1);
  return b;
};

export function decodeCom(d: Buffer, what = 'osdp_COMSET'): ComSettings {
  need(d, 5, what);
  return { address: d[0], baudRate: d.readUInt32LE(1) };
}

// ---- osdp_LSTATR ------------------------------------------------------------

export interface LocalStatus {
  tamper: boolean;
  power: boolean;
}

export const encodeLstat = (s: LocalStatus): Buffer => Buffer.from([s.tamper ? 1 : 0, s.power ? 1 : 0]);

export function decodeLstat(d: Buffer): LocalStatus {
  need(d, 2, 'osdp_LSTATR');
  return { tamper: d[0] !== 0, power: d[1] !== 0 };
}

// ---- osdp_RAW ---------------------------------------------------------------

export interface RawCard {
  reader: number;
  /** 0 = raw bit array (format not specified), 1 = Wiegand P/data/P. */
  format: number;
  /** Number of valid bits. */
  bitCount: number;
  /** The bits, first bit in the MSB of the first byte, last byte zero-padded. */
  data: Buffer;
}

export const encodeRaw = (r: RawCard): Buffer => {
  const b = Buffer.alloc(4);
  b[0] = r.reader;
  b[1] = r.format;
  b.writeUInt16LE(r.bitCount, 2);
  return Buffer.concat([b, r.data]);
};

export function decodeRaw(d: Buffer): RawCard {
  need(d, 4, 'osdp_RAW', false);
  const bitCount = d.readUInt16LE(2);
  const bytes = Math.ceil(bitCount / 8);
  if (d.length !== 4 + bytes) throw new RecordError('length', `osdp_RAW: ${bitCount} bits need ${bytes} data bytes, got ${d.length - 4}`);
  return { reader: d[0], format: d[1], bitCount, data: Buffer.from(d.subarray(4)) };
}

// ---- osdp_FMT ---------------------------------------------------------------

export interface FormattedCard {
  reader: number;
  direction: number;
  text: string;
}

export function decodeFmt(d: Buffer): FormattedCard {
  need(d, 3, 'osdp_FMT', false);
  if (d.length !== 3 + d[2]) throw new RecordError('length', `osdp_FMT: ${d[2]} characters announced, ${d.length - 3} sent`);
  return { reader: d[0], direction: d[1], text: d.subarray(3).toString('latin1') };
}

export const encodeFmt = (f: FormattedCard): Buffer => Buffer.concat([Buffer.from([f.reader, f.direction, f.text.length]), Buffer.from(f.text, 'latin1')]);

// ---- osdp_KEYPAD ------------------------------------------------------------

export interface KeypadData {
  reader: number;
  /** ASCII digits, '*' is 0x7F, '#' is 0x0D on the wire. */
  keys: string;
}

const keyToWire = (c: string): number => (c === '*' ? 0x7f : c === '#' ? 0x0d : c.charCodeAt(0));
const wireToKey = (b: number): string => (b === 0x7f ? '*' : b === 0x0d ? '#' : String.fromCharCode(b));

export const encodeKeypad = (k: KeypadData): Buffer => Buffer.from([k.reader, k.keys.length, ...[...k.keys].map(keyToWire)]);

export function decodeKeypad(d: Buffer): KeypadData {
  need(d, 2, 'osdp_KEYPAD', false);
  if (d.length !== 2 + d[1]) throw new RecordError('length', `osdp_KEYPAD: ${d[1]} keys announced, ${d.length - 2} sent`);
  return { reader: d[0], keys: [...d.subarray(2)].map(wireToKey).join('') };
}

// ---- osdp_KEYSET ------------------------------------------------------------

export function encodeKeyset(scbk: Buffer): Buffer {
  return Buffer.concat([Buffer.from([0x01, scbk.length]), scbk]);
}

/** The new SCBK; only key type 1 (SCBK) of 16 bytes is accepted. */
export function decodeKeyset(d: Buffer): Buffer {
  need(d, 18, 'osdp_KEYSET');
  if (d[0] !== 0x01 || d[1] !== 16) throw new RecordError('value', `osdp_KEYSET: key type ${d[0]} length ${d[1]} (only SCBK, 16 bytes)`);
  return Buffer.from(d.subarray(2));
}
