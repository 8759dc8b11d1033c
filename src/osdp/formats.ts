/**
 * Card credentials as Wiegand bit strings (docs/osdp.md §7): what a PD sends
 * in osdp_RAW for each configured format, and what a CP makes of the bits it
 * receives. The card number comes from the UID the same way as the events'
 * wiegand26/wiegand34 fields (src/events/wiegand.ts): N = UID0..3 in the
 * configured byte order.
 */
import { uidNumber, type WiegandByteOrder } from '../events/wiegand.js';

export type CardFormat = 'wiegand26' | 'wiegand34' | 'wiegand37' | 'wiegand40' | 'uid';
export const CARD_FORMATS: readonly CardFormat[] = ['wiegand26', 'wiegand34', 'wiegand37', 'wiegand40', 'uid'];

export interface Credential {
  /** osdp_RAW format code: 1 = Wiegand P/data/P, 0 = raw bits. */
  formatCode: number;
  bitCount: number;
  /** Bits, first bit in the MSB of the first byte. */
  data: Buffer;
}

const ones = (v: bigint): number => {
  let c = 0;
  for (let x = v; x; x >>= 1n) c += Number(x & 1n);
  return c;
};

function bitsToBuffer(v: bigint, bits: number): Buffer {
  const bytes = Math.ceil(bits / 8);
  const shifted = v << BigInt(bytes * 8 - bits);
  const b = Buffer.alloc(bytes);
  for (let i = 0; i < bytes; i++) b[i] = Number((shifted >> BigInt((bytes - 1 - i) * 8)) & 0xffn);
  return b;
}

function bufferToBits(d: Buffer, bits: number): bigint {
  let v = 0n;
  for (const x of d) v = (v << 8n) | BigInt(x);
  return v >> BigInt(d.length * 8 - bits);
}

const mask = (n: number): bigint => (1n << BigInt(n)) - 1n;

/** Even parity over the leading half of the data, odd over the trailing half (26, 34, 40). */
function halvesFrame(data: bigint, dataBits: number): bigint {
  const half = dataBits / 2;
  const hi = data >> BigInt(half);
  const lo = data & mask(half);
  const even = BigInt(ones(hi) % 2);
  const odd = ones(lo) % 2 === 0 ? 1n : 0n;
  return (even << BigInt(dataBits + 1)) | (data << 1n) | odd;
}

/** H10304: bit 1 even over bits 2..19, bit 37 odd over bits 19..36 (bit 19 counts in both). */
function h10304Frame(data: bigint): bigint {
  const lead = data >> 17n; // bits 2..19: the first 18 data bits
  const trail = data & mask(18); // bits 19..36: the last 18 data bits
  const even = BigInt(ones(lead) % 2);
  const odd = ones(trail) % 2 === 0 ? 1n : 0n;
  return (even << 36n) | (data << 1n) | odd;
}

/** The osdp_RAW credential of a card in `format`, or undefined when the UID is too short (< 4 bytes, or empty for 'uid'). */
export function credentialFromUid(uid: Uint8Array, format: CardFormat, order: WiegandByteOrder = 'lsb-first'): Credential | undefined {
  if (format === 'uid') {
    if (!uid.length || uid.length > 64) return undefined;
    return { formatCode: 0, bitCount: uid.length * 8, data: Buffer.from(uid) };
  }
  const n = uidNumber(uid, order);
  if (n === undefined) return undefined;
  const N = BigInt(n);
  switch (format) {
    case 'wiegand26':
      return { formatCode: 1, bitCount: 26, data: bitsToBuffer(halvesFrame(N & mask(24), 24), 26) };
    case 'wiegand34':
      return { formatCode: 1, bitCount: 34, data: bitsToBuffer(halvesFrame(N, 32), 34) };
    case 'wiegand37':
      return { formatCode: 1, bitCount: 37, data: bitsToBuffer(h10304Frame(N), 37) };
    case 'wiegand40':
      return { formatCode: 1, bitCount: 40, data: bitsToBuffer(halvesFrame(N, 38), 40) };
  }
}

export interface DecodedCredential {
  /** 'H10301' (26), 'wiegand34', 'H10304' (37), 'wiegand40', or 'raw' for any other length or a failed parity. */
  format: string;
  bits: number;
  /** The bits as hex, left-aligned as received (MSB of the first byte = first bit). */
  hex: string;
  /** Parity checked and right (undefined for formats without parity). */
  parityOk?: boolean;
  facility?: number;
  card?: number;
}

/** What a CP makes of the bits in osdp_RAW: facility and card number only for known formats whose parity holds. */
export function decodeCredential(bitCount: number, data: Buffer): DecodedCredential {
  const hex = data.toString('hex').toUpperCase();
  const raw: DecodedCredential = { format: 'raw', bits: bitCount, hex };
  if (bitCount === 0 || data.length !== Math.ceil(bitCount / 8) || bitCount > 64) return raw;
  const v = bufferToBits(data, bitCount);
  const data_ = (n: number): bigint => (v >> 1n) & mask(n);
  const check = (rebuilt: bigint): boolean => rebuilt === v;
  switch (bitCount) {
    case 26: {
      const d = data_(24);
      const ok = check(halvesFrame(d, 24));
      return ok ? { format: 'H10301', bits: 26, hex, parityOk: true, facility: Number(d >> 16n), card: Number(d & 0xffffn) } : { ...raw, parityOk: false };
    }
    case 34: {
      const d = data_(32);
      const ok = check(halvesFrame(d, 32));
      return ok ? { format: 'wiegand34', bits: 34, hex, parityOk: true, facility: Number(d >> 16n), card: Number(d & 0xffffn) } : { ...raw, parityOk: false };
    }
    case 37: {
      const d = data_(35);
      const ok = check(h10304Frame(d));
      return ok ? { format: 'H10304', bits: 37, hex, parityOk: true, facility: Number(d >> 19n), card: Number(d & mask(19)) } : { ...raw, parityOk: false };
    }
    case 40: {
      const d = data_(38);
      const ok = check(halvesFrame(d, 38));
      return ok ? { format: 'wiegand40', bits: 40, hex, parityOk: true, facility: Number(d >> 32n), card: Number(d & mask(32)) } : { ...raw, parityOk: false };
    }
    default:
      return raw;
  }
}
