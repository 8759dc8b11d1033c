/**
 * PIN pad: PC/SC part 10 PIN_VERIFY_STRUCTURE / PIN_MODIFY_STRUCTURE (what a
 * client hands SCardControl) to the CCID PC_to_RDR_Secure abData (what the
 * reader takes), docs/ccid.md §4.7. Pure functions; a malformed structure is
 * a PcscError naming the field, and nothing reaches the reader.
 */
import { SCARD } from '../../src/pcsc/constants.js';
import { PcscError } from '../../src/pcsc/error.js';
import { HEADER_LENGTH } from './messages.js';

/** bPINSupport bits of the class descriptor. */
export const PIN_SUPPORT = { VERIFY: 0x01, MODIFY: 0x02 } as const;
/** bPINOperation, the first byte of PC_to_RDR_Secure's abData. */
export const PIN_OPERATION = { VERIFY: 0x00, MODIFY: 0x01 } as const;

/** Bytes before abData in the part 10 structures (packed, little-endian). */
export const PIN_VERIFY_HEADER = 19;
export const PIN_MODIFY_HEADER = 24;
/** Wait per PIN entry when the structure says bTimerOut 0 ("the reader's default"), which no descriptor states. */
export const DEFAULT_ENTRY_SECONDS = 60;

export type PinOperation = 'verify' | 'modify';

export interface SecureCommand {
  /** PC_to_RDR_Secure abData: bPINOperation then the PIN data structure. */
  abData: Buffer;
  /** How long the reader may take: every entry the user makes, at the structure's timeouts. */
  userWaitMs: number;
}

const bad = (what: PinOperation, why: string): PcscError =>
  new PcscError(SCARD.E_INVALID_PARAMETER, `(${what === 'verify' ? 'PIN_VERIFY_STRUCTURE' : 'PIN_MODIFY_STRUCTURE'}: ${why})`);

/** The APDU template: a short command with Lc and exactly Lc bytes (the reader fills in the PIN and recomputes Lc). */
function checkApdu(what: PinOperation, apdu: Buffer): void {
  if (apdu.length < 5) throw bad(what, `abData holds ${apdu.length} byte(s); the PIN APDU needs at least CLA INS P1 P2 Lc`);
  if (apdu[4] !== apdu.length - 5) throw bad(what, `abData's Lc is ${apdu[4]} but ${apdu.length - 5} byte(s) follow it`);
}

/**
 * Part 10 structure -> CCID abData (CCID §6.1.11): bTimerOut2 and ulDataLength
 * are dropped; for modify, bMsgIndex2 is kept unless bNumberMessage is 0 and
 * bMsgIndex3 only when it is 3 or FF (the default: as libccid reads the spec).
 * `maxMessage`: the reader's dwMaxCCIDMessageLength.
 */
export function part10ToSecure(what: PinOperation, s: Buffer, maxMessage: number): SecureCommand {
  const header = what === 'verify' ? PIN_VERIFY_HEADER : PIN_MODIFY_HEADER;
  if (s.length < header) throw bad(what, `${s.length} byte(s), shorter than its ${header}-byte header`);
  const ulDataLength = s.readUInt32LE(header - 4);
  if (ulDataLength !== s.length - header) throw bad(what, `ulDataLength is ${ulDataLength} but ${s.length - header} byte(s) of abData follow`);
  const apdu = s.subarray(header);
  checkApdu(what, apdu);
  let fields: Buffer;
  let entries = 1;
  if (what === 'verify') {
    // bTimerOut, then bmFormatString .. bTeoPrologue (offsets 2..14).
    fields = Buffer.concat([s.subarray(0, 1), s.subarray(2, 15)]);
  } else {
    const confirm = s[9];
    const n = s[11];
    if (n > 3 && n !== 0xff) throw bad(what, `bNumberMessage is 0x${n.toString(16)}; 0, 1, 2, 3 or FF (default) expected`);
    if (confirm & 0xfc) throw bad(what, `bConfirmPIN is 0x${confirm.toString(16)}; only bits 0 (confirm) and 1 (current PIN) are defined`);
    entries = 1 + (confirm & 0x01) + ((confirm >> 1) & 0x01);
    const parts = [s.subarray(0, 1), s.subarray(2, 15)];
    if (n !== 0) parts.push(s.subarray(15, 16));
    if (n === 3 || n === 0xff) parts.push(s.subarray(16, 17));
    parts.push(s.subarray(17, 20));
    fields = Buffer.concat(parts);
  }
  const abData = Buffer.concat([Buffer.from([what === 'verify' ? PIN_OPERATION.VERIFY : PIN_OPERATION.MODIFY]), fields, apdu]);
  if (HEADER_LENGTH + abData.length > maxMessage) throw bad(what, `the APDU makes a ${HEADER_LENGTH + abData.length}-byte PC_to_RDR_Secure; the reader takes ${maxMessage}`);
  const perEntry = Math.max(s[0] || DEFAULT_ENTRY_SECONDS, s[1]);
  return { abData, userWaitMs: entries * perEntry * 1000 };
}

/** Names of the abData bytes of PC_to_RDR_Secure, by offset in the whole message, for the reader's bError 1..7F. */
export function secureFieldName(op: number, n: number, offset: number): string {
  const verify = ['bPINOperation', 'bTimeOut', 'bmFormatString', 'bmPINBlockString', 'bmPINLengthFormat', 'wPINMaxExtraDigit', 'wPINMaxExtraDigit', 'bEntryValidationCondition', 'bNumberMessage', 'wLangId', 'wLangId', 'bMsgIndex', 'bTeoPrologue', 'bTeoPrologue', 'bTeoPrologue'];
  const modify = ['bPINOperation', 'bTimeOut', 'bmFormatString', 'bmPINBlockString', 'bmPINLengthFormat', 'bInsertionOffsetOld', 'bInsertionOffsetNew', 'wPINMaxExtraDigit', 'wPINMaxExtraDigit', 'bConfirmPIN', 'bEntryValidationCondition', 'bNumberMessage', 'wLangId', 'wLangId', 'bMsgIndex1'];
  if (n !== 0) modify.push('bMsgIndex2');
  if (n === 3 || n === 0xff) modify.push('bMsgIndex3');
  modify.push('bTeoPrologue', 'bTeoPrologue', 'bTeoPrologue');
  const names = op === PIN_OPERATION.MODIFY ? modify : verify;
  const i = offset - HEADER_LENGTH;
  if (i < 0) return `header byte ${offset}`;
  return names[i] ?? `abPINApdu byte ${i - names.length}`;
}
