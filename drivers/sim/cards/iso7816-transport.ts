/**
 * How the ISO 7816-4 application's answers reach the host.
 *
 * APDU level (T=1 and ISO 14443-4): data beyond Ne is kept and announced
 * with 61xx, fetched by GET RESPONSE (as vicc's Iso7816OS does).
 *
 * T=0 TPDU level (ISO 7816-3 §10.3, docs/iso7816.md §3): the card cannot tell a
 * case 3 from a case 4 command, so any response data to a command carrying
 * data is announced with 61xx; a case 2 header whose P3 differs from the
 * available length gets 6C La (state unchanged) so the host re-issues it.
 */
import { parseApdu, type CommandApdu } from '../../../src/iso7816/apdu.js';
import { resp, SW } from './card.js';
import { Iso7816App } from './iso7816-app.js';

const INS_GET_RESPONSE = 0xc0;
const NO_DATA = Buffer.alloc(0);

/** The card's reading of a command, through the one APDU codec; undefined when malformed. */
function parseCommand(b: Buffer): CommandApdu | undefined {
  try {
    return parseApdu(b);
  } catch {
    return undefined;
  }
}

/** 61 XX: XX = remaining bytes, 00 meaning 256 or more. */
const more = (n: number): number => 0x6100 | (n >= 256 ? 0 : n);

export class Iso7816Transport {
  private pending: Buffer | undefined;

  constructor(readonly app: Iso7816App) {}

  reset(): void {
    this.pending = undefined;
    this.app.reset();
  }

  /** One command APDU at APDU level. */
  apdu(bytes: Buffer): Buffer {
    const c = parseCommand(bytes);
    if (!c) {
      this.pending = undefined;
      return resp(undefined, SW.WRONG_LENGTH);
    }
    if (c.ins === INS_GET_RESPONSE && Iso7816App.claProblem(c.cla) === undefined) return this.getResponseApdu(c);
    this.pending = undefined;
    const res = this.app.execute(c);
    const data = res.data;
    if (!data || data.length === 0) return resp(undefined, res.sw);
    // Without Le the host still gets the data (up to a short response), as vicc does.
    const ne = c.le ?? 256;
    if (data.length <= ne) return resp(data, res.sw);
    this.pending = data.subarray(ne);
    return resp(data.subarray(0, ne), more(this.pending.length));
  }

  private getResponseApdu(c: CommandApdu): Buffer {
    if (c.p1 !== 0 || c.p2 !== 0) return resp(undefined, SW.WRONG_P1P2);
    const pending = this.pending;
    if (!pending) return resp(undefined, SW.CONDITIONS_NOT_SATISFIED);
    const ne = c.le ?? 256;
    if (pending.length <= ne) {
      this.pending = undefined;
      return resp(pending, SW.OK);
    }
    this.pending = pending.subarray(ne);
    return resp(pending.subarray(0, ne), more(this.pending.length));
  }

  /** One T=0 TPDU: CLA INS P1 P2 P3 [data]. */
  tpdu(bytes: Buffer): Buffer {
    if (bytes.length < 5) {
      this.pending = undefined;
      return resp(undefined, SW.WRONG_LENGTH);
    }
    const cla = bytes[0];
    const ins = bytes[1];
    const p1 = bytes[2];
    const p2 = bytes[3];
    const p3 = bytes[4];
    if (bytes.length === 5) {
      const ne = p3 === 0 ? 256 : p3;
      if (ins === INS_GET_RESPONSE && Iso7816App.claProblem(cla) === undefined) return this.getResponseT0(p1, p2, ne);
      this.pending = undefined;
      // Case 1 or case 2: the card cannot tell; a command with no data to send just ignores P3.
      const res = this.app.execute({ cla, ins, p1, p2, data: NO_DATA, le: ne, case: '2S', extended: false });
      const data = res.data;
      if (!data || data.length === 0) return resp(undefined, res.sw);
      if (data.length < ne && (res.sw === SW.OK || res.sw === SW.EOF_WARNING)) return resp(undefined, 0x6c00 | data.length);
      if (data.length === ne) return resp(data, res.sw);
      this.pending = data.subarray(ne);
      return resp(data.subarray(0, ne), more(this.pending.length));
    }
    this.pending = undefined;
    if (p3 === 0 || bytes.length !== 5 + p3) return resp(undefined, SW.WRONG_LENGTH);
    const data = bytes.subarray(5);
    const res = this.app.execute({ cla, ins, p1, p2, data, case: '3S', extended: false });
    if (!res.data || res.data.length === 0) return resp(undefined, res.sw);
    if (res.sw !== SW.OK) return resp(undefined, res.sw);
    this.pending = res.data;
    return resp(undefined, more(res.data.length));
  }

  private getResponseT0(p1: number, p2: number, ne: number): Buffer {
    if (p1 !== 0 || p2 !== 0) return resp(undefined, SW.WRONG_P1P2);
    const pending = this.pending;
    if (!pending) return resp(undefined, SW.CONDITIONS_NOT_SATISFIED);
    // Asking for more than there is: tell the exact length and keep the data.
    if (ne > pending.length) return resp(undefined, 0x6c00 | pending.length);
    if (ne === pending.length) {
      this.pending = undefined;
      return resp(pending, SW.OK);
    }
    this.pending = pending.subarray(ne);
    return resp(pending.subarray(0, ne), more(this.pending.length));
  }
}
