/**
 * ISO/IEC 7816-4 status words (SW1 SW2): the one table the CLI, web UI, logs
 * and MQTT use to explain a card's answer.
 */
import { hexWord } from './hex.js';

export type SwKind = 'success' | 'info' | 'warning' | 'error';

export interface SwInfo {
  /** SW1 << 8 | SW2. */
  sw: number;
  sw1: number;
  sw2: number;
  /** Four upper-case hex digits, e.g. "6A82". */
  hex: string;
  kind: SwKind;
  /** Human text without the hex prefix, e.g. "file or application not found". */
  text: string;
  /** For 61xx / 6Cxx / 63Cx: the number carried in SW2 (bytes available, exact Le, retries left). */
  value?: number;
}

/** Exact SW1SW2 entries. */
const EXACT: ReadonlyMap<number, string> = new Map<number, string>([
  [0x9000, 'success'],
  // 62: warning, state of non-volatile memory unchanged
  [0x6200, 'warning: no information given, state unchanged'],
  [0x6281, 'warning: part of returned data may be corrupted'],
  [0x6282, 'warning: end of file or record reached before reading Ne bytes'],
  [0x6283, 'warning: selected file deactivated'],
  [0x6284, 'warning: file control information not formatted according to ISO 7816-4'],
  [0x6285, 'warning: selected file in termination state'],
  [0x6286, 'warning: no input data available from a sensor on the card'],
  [0x6287, 'warning: at least one referenced record deactivated'],
  // 63: warning, state of non-volatile memory changed
  [0x6300, 'warning: no information given, state changed (e.g. verification failed)'],
  [0x6381, 'warning: file filled up by the last write'],
  // 64: execution error, state unchanged
  [0x6400, 'execution error: state unchanged (e.g. PIN entry timeout)'],
  [0x6401, 'execution error: immediate response required by the card (or PIN entry cancelled)'],
  [0x6402, 'execution error: PIN entry: passwords do not match'],
  [0x6403, 'execution error: PIN entry: PIN length out of range'],
  // 65: execution error, state changed
  [0x6500, 'execution error: no information given, state changed'],
  [0x6581, 'execution error: memory failure'],
  // 66: security-related issues
  [0x6600, 'security-related issue'],
  // 67
  [0x6700, 'wrong length (Lc or Le)'],
  // 68: functions in CLA not supported
  [0x6800, 'functions in CLA not supported'],
  [0x6881, 'logical channel not supported'],
  [0x6882, 'secure messaging not supported'],
  [0x6883, 'last command of the chain expected'],
  [0x6884, 'command chaining not supported'],
  // 69: command not allowed
  [0x6900, 'command not allowed'],
  [0x6981, 'command incompatible with file structure'],
  [0x6982, 'security status not satisfied'],
  [0x6983, 'authentication method blocked'],
  [0x6984, 'reference data not usable'],
  [0x6985, 'conditions of use not satisfied'],
  [0x6986, 'command not allowed (no current EF)'],
  [0x6987, 'expected secure messaging data objects missing'],
  [0x6988, 'incorrect secure messaging data objects'],
  // 6A: wrong parameters P1-P2
  [0x6a00, 'wrong parameters P1-P2'],
  [0x6a80, 'incorrect parameters in the command data field'],
  [0x6a81, 'function not supported'],
  [0x6a82, 'file or application not found'],
  [0x6a83, 'record not found'],
  [0x6a84, 'not enough memory space in the file'],
  [0x6a85, 'Nc inconsistent with TLV structure'],
  [0x6a86, 'incorrect parameters P1-P2'],
  [0x6a87, 'Nc inconsistent with parameters P1-P2'],
  [0x6a88, 'referenced data or reference data not found'],
  [0x6a89, 'file already exists'],
  [0x6a8a, 'DF name already exists'],
  [0x6b00, 'wrong parameters P1-P2 (offset outside the EF)'],
  [0x6d00, 'instruction code not supported or invalid'],
  [0x6e00, 'class not supported'],
  [0x6f00, 'no precise diagnosis'],
]);

function kindOf(sw1: number): SwKind {
  if (sw1 === 0x90) return 'success';
  if (sw1 === 0x61) return 'info';
  if (sw1 === 0x62 || sw1 === 0x63) return 'warning';
  return 'error';
}

/** Decode a status word given as (sw1, sw2), as one 16-bit number, or as the last two bytes of a response. */
export function decodeSw(sw1OrWord: number | Uint8Array, sw2?: number): SwInfo {
  let sw1: number;
  let s2: number;
  if (typeof sw1OrWord !== 'number') {
    const b = sw1OrWord;
    if (b.length < 2) throw new RangeError(`a status word needs 2 bytes, got ${b.length}`);
    sw1 = b[b.length - 2];
    s2 = b[b.length - 1];
  } else if (sw2 === undefined) {
    sw1 = (sw1OrWord >> 8) & 0xff;
    s2 = sw1OrWord & 0xff;
  } else {
    sw1 = sw1OrWord & 0xff;
    s2 = sw2 & 0xff;
  }
  const sw = (sw1 << 8) | s2;
  const base = { sw, sw1, sw2: s2, hex: hexWord(sw), kind: kindOf(sw1) };
  const exact = EXACT.get(sw);
  if (exact !== undefined) return { ...base, text: exact };
  if (sw1 === 0x61) {
    const n = s2 === 0 ? 256 : s2;
    return { ...base, value: n, text: s2 === 0 ? 'more data available (256 or more bytes; use GET RESPONSE)' : `more data available (${n} bytes; use GET RESPONSE)` };
  }
  if (sw1 === 0x6c) {
    const n = s2 === 0 ? 256 : s2;
    return { ...base, value: n, text: `wrong Le, ${n} expected (re-issue with Le=${n})` };
  }
  if (sw1 === 0x63 && (s2 & 0xf0) === 0xc0) {
    const x = s2 & 0x0f;
    return { ...base, value: x, text: `verification failed, ${x} ${x === 1 ? 'retry' : 'retries'} left (counter ${x})` };
  }
  if (sw1 === 0x62 && s2 >= 0x02 && s2 <= 0x80) {
    return { ...base, text: 'warning: triggering by the card (state unchanged)' };
  }
  if (sw1 === 0x64 && s2 >= 0x02 && s2 <= 0x80) {
    return { ...base, text: 'execution error: triggering by the card' };
  }
  if (sw1 === 0x68 || sw1 === 0x69 || sw1 === 0x6a) {
    return { ...base, text: `${EXACT.get(sw1 << 8)} (qualifier ${hexWord(sw).slice(2)})` };
  }
  const generic: Record<number, string> = {
    0x62: 'warning: state unchanged',
    0x63: 'warning: state changed',
    0x64: 'execution error: state unchanged',
    0x65: 'execution error: state changed',
    0x66: 'security-related issue',
    0x67: 'wrong length',
    0x6b: 'wrong parameters P1-P2',
    0x6d: 'instruction code not supported or invalid',
    0x6e: 'class not supported',
    0x6f: 'no precise diagnosis',
  };
  if (generic[sw1] !== undefined) return { ...base, text: `${generic[sw1]} (qualifier ${hexWord(sw).slice(2)})` };
  if ((sw1 & 0xf0) === 0x90) return { ...base, kind: 'info', text: 'proprietary status (application-specific)' };
  return { ...base, text: 'unknown status word (not defined by ISO 7816-4)' };
}

/** "9000 success", "6A82 file or application not found", "63C2 verification failed, 2 retries left (counter 2)". */
export function swText(sw1OrWord: number | Uint8Array, sw2?: number): string {
  const d = decodeSw(sw1OrWord, sw2);
  return `${d.hex} ${d.text}`;
}

/** True for 9000 and 61xx (normal processing). */
export function isSwSuccess(sw: number): boolean {
  return sw === 0x9000 || (sw >> 8) === 0x61;
}

/** True when a byte is a valid SW1 (6X except 60, or 9X). */
export function isSw1(b: number): boolean {
  const hi = b & 0xf0;
  return (hi === 0x60 && b !== 0x60) || hi === 0x90;
}
