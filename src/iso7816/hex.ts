/**
 * Strict hex helpers: the one place the project turns hex text into bytes and back.
 * Strict because a silently dropped nibble in an APDU or ATR is worse than an error.
 */

/** Thrown for malformed hex text; `position` is the 0-based character index of the problem. */
export class HexError extends Error {
  readonly position: number;
  constructor(message: string, position: number) {
    super(message);
    this.name = 'HexError';
    this.position = position;
  }
}

const isHexDigit = (c: number): boolean =>
  (c >= 0x30 && c <= 0x39) || (c >= 0x41 && c <= 0x46) || (c >= 0x61 && c <= 0x66);

const nibble = (c: number): number => (c <= 0x39 ? c - 0x30 : (c | 0x20) - 0x61 + 10);

/**
 * Parse hex text such as "3B 8F 80", "3b:8f:80" or "3B8F80".
 * Spaces, tabs and colons may separate bytes (never split a byte); an optional
 * leading "0x" is accepted. Odd digit counts and non-hex characters are refused
 * with a HexError naming the character position.
 */
export function parseHex(str: string): Buffer {
  if (typeof str !== 'string') throw new HexError(`hex input must be a string, got ${typeof str}`, 0);
  let s = str;
  let offset = 0;
  if (/^\s*0x/i.test(s)) {
    offset = s.indexOf('0') + 2;
    s = s.slice(offset);
  }
  const out: number[] = [];
  let i = 0;
  while (i < s.length) {
    const c = s.charCodeAt(i);
    if (c === 0x20 || c === 0x09 || c === 0x3a || c === 0x0a || c === 0x0d) {
      i++;
      continue;
    }
    if (!isHexDigit(c)) {
      throw new HexError(`invalid hex character ${JSON.stringify(s[i])} at position ${i + offset}`, i + offset);
    }
    const c2 = i + 1 < s.length ? s.charCodeAt(i + 1) : -1;
    if (c2 === -1 || !isHexDigit(c2)) {
      if (c2 === -1 || c2 === 0x20 || c2 === 0x09 || c2 === 0x3a || c2 === 0x0a || c2 === 0x0d) {
        throw new HexError(`odd number of hex digits: lone digit ${JSON.stringify(s[i])} at position ${i + offset}`, i + offset);
      }
      throw new HexError(`invalid hex character ${JSON.stringify(s[i + 1])} at position ${i + 1 + offset}`, i + 1 + offset);
    }
    out.push((nibble(c) << 4) | nibble(c2));
    i += 2;
  }
  return Buffer.from(out);
}

/** True when `str` is acceptable to parseHex. */
export function isHex(str: string): boolean {
  try {
    parseHex(str);
    return true;
  } catch {
    return false;
  }
}

/** Format bytes as upper-case hex, bytes joined by `sep` (default one space; '' for compact). */
export function toHex(buf: Uint8Array | readonly number[], sep = ' '): string {
  const parts: string[] = new Array(buf.length);
  for (let i = 0; i < buf.length; i++) {
    const b = buf[i] & 0xff;
    parts[i] = (b < 16 ? '0' : '') + b.toString(16).toUpperCase();
  }
  return parts.join(sep);
}

/** One byte as two upper-case hex digits. */
export const hexByte = (b: number): string => ((b & 0xff) < 16 ? '0' : '') + (b & 0xff).toString(16).toUpperCase();

/** A 16-bit value (e.g. a status word) as four upper-case hex digits. */
export const hexWord = (w: number): string => hexByte(w >> 8) + hexByte(w);
