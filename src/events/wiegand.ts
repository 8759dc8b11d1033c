/**
 * The card numbers door controllers use, derived from a contactless UID the
 * way Wiegand-output readers derive them, with the bytes and their order
 * stated in every result so nobody has to guess why "the same card shows a
 * different number" on two systems.
 *
 * Convention (default 'lsb-first'): the UID's first four bytes as received in
 * anticollision (UID0 first) are read as a little-endian 32-bit number
 * N = UID3<<24 | UID2<<16 | UID1<<8 | UID0 — what most MIFARE readers output as
 * Wiegand 34/32 and what is printed on cards as a 10-digit number. Wiegand 26
 * carries the low 24 bits of N: facility code = UID2, card number =
 * UID1<<8 | UID0. 'msb-first' reads UID0..UID3 as a big-endian number instead
 * (facility = UID1, card = UID2<<8 | UID3 for Wiegand 26).
 */
export type WiegandByteOrder = 'lsb-first' | 'msb-first';

export interface Wiegand26 {
  bits: 26;
  /** 8-bit facility (site) code. */
  facility: number;
  /** 16-bit card number. */
  card: number;
  /** The whole 26-bit frame with parity (even, 24 data bits, odd), as hex. */
  frame: string;
  /** Which UID bytes, in which order. */
  source: string;
}

export interface Wiegand34 {
  bits: 34;
  /** The 32 data bits as one number. */
  value: number;
  /** High 16 bits (controllers that read 34-bit as facility + card). */
  facility: number;
  /** Low 16 bits. */
  card: number;
  /** The whole 34-bit frame with parity (even, 32 data bits, odd), as hex. */
  frame: string;
  source: string;
}

function ones(n: number): number {
  let c = 0;
  for (let v = n >>> 0; v; v >>>= 1) c += v & 1;
  return c;
}

/** Even parity over the high half, odd parity over the low half of `data` (`dataBits` long). */
function frame(data: number, dataBits: number): bigint {
  const half = dataBits / 2;
  const hi = Math.floor(data / 2 ** half);
  const lo = data % 2 ** half;
  const even = ones(hi) % 2; // makes the leading half + parity bit even
  const odd = ones(lo) % 2 === 0 ? 1 : 0; // makes the trailing half + parity bit odd
  return (BigInt(even) << BigInt(dataBits + 1)) | (BigInt(data) << 1n) | BigInt(odd);
}

const hexOf = (v: bigint, bits: number): string => v.toString(16).toUpperCase().padStart(Math.ceil(bits / 4), '0');

/** The 32-bit number of UID0..UID3 in the given order, or undefined when the UID is shorter than 4 bytes. */
export function uidNumber(uid: Uint8Array, order: WiegandByteOrder): number | undefined {
  if (uid.length < 4) return undefined;
  return order === 'lsb-first'
    ? ((uid[3] << 24) | (uid[2] << 16) | (uid[1] << 8) | uid[0]) >>> 0
    : ((uid[0] << 24) | (uid[1] << 16) | (uid[2] << 8) | uid[3]) >>> 0;
}

export function wiegand34(uid: Uint8Array, order: WiegandByteOrder = 'lsb-first'): Wiegand34 | undefined {
  const n = uidNumber(uid, order);
  if (n === undefined) return undefined;
  return {
    bits: 34,
    value: n,
    facility: n >>> 16,
    card: n & 0xffff,
    frame: hexOf(frame(n, 32), 34),
    source: order === 'lsb-first' ? 'UID3 UID2 UID1 UID0 (UID0..3 little-endian)' : 'UID0 UID1 UID2 UID3 (UID0..3 big-endian)',
  };
}

export function wiegand26(uid: Uint8Array, order: WiegandByteOrder = 'lsb-first'): Wiegand26 | undefined {
  const n = uidNumber(uid, order);
  if (n === undefined) return undefined;
  const data = n & 0xffffff;
  return {
    bits: 26,
    facility: data >>> 16,
    card: data & 0xffff,
    frame: hexOf(frame(data, 24), 26),
    source: order === 'lsb-first' ? 'facility UID2, card UID1 UID0 (low 24 bits of UID0..3 little-endian)' : 'facility UID1, card UID2 UID3 (low 24 bits of UID0..3 big-endian)',
  };
}
