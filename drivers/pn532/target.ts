/**
 * One activated ISO 14443-A target behind a PN532: ISO 14443-4 APDUs through
 * InDataExchange with MI chaining both ways (docs/pn532.md §5), native MIFARE
 * Classic / Ultralight / NTAG operations (§9, §10), the presence check for
 * each card family with its timing taken from the card's FWT (§8), and reads
 * verified by a second read while the link is damaging frames (§2.4).
 */
import { SCARD } from '../../src/pcsc/constants.js';
import { PcscError } from '../../src/pcsc/error.js';
import { ContactlessError, classifyTypeA, contactlessAtr, type ContactlessTarget, type KeyType } from '../../src/contactless/part3.js';
import type { CardInfo } from '../../src/driver/contract.js';
import type { Dialogue } from './dialogue.js';
import { Pn532NoResponse } from './dialogue.js';
import { presenceWaitMs } from './presence.js';
import { CMD, RF_ITEM, STATUS, STATUS_MI, TG_MI, atsFwi, decodeListPassiveTarget, goneAfterMs, statusText, type TargetA } from './protocol.js';

/** NTAG21x by GET_VERSION storage size byte (docs/pn532.md §10): type name and user-visible page count. */
const NTAG_BY_SIZE: Record<number, { type: string; pages: number }> = {
  0x0f: { type: 'ntag213', pages: 45 },
  0x11: { type: 'ntag215', pages: 135 },
  0x13: { type: 'ntag216', pages: 231 },
};

/**
 * APDUs whose answer the card can give again unchanged (READ BINARY, GET
 * DATA): safe to send twice to check an answer (docs/pn532.md §2.4).
 */
export function isRepeatableApdu(apdu: Buffer): boolean {
  if (apdu.length < 4 || apdu[0] === 0xff || (apdu[0] & 0x80) !== 0) return false;
  return apdu[1] === 0xb0 || apdu[1] === 0xb1 || apdu[1] === 0xca || apdu[1] === 0xcb;
}

export type PresenceVerdict = 'present' | 'gone' | 'miss';

/** Host DataOut per InDataExchange frame: keeps the command in a normal frame (255 - TFI, code, Tg). */
export const DATA_OUT_CHUNK = 252;

/** A card answered with a PN532 status other than success. */
export class TargetStatusError extends Error {
  constructor(
    readonly status: number,
    what: string,
  ) {
    super(`${what}: ${statusText(status)}`);
    this.name = 'TargetStatusError';
  }
  /** 0x01: the card did not answer (left the field, or HALTed after a failed auth). */
  get timeout(): boolean {
    return (this.status & 0x3f) === STATUS.Timeout;
  }
  /** 0x27: the chip no longer knows this target (it reset, or released it): check presence. */
  get notAcceptable(): boolean {
    return (this.status & 0x3f) === STATUS.NotAcceptable;
  }
}

export interface MifareAuth {
  block: number;
  keyType: 0x60 | 0x61;
  key: Buffer;
}

export class Pn532Target implements ContactlessTarget {
  type: string;
  readonly atr: Buffer;
  info: CardInfo;
  readonly ats?: Buffer;
  readonly storage?: { blockSize: number; readSize: number; needsAuth: boolean };
  /** Set when the reader found the card gone: calls still queued fail without reaching the chip. */
  gone = false;
  /** Pages a Type 2 tag has (16 for an Ultralight; NTAG21x from GET_VERSION). */
  pages = 16;
  /** ISO 14443-4: the card's frame waiting time index (ATS TB(1)). */
  readonly fwi: number;
  /** Wait for an InDataExchange answer: longer than the chip's own verdict on a silent card. */
  private readonly exchangeTimeoutMs: number;
  /** ContactlessTarget: one APDU, for ISO 14443-4 cards only (part 3 answers 6E 00 for the others). */
  readonly transmit?: (apdu: Buffer) => Promise<Buffer>;
  /** Last successful authentication, replayed after a presence re-select (which drops it on the card). Never logged. */
  private lastAuth?: MifareAuth;
  /** The card currently holds lastAuth (false after a re-select until it is replayed). */
  private authLive = false;

  constructor(
    private readonly dlg: Dialogue,
    readonly a: TargetA,
    private readonly rf: PassiveRetries,
    /** MxRtyPassiveActivation for a re-select (finite). */
    private readonly reselectRetries: number,
    /** MaxRtyCOM as configured on the module. */
    private readonly comRetries = 1,
  ) {
    const ats = a.ats ? a.ats.subarray(1) : undefined; // without TL, as part 3 and CardInfo want it
    this.ats = ats;
    this.fwi = atsFwi(ats);
    this.exchangeTimeoutMs = Math.max(1000, goneAfterMs(this.fwi, comRetries) + 250);
    this.type = classifyTypeA(a.sak, a.atqa, ats !== undefined);
    this.atr = contactlessAtr({ sak: a.sak, atqa: a.atqa, ats });
    this.storage = this.isClassic
      ? { blockSize: 16, readSize: 16, needsAuth: true }
      : this.isUltralight
        ? { blockSize: 4, readSize: 16, needsAuth: false }
        : undefined;
    if (this.isIso14443_4) {
      this.transmit = (apdu) =>
        this.dlg.exclusive(async () => {
          this.liveLocked();
          try {
            return isRepeatableApdu(apdu) ? await this.verifiedLocked(() => this.exchangeLocked(apdu)) : await this.exchangeLocked(apdu);
          } catch (e) {
            // status 01 after the module's own retries: the card is gone (docs/pn532.md §8); what is queued behind fails at once
            if (e instanceof TargetStatusError && e.timeout) this.gone = true;
            throw e;
          }
        });
    }
    this.info = {
      contactless: true,
      uid: a.uid,
      atqa: a.atqa,
      sak: a.sak,
      ats,
      type: this.type,
    };
  }

  get uid(): Buffer {
    return this.a.uid;
  }
  get isIso14443_4(): boolean {
    return this.type === 'iso14443-4';
  }
  get isClassic(): boolean {
    return this.type.startsWith('mifare-classic') || this.type === 'mifare-mini';
  }
  /** NFC Forum Type 2 tag: MIFARE Ultralight family and NTAG21x (4-byte pages, READ returns 4 pages). */
  get isUltralight(): boolean {
    return this.type === 'mifare-ultralight' || this.type.startsWith('ntag');
  }

  /** A card found gone: what is still queued for it fails here, before the chip (SCARD_W_REMOVED_CARD). */
  liveLocked(): void {
    if (this.gone) throw new PcscError(SCARD.W_REMOVED_CARD, '(card left the field)');
  }

  /**
   * A repeatable read: while the link damages frames, an answer that passed
   * the 8-bit DCS may still be wrong (compensating byte errors), so it is read
   * again until two answers agree (docs/pn532.md §2.4).
   */
  async verifiedLocked(read: () => Promise<Buffer>): Promise<Buffer> {
    const first = await read();
    if (!this.dlg.linkSuspect) return first;
    const seen = [first];
    for (let i = 0; i < 3; i++) {
      const again = await read();
      if (seen.some((s) => s.equals(again))) return again;
      seen.push(again);
    }
    throw new PcscError(SCARD.F_COMM_ERROR, '(repeated reads disagree: the link is corrupting data)');
  }

  /**
   * Type 2 tags: GET_VERSION (60) tells NTAG213/215/216 apart (docs/pn532.md §10).
   * A plain Ultralight NAKs it and must be selected again.
   */
  async identifyLocked(): Promise<void> {
    if (this.type !== 'mifare-ultralight') return;
    let v: Buffer;
    try {
      v = await this.verifiedLocked(() => this.exchangeLocked(Buffer.from([0x60]), true));
    } catch (e) {
      if (e instanceof TargetStatusError) await this.reselectLocked().catch(() => false);
      return;
    }
    const ntag = v.length === 8 && v[1] === 0x04 && v[2] === 0x04 ? NTAG_BY_SIZE[v[6]] : undefined;
    if (!ntag) return;
    this.type = ntag.type;
    this.pages = ntag.pages;
    this.info = { ...this.info, type: ntag.type };
  }

  /** InDataExchange with chaining both ways; resolves with the card's whole answer. Runs inside the dialogue lock. */
  async exchangeLocked(data: Buffer, idempotent = false): Promise<Buffer> {
    const tg = this.a.tg;
    let off = 0;
    let body: Buffer;
    // host -> card: all but the last chunk carry Tg | MI
    do {
      const chunk = data.subarray(off, off + DATA_OUT_CHUNK);
      off += chunk.length;
      const more = off < data.length;
      body = await this.dlg.commandLocked(CMD.InDataExchange, Buffer.concat([Buffer.from([more ? tg | TG_MI : tg]), chunk]), {
        idempotent,
        timeoutMs: this.exchangeTimeoutMs,
      });
      if (body.length < 1) throw new Error('InDataExchange answer without status byte');
      if ((body[0] & 0x3f) !== STATUS.Ok) throw new TargetStatusError(body[0], 'InDataExchange');
      if (more && body.length > 1) throw new Error('card answered before the chained command was complete');
    } while (off < data.length);
    // card -> host: MI set means send `40 Tg` again for the rest
    const parts: Buffer[] = [body.subarray(1)];
    while (body[0] & STATUS_MI) {
      body = await this.dlg.commandLocked(CMD.InDataExchange, Buffer.from([tg]), { idempotent: false, timeoutMs: this.exchangeTimeoutMs });
      if (body.length < 1) throw new Error('InDataExchange answer without status byte');
      if ((body[0] & 0x3f) !== STATUS.Ok) throw new TargetStatusError(body[0], 'InDataExchange (chained answer)');
      parts.push(body.subarray(1));
    }
    return Buffer.concat(parts);
  }


  /** ContactlessTarget: MIFARE Classic authentication; a refused key leaves the card HALTed, so it is selected again. */
  async authenticate(block: number, keyType: KeyType, key: Buffer): Promise<void> {
    const a: MifareAuth = { block, keyType: keyType === 'A' ? 0x60 : 0x61, key: Buffer.from(key) };
    await this.dlg.exclusive(async () => {
      this.liveLocked();
      this.lastAuth = undefined;
      this.authLive = false;
      try {
        await this.authLocked(a);
        this.lastAuth = a;
        this.authLive = true;
      } catch (e) {
        throw await this.refusalLocked(e, 'auth-failed');
      }
    });
  }

  private async authLocked(a: MifareAuth): Promise<void> {
    // the PN532 wants the last 4 UID bytes (docs/pn532.md §9)
    await this.exchangeLocked(Buffer.concat([Buffer.from([a.keyType, a.block]), a.key, this.a.uid.subarray(this.a.uid.length - 4)]), true);
  }

  private sectorOf(block: number): number {
    return block < 128 ? block >> 2 : 32 + ((block - 128) >> 4);
  }

  /**
   * A native operation failed. Status 0x14 is a refused key; 0x01 is a NAK or
   * a card gone: select the card again to tell them apart (the NAK HALTed it).
   */
  private async refusalLocked(e: unknown, onNak: 'auth-failed' | 'op', block?: number): Promise<Error> {
    if (!(e instanceof TargetStatusError)) return e as Error;
    const s = e.status & 0x3f;
    if (s !== STATUS.MifareAuth && s !== STATUS.Timeout) return e;
    const auth = this.lastAuth;
    this.lastAuth = undefined;
    const back = await this.reselectLocked().catch(() => false);
    if (!back) {
      this.gone = true;
      return new PcscError(SCARD.E_NO_SMARTCARD, '(card left the field)');
    }
    if (onNak === 'auth-failed') return new ContactlessError('auth-failed', e.message);
    // the operation was refused; restore the authentication the NAK cost
    if (auth) {
      this.lastAuth = auth;
      await this.replayLocked();
    }
    if (this.isClassic && block !== undefined && (!auth || this.sectorOf(auth.block) !== this.sectorOf(block))) {
      return new ContactlessError('not-authenticated', e.message);
    }
    return new ContactlessError('access-denied', e.message);
  }

  /** Authenticate again with the last key if a re-select (presence check, fault) dropped it. */
  private async replayLocked(): Promise<void> {
    if (!this.lastAuth || this.authLive) return;
    try {
      await this.authLocked(this.lastAuth);
      this.authLive = true;
    } catch (e) {
      if (e instanceof TargetStatusError) {
        // the key no longer opens the sector (the card HALTed): forget it, wake the card
        this.lastAuth = undefined;
        await this.reselectLocked().catch(() => false);
        return;
      }
      throw e; // transport trouble: keep the key for the next try
    }
  }

  /** ContactlessTarget: READ (30): 16 bytes (one Classic block, or four Ultralight pages). */
  readBlock(block: number): Promise<Buffer> {
    return this.dlg.exclusive(async () => {
      this.liveLocked();
      if (this.isUltralight && block >= this.pages) throw new ContactlessError('no-such-block');
      await this.replayLocked();
      let d: Buffer;
      try {
        d = await this.verifiedLocked(() => this.exchangeLocked(Buffer.from([0x30, block & 0xff]), true));
      } catch (e) {
        throw await this.refusalLocked(e, 'op', block);
      }
      if (d.length !== 16) throw new PcscError(SCARD.F_COMM_ERROR, `(READ answered ${d.length} bytes instead of 16)`);
      return d;
    });
  }

  /** ContactlessTarget: Classic WRITE (A0) of 16 bytes, Ultralight WRITE (A2) of one 4-byte page. */
  writeBlock(block: number, data: Buffer): Promise<void> {
    return this.dlg.exclusive(async () => {
      this.liveLocked();
      if (this.isUltralight && block >= this.pages) throw new ContactlessError('no-such-block');
      const cmd = this.isUltralight ? 0xa2 : 0xa0;
      await this.replayLocked();
      try {
        await this.exchangeLocked(Buffer.concat([Buffer.from([cmd, block & 0xff]), data]));
      } catch (e) {
        throw await this.refusalLocked(e, 'op', block);
      }
    });
  }

  /** InListPassiveTarget with this UID: true when the same card answered. */
  async reselectLocked(): Promise<boolean> {
    this.authLive = false;
    const uid = this.a.uid;
    // cascade tag 0x88 before 7- and 10-byte UIDs (libnfc's iso14443_cascade_uid)
    const init =
      uid.length === 4
        ? uid
        : uid.length === 7
          ? Buffer.concat([Buffer.from([0x88]), uid])
          : Buffer.concat([Buffer.from([0x88]), uid.subarray(0, 3), Buffer.from([0x88]), uid.subarray(3)]);
    await this.rf.ensureLocked(this.reselectRetries);
    const body = await this.dlg.commandLocked(CMD.InListPassiveTarget, Buffer.concat([Buffer.from([0x01, 0x00]), init]), { timeoutMs: 500 });
    const targets = decodeListPassiveTarget(Buffer.concat([Buffer.from([0x4b]), body]));
    return targets.length === 1 && targets[0].uid.equals(uid);
  }

  /**
   * Is the card still in the field? libnfc's checks (docs/pn532.md §11):
   * ISO 14443-4: R(NAK) through InCommunicateThru; Type 2: READ page 0;
   * Classic: re-select by UID (then the last authentication is replayed).
   *
   * A present ISO 14443-4 card answers within its FWT, but the chip reports a
   * silent one only after 3 x FWT x (MaxRtyCOM + 1) (seconds for a large FWI):
   * the wait ends at FWT plus slack, is aborted, and counts as a 'miss'; the
   * reader takes repeated misses as removal (docs/pn532.md §8).
   */
  async presentLocked(): Promise<PresenceVerdict> {
    try {
      if (this.isIso14443_4) {
        const body = await this.dlg.commandLocked(CMD.InCommunicateThru, Buffer.from([0xb2]), {
          timeoutMs: presenceWaitMs(this.fwi, this.comRetries),
          idempotent: false,
          expectSilence: true,
        });
        return (body[0] & 0x3f) === STATUS.Timeout ? 'gone' : 'present';
      }
      if (this.isClassic) {
        if (!(await this.reselectLocked())) return 'gone';
        await this.replayLocked();
        return 'present';
      }
      const body = await this.dlg.commandLocked(CMD.InDataExchange, Buffer.from([this.a.tg, 0x30, 0x00]), { timeoutMs: 300 });
      const s = body[0] & 0x3f;
      return s === STATUS.Timeout || s === STATUS.NotAcceptable ? 'gone' : 'present';
    } catch (e) {
      if (e instanceof TargetStatusError && e.timeout) return 'gone';
      if (e instanceof Pn532NoResponse && e.acked) return 'miss';
      throw e;
    }
  }
}

/** MxRtyPassiveActivation (RFConfiguration item 5) as last set on the module, sent only when it changes. */
export class PassiveRetries {
  current = -1;
  constructor(private readonly dlg: Dialogue) {}
  async ensureLocked(n: number): Promise<void> {
    if (this.current === n) return;
    await this.dlg.commandLocked(CMD.RFConfiguration, Buffer.from([RF_ITEM.MaxRetries, 0xff, 0x01, n]));
    this.current = n;
  }
}

/** PN532 failure -> the PC/SC code a caller gets. */
export function pcscErrorOf(e: unknown): PcscError {
  if (e instanceof PcscError) return e;
  if (e instanceof TargetStatusError) {
    if (e.timeout) return new PcscError(SCARD.E_NO_SMARTCARD, `(card did not answer: ${e.message})`);
    if (e.notAcceptable) return new PcscError(SCARD.W_REMOVED_CARD, `(the module no longer knows the card: ${e.message})`);
    return new PcscError(SCARD.F_COMM_ERROR, `(${e.message})`);
  }
  return new PcscError(SCARD.F_COMM_ERROR, `(PN532: ${(e as Error).message})`);
}
