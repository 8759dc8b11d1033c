/**
 * The command interpreter of the simulated ISO 7816-4 card (docs/iso7816.md §5, §6):
 * SELECT (FID, child DF, EF, parent, DF name, paths), READ/UPDATE BINARY,
 * VERIFY / CHANGE REFERENCE DATA / RESET RETRY COUNTER with retry counters,
 * GET CHALLENGE, GET DATA. It sees parsed APDUs and returns the full response
 * data; how that data reaches the host (Le truncation, 61xx, 6Cxx) is the
 * transport's business (iso7816-transport.ts).
 */
import { randomBytes } from 'node:crypto';
import type { CommandApdu } from '../../../src/iso7816/apdu.js';
import { SW } from './card.js';
import { type AccessRule, type Df, type Ef, type FileNode, fcp } from './iso7816-fs.js';

export interface AppResult {
  data?: Buffer;
  sw: number;
}

export interface PinState {
  ref: number;
  value: Buffer;
  max: number;
  left: number;
  verified: boolean;
  puk?: Buffer;
  pukMax: number;
  pukLeft: number;
}

/** Longest PIN the card accepts in VERIFY / CHANGE REFERENCE DATA (longer is a format error, not a wrong try). */
export const MAX_PIN_LENGTH = 16;

const r = (sw: number, data?: Buffer): AppResult => ({ sw, data });

export class Iso7816App {
  private df: Df;
  private ef: Ef | undefined;

  constructor(
    readonly mf: Df,
    readonly pins: Map<number, PinState>,
    readonly dataObjects: Map<number, Buffer>,
  ) {
    this.df = mf;
  }

  /** Volatile state back to power-on: MF selected, no PIN verified. Retry counters and files are kept. */
  reset(): void {
    this.df = this.mf;
    this.ef = undefined;
    for (const p of this.pins.values()) p.verified = false;
  }

  get currentDf(): Df {
    return this.df;
  }
  get currentEf(): Ef | undefined {
    return this.ef;
  }

  /** CLA checks common to every command; undefined when the class is acceptable. */
  static claProblem(cla: number): number | undefined {
    if (cla & 0x80) return SW.CLA_UNSUPPORTED; // proprietary class (and FF): not ours
    if (cla & 0x40) return SW.LOGICAL_CHANNEL_UNSUPPORTED; // further interindustry class = channels 4..19
    if (cla & 0x03) return SW.LOGICAL_CHANNEL_UNSUPPORTED;
    if (cla & 0x0c) return SW.SM_UNSUPPORTED;
    if (cla & 0x10) return SW.CHAINING_UNSUPPORTED;
    return undefined;
  }

  execute(c: CommandApdu): AppResult {
    const bad = Iso7816App.claProblem(c.cla);
    if (bad !== undefined) return r(bad);
    switch (c.ins) {
      case 0xa4:
        return this.select(c);
      case 0xb0:
        return this.readBinary(c);
      case 0xd6:
        return this.updateBinary(c);
      case 0x20:
        return this.verify(c);
      case 0x24:
        return this.changeReferenceData(c);
      case 0x2c:
        return this.resetRetryCounter(c);
      case 0x84:
        return this.getChallenge(c);
      case 0xca:
        return this.getData(c);
      default:
        return r(SW.INS_UNSUPPORTED);
    }
  }

  // ------------------------------------------------------------- SELECT

  private select(c: CommandApdu): AppResult {
    const { p1, p2, data } = c;
    if (p2 & 0xf0) return r(SW.WRONG_P1P2);
    const occurrence = p2 & 0x03;
    const answer = (p2 >> 2) & 0x03;
    if (occurrence !== 0 && !(p1 === 0x04 && occurrence === 0x02)) return r(SW.WRONG_P1P2);
    let found: FileNode | undefined;
    switch (p1) {
      case 0x00:
        if (data.length === 0) found = this.mf;
        else if (data.length !== 2) return r(SW.WRONG_LENGTH);
        else found = this.byFid(data.readUInt16BE(0));
        break;
      case 0x01: {
        if (data.length !== 2) return r(SW.WRONG_LENGTH);
        const n = this.df.child(data.readUInt16BE(0));
        found = n?.kind === 'df' ? n : undefined;
        break;
      }
      case 0x02: {
        if (data.length !== 2) return r(SW.WRONG_LENGTH);
        const n = this.df.child(data.readUInt16BE(0));
        found = n?.kind === 'ef' ? n : undefined;
        break;
      }
      case 0x03:
        if (data.length !== 0) return r(SW.WRONG_LENGTH);
        found = this.df.parent;
        break;
      case 0x04:
        if (data.length === 0 || data.length > 16) return r(SW.WRONG_LENGTH);
        found = this.byName(data, occurrence === 0x02);
        break;
      case 0x08:
      case 0x09: {
        if (data.length === 0 || data.length % 2) return r(SW.WRONG_LENGTH);
        let from: Df = p1 === 0x08 ? this.mf : this.df;
        let path = data;
        if (p1 === 0x08 && path.readUInt16BE(0) === 0x3f00) path = path.subarray(2);
        if (path.length === 0) {
          found = from;
          break;
        }
        for (let i = 0; i < path.length; i += 2) {
          const n = from.child(path.readUInt16BE(i));
          if (!n) {
            found = undefined;
            break;
          }
          if (i + 2 === path.length) found = n;
          else if (n.kind === 'df') from = n;
          else {
            found = undefined;
            break;
          }
        }
        break;
      }
      default:
        return r(SW.WRONG_P1P2);
    }
    if (!found) return r(SW.FILE_NOT_FOUND);
    if (found.kind === 'df') {
      this.df = found;
      this.ef = undefined;
    } else {
      this.df = found.parent;
      this.ef = found;
    }
    switch (answer) {
      case 0:
        return r(SW.OK, fcp(found, 0x6f));
      case 1:
        return r(SW.OK, fcp(found, 0x62));
      case 2:
        return r(SW.OK, Buffer.from([0x64, 0x00]));
      default:
        return r(SW.OK);
    }
  }

  /** P1=00 search order: the current DF, its children, its parent, the parent's children (siblings). */
  private byFid(fid: number): FileNode | undefined {
    if (fid === 0x3f00) return this.mf;
    if (this.df.fid === fid) return this.df;
    const own = this.df.child(fid);
    if (own) return own;
    const parent = this.df.parent;
    if (parent) {
      if (parent.fid === fid) return parent;
      return parent.child(fid);
    }
    return undefined;
  }

  /** DF name match (full or right-truncated); `next` continues after the current DF in tree order. */
  private byName(name: Buffer, next: boolean): Df | undefined {
    const matches: Df[] = [];
    const walk = (d: Df): void => {
      if (d.name && d.name.length >= name.length && d.name.subarray(0, name.length).equals(name)) matches.push(d);
      for (const c of d.children) if (c.kind === 'df') walk(c);
    };
    walk(this.mf);
    if (!next) return matches[0];
    const i = matches.indexOf(this.df);
    return i < 0 ? matches[0] : matches[i + 1];
  }

  // ------------------------------------------------------- BINARY

  private allowed(rule: AccessRule): boolean {
    if (rule === 'always') return true;
    if (rule === 'never') return false;
    return this.pins.get(rule)?.verified === true;
  }

  /** Resolve the EF addressed by P1/P2 (SFI or current EF) and the offset. */
  private target(c: CommandApdu): { ef: Ef; offset: number } | AppResult {
    if (c.p1 & 0x80) {
      if (c.p1 & 0x60) return r(SW.WRONG_P1P2);
      const sfi = c.p1 & 0x1f;
      const ef = this.df.children.find((n): n is Ef => n.kind === 'ef' && n.sfi === sfi);
      if (!ef) return r(SW.FILE_NOT_FOUND);
      this.ef = ef;
      return { ef, offset: c.p2 };
    }
    if (!this.ef) return r(SW.NO_CURRENT_EF);
    return { ef: this.ef, offset: ((c.p1 & 0x7f) << 8) | c.p2 };
  }

  private readBinary(c: CommandApdu): AppResult {
    if (c.data.length !== 0 || c.le === undefined) return r(SW.WRONG_LENGTH);
    const t = this.target(c);
    if (!('ef' in t)) return t;
    if (!this.allowed(t.ef.read)) return r(SW.SECURITY_NOT_SATISFIED);
    const size = t.ef.data.length;
    if (t.offset > size || (t.offset === size && size > 0)) return r(SW.WRONG_OFFSET);
    const n = Math.min(c.le, size - t.offset);
    const out = Buffer.from(t.ef.data.subarray(t.offset, t.offset + n));
    return r(n < c.le ? SW.EOF_WARNING : SW.OK, out);
  }

  private updateBinary(c: CommandApdu): AppResult {
    if (c.data.length === 0) return r(SW.WRONG_LENGTH);
    const t = this.target(c);
    if (!('ef' in t)) return t;
    if (!this.allowed(t.ef.update)) return r(SW.SECURITY_NOT_SATISFIED);
    const size = t.ef.data.length;
    if (t.offset >= size) return r(SW.WRONG_OFFSET);
    if (t.offset + c.data.length > size) return r(SW.WRONG_LENGTH);
    c.data.copy(t.ef.data, t.offset);
    return r(SW.OK);
  }

  // ------------------------------------------------------------- PINs

  private static counter(left: number): number {
    return 0x63c0 | Math.min(left, 15);
  }

  private verify(c: CommandApdu): AppResult {
    const pin = this.pins.get(c.p2);
    if (c.p1 === 0xff) {
      // ISO 7816-4:2013: P1 = FF resets the verification status.
      if (c.data.length) return r(SW.WRONG_LENGTH);
      if (!pin) return r(SW.REF_DATA_NOT_FOUND);
      pin.verified = false;
      return r(SW.OK);
    }
    if (c.p1 !== 0x00) return r(SW.WRONG_P1P2);
    if (!pin) return r(SW.REF_DATA_NOT_FOUND);
    if (c.data.length === 0) {
      if (pin.left === 0) return r(SW.AUTH_BLOCKED);
      return r(pin.verified ? SW.OK : Iso7816App.counter(pin.left));
    }
    return this.checkPin(pin, c.data);
  }

  private checkPin(pin: PinState, candidate: Buffer): AppResult {
    if (pin.left === 0) return r(SW.AUTH_BLOCKED);
    if (candidate.length > MAX_PIN_LENGTH) return r(SW.WRONG_DATA);
    if (candidate.equals(pin.value)) {
      pin.left = pin.max;
      pin.verified = true;
      return r(SW.OK);
    }
    pin.left -= 1;
    pin.verified = false;
    return r(Iso7816App.counter(pin.left));
  }

  private changeReferenceData(c: CommandApdu): AppResult {
    const pin = this.pins.get(c.p2);
    if (c.p1 !== 0x00 && c.p1 !== 0x01) return r(SW.WRONG_P1P2);
    if (!pin) return r(SW.REF_DATA_NOT_FOUND);
    if (pin.left === 0) return r(SW.AUTH_BLOCKED);
    let fresh: Buffer;
    if (c.p1 === 0x00) {
      // Old value then new value; the old one has the stored length.
      const oldLen = pin.value.length;
      if (c.data.length <= oldLen) return r(SW.WRONG_DATA);
      fresh = c.data.subarray(oldLen);
      if (fresh.length > MAX_PIN_LENGTH) return r(SW.WRONG_DATA);
      const check = this.checkPin(pin, c.data.subarray(0, oldLen));
      if (check.sw !== SW.OK) return check;
    } else {
      if (!pin.verified) return r(SW.SECURITY_NOT_SATISFIED);
      fresh = c.data;
      if (fresh.length === 0 || fresh.length > MAX_PIN_LENGTH) return r(SW.WRONG_DATA);
    }
    pin.value = Buffer.from(fresh);
    pin.left = pin.max;
    pin.verified = true;
    return r(SW.OK);
  }

  private resetRetryCounter(c: CommandApdu): AppResult {
    const pin = this.pins.get(c.p2);
    if (c.p1 !== 0x00 && c.p1 !== 0x01) return r(SW.WRONG_P1P2);
    if (!pin) return r(SW.REF_DATA_NOT_FOUND);
    if (!pin.puk) return r(0x6984); // no resetting code for this PIN
    if (pin.pukLeft === 0) return r(SW.AUTH_BLOCKED);
    const pukLen = pin.puk.length;
    if (c.p1 === 0x00 ? c.data.length <= pukLen : c.data.length !== pukLen) return r(SW.WRONG_DATA);
    const fresh = c.p1 === 0x00 ? c.data.subarray(pukLen) : undefined;
    if (fresh && fresh.length > MAX_PIN_LENGTH) return r(SW.WRONG_DATA);
    if (!c.data.subarray(0, pukLen).equals(pin.puk)) {
      pin.pukLeft -= 1;
      return r(Iso7816App.counter(pin.pukLeft));
    }
    pin.pukLeft = pin.pukMax;
    if (fresh) pin.value = Buffer.from(fresh);
    pin.left = pin.max;
    pin.verified = false;
    return r(SW.OK);
  }

  // -------------------------------------------------------------- misc

  private getChallenge(c: CommandApdu): AppResult {
    if (c.p1 !== 0 || c.p2 !== 0) return r(SW.WRONG_P1P2);
    if (c.data.length !== 0 || c.le === undefined) return r(SW.WRONG_LENGTH);
    return r(SW.OK, randomBytes(Math.min(c.le, 256)));
  }

  private getData(c: CommandApdu): AppResult {
    const v = this.dataObjects.get((c.p1 << 8) | c.p2);
    if (!v) return r(SW.REF_DATA_NOT_FOUND);
    return r(SW.OK, v); // never mutated; the transport copies it into the response
  }
}
