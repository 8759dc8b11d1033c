/**
 * ISO/IEC 7816-4 command/response APDU codec (short and extended length).
 * Parsing is strict: a malformed APDU is refused with an ApduError naming the
 * problem, so a frontend can answer SCARD_E_INVALID_PARAMETER instead of
 * forwarding garbage to a card.
 */
import { SCARD } from '../pcsc/constants.js';
import { PcscError } from '../pcsc/error.js';
import { toHex } from './hex.js';

export class ApduError extends PcscError {
  constructor(detail: string) {
    super(SCARD.E_INVALID_PARAMETER, detail);
    this.name = 'ApduError';
  }
}

export type ApduCase = '1' | '2S' | '3S' | '4S' | '2E' | '3E' | '4E';

export interface CommandApdu {
  cla: number;
  ins: number;
  p1: number;
  p2: number;
  /** Command data (Nc bytes); empty for cases 1 and 2. */
  data: Buffer;
  /** Ne: maximum number of response data bytes expected (already decoded: Le 00 -> 256, 0000 -> 65536); undefined when absent. */
  le?: number;
  case: ApduCase;
  extended: boolean;
}

/** Input for encodeApdu: case and extended are derived unless `extended` forces the long form. */
export interface ApduFields {
  cla: number;
  ins: number;
  p1: number;
  p2: number;
  data?: Uint8Array;
  le?: number;
  /** Force extended length encoding even when short would do. */
  extended?: boolean;
}

export interface ResponseApdu {
  data: Buffer;
  sw1: number;
  sw2: number;
  /** SW1 << 8 | SW2 */
  sw: number;
}

/** Shared by every APDU without data: a zero-length Buffer cannot be mutated. */
const EMPTY = Buffer.alloc(0);
const MAX_SHORT_NC = 255;
const MAX_SHORT_NE = 256;
const MAX_EXT_NC = 65535;
const MAX_EXT_NE = 65536;

/** Parse command APDU bytes (ISO 7816-4 §5.1 / docs/iso7816.md §5). Throws ApduError when malformed. */
export function parseApdu(bytes: Uint8Array): CommandApdu {
  if (!(bytes instanceof Uint8Array)) throw new ApduError('APDU must be a byte buffer');
  const b = Buffer.from(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  if (b.length < 4) throw new ApduError(`APDU too short: ${b.length} bytes, a header needs 4 (CLA INS P1 P2)`);
  const L = b.length - 4;
  // Objects are built field by field (no spread of a header object): this sits on every APDU's path.
  const apdu = (data: Buffer, le: number | undefined, c: ApduCase, extended: boolean): CommandApdu => ({
    cla: b[0], ins: b[1], p1: b[2], p2: b[3], data, le, case: c, extended,
  });
  if (L === 0) return apdu(EMPTY, undefined, '1', false);
  const b1 = b[4];
  if (L === 1) return apdu(EMPTY, b1 === 0 ? 256 : b1, '2S', false);
  if (b1 !== 0) {
    const nc = b1;
    if (L === 1 + nc) return apdu(Buffer.from(b.subarray(5, 5 + nc)), undefined, '3S', false);
    if (L === 2 + nc) {
      const le = b[5 + nc];
      return apdu(Buffer.from(b.subarray(5, 5 + nc)), le === 0 ? 256 : le, '4S', false);
    }
    throw new ApduError(`Lc=${nc} but ${L - 1} data bytes follow (expected ${nc}, or ${nc + 1} with a trailing Le)`);
  }
  // B1 = 00 with L > 1: extended length.
  if (L === 2) throw new ApduError('malformed APDU: 2 bytes after the header starting with 00 (neither short Le nor an extended field)');
  const w = (b[5] << 8) | b[6];
  if (L === 3) return apdu(EMPTY, w === 0 ? 65536 : w, '2E', true);
  if (w === 0) throw new ApduError(`extended Lc=0000 is not allowed (${L - 3} bytes follow the extended length field)`);
  const nc = w;
  if (L === 3 + nc) return apdu(Buffer.from(b.subarray(7, 7 + nc)), undefined, '3E', true);
  if (L === 5 + nc) {
    const le = (b[7 + nc] << 8) | b[8 + nc];
    return apdu(Buffer.from(b.subarray(7, 7 + nc)), le === 0 ? 65536 : le, '4E', true);
  }
  throw new ApduError(`extended Lc=${nc} but ${L - 3} data bytes follow (expected ${nc}, or ${nc + 2} with a trailing 2-byte Le)`);
}

function checkByte(name: string, v: number): void {
  if (!Number.isInteger(v) || v < 0 || v > 255) throw new ApduError(`${name} must be a byte 0..255, got ${v}`);
}

/** Case of an APDU from its fields (short unless a length needs the extended form or `extended` is set). */
export function apduCase(f: ApduFields): ApduCase {
  const nc = f.data?.length ?? 0;
  const hasLe = f.le !== undefined;
  const ext = f.extended === true || nc > MAX_SHORT_NC || (hasLe && (f.le as number) > MAX_SHORT_NE);
  if (nc === 0 && !hasLe) return '1';
  if (nc === 0) return ext ? '2E' : '2S';
  if (!hasLe) return ext ? '3E' : '3S';
  return ext ? '4E' : '4S';
}

/** Encode APDU fields to bytes; le is Ne (256 encodes as short 00, 65536 as extended 0000). */
export function encodeApdu(f: ApduFields): Buffer {
  checkByte('CLA', f.cla);
  checkByte('INS', f.ins);
  checkByte('P1', f.p1);
  checkByte('P2', f.p2);
  const data = f.data ? Buffer.from(f.data) : Buffer.alloc(0);
  if (data.length > MAX_EXT_NC) throw new ApduError(`command data too long: ${data.length} bytes, at most ${MAX_EXT_NC}`);
  if (f.le !== undefined && (!Number.isInteger(f.le) || f.le < 1 || f.le > MAX_EXT_NE)) {
    throw new ApduError(`Le (Ne) must be 1..${MAX_EXT_NE}, got ${f.le}`);
  }
  const c = apduCase(f);
  const head = [f.cla, f.ins, f.p1, f.p2];
  const le = f.le ?? 0;
  switch (c) {
    case '1':
      return Buffer.from(head);
    case '2S':
      return Buffer.from([...head, le & 0xff]);
    case '3S':
      return Buffer.concat([Buffer.from([...head, data.length]), data]);
    case '4S':
      return Buffer.concat([Buffer.from([...head, data.length]), data, Buffer.from([le & 0xff])]);
    case '2E':
      return Buffer.from([...head, 0, (le >> 8) & 0xff, le & 0xff]);
    case '3E':
      return Buffer.concat([Buffer.from([...head, 0, data.length >> 8, data.length & 0xff]), data]);
    case '4E':
      return Buffer.concat([
        Buffer.from([...head, 0, data.length >> 8, data.length & 0xff]),
        data,
        Buffer.from([(le >> 8) & 0xff, le & 0xff]),
      ]);
  }
}

/** Throws ApduError when bytes are not a well-formed command APDU; returns the parsed form otherwise. */
export const validateApdu = parseApdu;

/** Split a response APDU into data and SW1 SW2. Throws ApduError when shorter than 2 bytes. */
export function parseResponse(bytes: Uint8Array): ResponseApdu {
  if (bytes.length < 2) throw new ApduError(`response APDU too short: ${bytes.length} bytes, a status word needs 2`);
  const n = bytes.length;
  const sw1 = bytes[n - 2];
  const sw2 = bytes[n - 1];
  return { data: Buffer.from(bytes.subarray(0, n - 2)), sw1, sw2, sw: (sw1 << 8) | sw2 };
}

/** Build response bytes from data and a status word. */
export function encodeResponse(data: Uint8Array, sw: number): Buffer {
  return Buffer.concat([Buffer.from(data), Buffer.from([(sw >> 8) & 0xff, sw & 0xff])]);
}

/** Short one-line description for logs; never prints the data (it may be a PIN), only its length. */
export function describeApdu(a: CommandApdu): string {
  const h = toHex([a.cla, a.ins, a.p1, a.p2], '');
  return `${h} case ${a.case} Nc=${a.data.length}${a.le !== undefined ? ` Ne=${a.le}` : ''}`;
}
