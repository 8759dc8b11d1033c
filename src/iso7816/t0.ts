/**
 * T=0 APDU transport (ISO/IEC 7816-3 §12.2, docs/iso7816.md §3): maps command
 * APDUs onto T=0 command TPDUs (CLA INS P1 P2 P3 [data]) and runs the
 * 61xx GET RESPONSE / 6Cxx re-issue dialogue, for readers that exchange TPDUs
 * and leave that dialogue to the host.
 *
 * `sendRaw` exchanges one T=0 TPDU with the card and returns the response data
 * followed by SW1 SW2 (procedure bytes are the reader's business).
 *
 * Extended APDUs: case 2E is sent as a short case 2 with P3 = 00 and collected
 * by chained GET RESPONSE; cases 3E/4E are carried in ENVELOPE (INS C2) chunks
 * of at most 255 bytes. Few T=0 cards implement ENVELOPE; the card answers 6D00
 * if it does not, and that is returned as is.
 */
import { SCARD } from '../pcsc/constants.js';
import { PcscError } from '../pcsc/error.js';
import { parseApdu, encodeApdu, type CommandApdu } from './apdu.js';

export type T0Exchange = (tpdu: Buffer) => Promise<Buffer>;

export interface T0Options {
  /** CLA for GET RESPONSE / ENVELOPE: a fixed byte, or 'command' (default) to derive it from the command's CLA. */
  getResponseCla?: number | 'command';
  /** Bound on TPDU exchanges for one APDU (default 300: enough for a 64 KiB answer in 256-byte pieces). */
  maxExchanges?: number;
}

export const INS_GET_RESPONSE = 0xc0;
export const INS_ENVELOPE = 0xc2;

/**
 * CLA for GET RESPONSE: keep the logical channel, drop chaining and secure
 * messaging bits; proprietary classes (b8 = 1, e.g. GlobalPlatform 80) use 00
 * because most cards only accept an interindustry GET RESPONSE.
 */
export function getResponseClaFor(cla: number): number {
  if (cla & 0x80) return 0x00;
  if (cla & 0x40) return cla & 0x4f;
  return cla & 0x03;
}

/** The T=0 command TPDU for a short APDU (case 4 loses its Le: T=0 has one P3). */
export function apduToT0Tpdu(a: CommandApdu): Buffer {
  const h = [a.cla, a.ins, a.p1, a.p2];
  switch (a.case) {
    case '1':
      return Buffer.from([...h, 0x00]);
    case '2S':
    case '2E':
      return Buffer.from([...h, a.le !== undefined && a.le < 256 ? a.le : 0x00]);
    case '3S':
    case '4S':
      return Buffer.concat([Buffer.from([...h, a.data.length]), a.data]);
    default:
      throw new PcscError(SCARD.E_INVALID_PARAMETER, `case ${a.case} APDU has no single T=0 TPDU; use ENVELOPE`);
  }
}

const sw = (r: Buffer): number => (r.length >= 2 ? (r[r.length - 2] << 8) | r[r.length - 1] : -1);

/** Send one APDU over T=0, handling 61xx, 6Cxx, case 4 and extended cases. Returns response data + SW1 SW2. */
export async function transmitT0(apdu: Uint8Array, sendRaw: T0Exchange, opts: T0Options = {}): Promise<Buffer> {
  const a = parseApdu(apdu);
  const max = opts.maxExchanges ?? 300;
  const grCla = opts.getResponseCla === undefined || opts.getResponseCla === 'command' ? getResponseClaFor(a.cla) : opts.getResponseCla & 0xff;
  let exchanges = 0;
  const send = async (tpdu: Buffer): Promise<Buffer> => {
    if (++exchanges > max) {
      throw new PcscError(SCARD.E_NOT_TRANSACTED, `T=0: gave up after ${max} TPDU exchanges for one APDU (card keeps asking for more)`);
    }
    const r = await sendRaw(tpdu);
    if (r.length < 2) throw new PcscError(SCARD.E_NOT_TRANSACTED, `T=0: card response of ${r.length} byte(s) has no status word`);
    return r;
  };

  // Ne wanted by the application; undefined when the APDU expects no data.
  const ne = a.le;
  let first: Buffer;
  if (a.case === '3E' || a.case === '4E') {
    const whole = encodeApdu(a);
    let r: Buffer = Buffer.alloc(0);
    for (let off = 0; off < whole.length; off += 255) {
      const chunk = whole.subarray(off, Math.min(whole.length, off + 255));
      r = await send(Buffer.concat([Buffer.from([grCla, INS_ENVELOPE, 0x00, 0x00, chunk.length]), chunk]));
      if (off + 255 < whole.length && sw(r) !== 0x9000) return r;
    }
    first = r;
  } else {
    let tpdu = apduToT0Tpdu(a);
    first = await send(tpdu);
    // 6C La: wrong P3; re-issue the same header with P3 = La (only meaningful for case 1/2).
    while (first[first.length - 2] === 0x6c && (a.case === '2S' || a.case === '2E' || a.case === '1') && first.length === 2) {
      tpdu = Buffer.from([...tpdu.subarray(0, 4), first[first.length - 1]]);
      first = await send(tpdu);
    }
  }
  return collect(first, ne, grCla, send);
}

/** Follow 61xx with GET RESPONSE, re-issuing on 6Cxx, concatenating data up to Ne. */
async function collect(first: Buffer, ne: number | undefined, cla: number, send: (t: Buffer) => Promise<Buffer>): Promise<Buffer> {
  // Case 1/3: the application asked for no data, so a 61xx goes back to it unchanged
  // (it may GET RESPONSE itself). A 62xx/63xx warning after a case 4 is also returned
  // as is: fetching data after a warning is optional in ISO 7816-3 and many cards refuse it.
  if (ne === undefined) return first;
  const parts: Buffer[] = [first.subarray(0, first.length - 2)];
  let total = parts[0].length;
  let last = first;
  const want = ne;
  while (last[last.length - 2] === 0x61 && total < want) {
    const avail = last[last.length - 1] === 0 ? 256 : last[last.length - 1];
    const p3 = Math.min(avail, want - total);
    let r = await send(Buffer.from([cla, INS_GET_RESPONSE, 0x00, 0x00, p3 & 0xff]));
    while (r.length === 2 && r[0] === 0x6c) {
      r = await send(Buffer.from([cla, INS_GET_RESPONSE, 0x00, 0x00, r[1]]));
    }
    parts.push(r.subarray(0, r.length - 2));
    total += r.length - 2;
    last = r;
  }
  let data = Buffer.concat(parts);
  if (ne !== undefined && data.length > ne) data = data.subarray(0, ne);
  return Buffer.concat([data, last.subarray(last.length - 2)]);
}
