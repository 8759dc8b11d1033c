/**
 * T=1 block codec (ISO/IEC 7816-3 §11.3, docs/iso7816.md §4): NAD PCB LEN INF EDC,
 * shared by the reader side (t1.ts) and the card side (t1-card.ts).
 */
import { hexByte } from './hex.js';

export type EdcType = 'lrc' | 'crc';

export const S_RESYNCH = 0x00;
export const S_IFS = 0x01;
export const S_ABORT = 0x02;
export const S_WTX = 0x03;

/** R-block error codes (PCB b4..b1). */
export const R_OK = 0;
export const R_EDC_ERROR = 1;
export const R_OTHER_ERROR = 2;

export type T1Block =
  | { type: 'I'; nad: number; ns: number; more: boolean; inf: Buffer }
  | { type: 'R'; nad: number; nr: number; error: number }
  | { type: 'S'; nad: number; response: boolean; sType: number; inf: Buffer };

export type T1ParseResult =
  | { ok: true; block: T1Block }
  /** `edc` true when the EDC check failed (R-block error code 1); otherwise another error (code 2). */
  | { ok: false; edc: boolean; reason: string };

/** LRC: XOR of all bytes. */
export function lrc(b: Uint8Array, from = 0, to = b.length): number {
  let x = 0;
  for (let i = from; i < to; i++) x ^= b[i];
  return x;
}

const CRC_TABLE: Uint16Array = (() => {
  const t = new Uint16Array(256);
  for (let n = 0; n < 256; n++) {
    let c = n;
    for (let k = 0; k < 8; k++) c = c & 1 ? (c >>> 1) ^ 0x8408 : c >>> 1;
    t[n] = c;
  }
  return t;
})();

/**
 * CRC-16 of ISO 7816-3 T=1 as libccid computes it: reflected CCITT polynomial
 * (0x8408), initial value FFFF, no final XOR; the high byte is sent first.
 */
export function crc16(b: Uint8Array, from = 0, to = b.length): number {
  let crc = 0xffff;
  for (let i = from; i < to; i++) crc = (crc >>> 8) ^ CRC_TABLE[(crc ^ b[i]) & 0xff];
  return crc;
}

export const edcLength = (edc: EdcType): number => (edc === 'crc' ? 2 : 1);

/** PCB of a block. */
export function pcbOf(b: T1Block): number {
  switch (b.type) {
    case 'I':
      return (b.ns ? 0x40 : 0) | (b.more ? 0x20 : 0);
    case 'R':
      return 0x80 | (b.nr ? 0x10 : 0) | (b.error & 0x0f);
    case 'S':
      return 0xc0 | (b.response ? 0x20 : 0) | (b.sType & 0x1f);
  }
}

/** Encode a block with its EDC. */
export function encodeBlock(b: T1Block, edc: EdcType): Buffer {
  const inf = b.type === 'R' ? Buffer.alloc(0) : b.inf;
  if (inf.length > 254) throw new RangeError(`T=1 INF of ${inf.length} bytes exceeds 254`);
  const n = 3 + inf.length;
  const out = Buffer.alloc(n + edcLength(edc));
  out[0] = b.nad & 0xff;
  out[1] = pcbOf(b);
  out[2] = inf.length;
  inf.copy(out, 3);
  if (edc === 'lrc') out[n] = lrc(out, 0, n);
  else {
    const c = crc16(out, 0, n);
    out[n] = c >> 8;
    out[n + 1] = c & 0xff;
  }
  return out;
}

/** Decode and validate a block; never throws. */
export function parseBlock(raw: Uint8Array | undefined, edc: EdcType): T1ParseResult {
  if (!raw || raw.length === 0) return { ok: false, edc: false, reason: 'no block received (timeout)' };
  const el = edcLength(edc);
  if (raw.length < 3 + el) return { ok: false, edc: false, reason: `block of ${raw.length} bytes is shorter than the ${3 + el}-byte minimum` };
  const len = raw[2];
  if (len === 0xff) return { ok: false, edc: false, reason: 'LEN FF is invalid' };
  if (raw.length !== 3 + len + el) return { ok: false, edc: false, reason: `LEN ${len} but block has ${raw.length - 3 - el} INF bytes` };
  const n = 3 + len;
  if (edc === 'lrc') {
    if (lrc(raw, 0, n) !== raw[n]) return { ok: false, edc: true, reason: `LRC mismatch (got ${hexByte(raw[n])}, expected ${hexByte(lrc(raw, 0, n))})` };
  } else {
    const c = crc16(raw, 0, n);
    if (raw[n] !== c >> 8 || raw[n + 1] !== (c & 0xff)) return { ok: false, edc: true, reason: 'CRC mismatch' };
  }
  const nad = raw[0];
  const pcb = raw[1];
  const inf = Buffer.from(raw.subarray(3, n));
  if ((nad & 0x88) !== 0) return { ok: false, edc: false, reason: `NAD ${hexByte(nad)} has reserved bits b8/b4 set` };
  if ((pcb & 0x80) === 0) {
    if (pcb & 0x1f) return { ok: false, edc: false, reason: `I-block PCB ${hexByte(pcb)} has reserved bits set` };
    return { ok: true, block: { type: 'I', nad, ns: (pcb >> 6) & 1, more: (pcb & 0x20) !== 0, inf } };
  }
  if ((pcb & 0xc0) === 0x80) {
    if (pcb & 0x20) return { ok: false, edc: false, reason: `R-block PCB ${hexByte(pcb)} has reserved bit b6 set` };
    if ((pcb & 0x0f) > 2) return { ok: false, edc: false, reason: `R-block PCB ${hexByte(pcb)} has an undefined error code` };
    if (len !== 0) return { ok: false, edc: false, reason: `R-block with LEN ${len}` };
    return { ok: true, block: { type: 'R', nad, nr: (pcb >> 4) & 1, error: pcb & 0x0f } };
  }
  const sType = pcb & 0x1f;
  if (sType > 3) return { ok: false, edc: false, reason: `S-block PCB ${hexByte(pcb)} has an undefined type` };
  if ((sType === S_IFS || sType === S_WTX) && len !== 1) return { ok: false, edc: false, reason: `S(${sType === S_IFS ? 'IFS' : 'WTX'}) block with LEN ${len}, expected 1` };
  if (sType === S_RESYNCH && len !== 0) return { ok: false, edc: false, reason: `S(RESYNCH) block with LEN ${len}` };
  return { ok: true, block: { type: 'S', nad, response: (pcb & 0x20) !== 0, sType, inf } };
}

const S_NAMES = ['RESYNCH', 'IFS', 'ABORT', 'WTX'];

/** Short text for logs, e.g. "I(0,M)", "R(1,EDC)", "S(WTX req 2)". Never prints INF contents (may be a PIN). */
export function describeBlock(b: T1Block): string {
  switch (b.type) {
    case 'I':
      return `I(${b.ns}${b.more ? ',M' : ''}) ${b.inf.length}B`;
    case 'R':
      return `R(${b.nr}${b.error === 1 ? ',EDC' : b.error === 2 ? ',ERR' : ''})`;
    case 'S':
      return `S(${S_NAMES[b.sType]} ${b.response ? 'resp' : 'req'}${b.inf.length ? ` ${b.inf[0]}` : ''})`;
  }
}

/** The NAD a reply carries: source and destination addresses swapped. */
export const swapNad = (nad: number): number => ((nad & 0x07) << 4) | ((nad >> 4) & 0x07);
