/**
 * PC/SC Part 3 pseudo-APDUs (CLA FF) for contactless cards, as ACR122U / SCM /
 * Gemalto readers offer them (docs/pn532.md §15): GET DATA (FF CA), LOAD KEYS
 * (FF 82), GENERAL AUTHENTICATE (FF 86) and its legacy form (FF 88), READ
 * BINARY (FF B0), UPDATE BINARY (FF D6). Other APDUs go to an ISO 14443-4
 * card unchanged.
 *
 * Written against ContactlessTarget so every reader shares it: the sim driver
 * puts a card model behind the target, the PN532 driver InDataExchange.
 *
 * Status words chosen where readers differ (documented, one place):
 * - wrong key in GENERAL AUTHENTICATE: 63 00 (ACR122U and most readers);
 * - read/write without authentication or forbidden by the access bits: 69 82;
 * - a key number never loaded: 69 88; a key type other than 60/61: 69 86;
 * - a storage command the card cannot do (FF 86 on an Ultralight...): 69 81;
 * - block that does not exist: 6A 82; a card that did not answer: 63 00.
 */
import { parseApdu, type CommandApdu } from '../iso7816/apdu.js';
import { buildContactlessAtr, buildIso14443Atr } from '../iso7816/atr.js';

export type KeyType = 'A' | 'B';

export type ContactlessFailure =
  | 'auth-failed'
  | 'not-authenticated'
  | 'access-denied'
  | 'no-such-block'
  | 'bad-value'
  /** The card did not answer (halted, or gone). */
  | 'no-response';

/** What a target throws for a card-level refusal. Transport failures are thrown as PcscError and pass through unchanged. */
export class ContactlessError extends Error {
  constructor(
    readonly failure: ContactlessFailure,
    detail?: string,
  ) {
    super(detail ?? failure);
    this.name = 'ContactlessError';
  }
}

/** A card in the field, seen by the part 3 layer. */
export interface ContactlessTarget {
  readonly uid: Buffer;
  /** ISO 14443-4 ATS without TL (type A), for ISO 14443-4 targets. */
  readonly ats?: Buffer;
  /** Memory geometry of a storage card: block (page) size for UPDATE BINARY, bytes one READ returns. */
  readonly storage?: { blockSize: number; readSize: number; needsAuth: boolean };
  authenticate?(block: number, keyType: KeyType, key: Buffer): Promise<void>;
  /** `readSize` bytes from `block`. */
  readBlock?(block: number): Promise<Buffer>;
  /** `blockSize` bytes to `block`. */
  writeBlock?(block: number, data: Buffer): Promise<void>;
  /** APDU exchange with an ISO 14443-4 card. */
  transmit?(apdu: Buffer): Promise<Buffer>;
}

const sw = (w: number, data?: Uint8Array): Buffer => {
  const out = Buffer.alloc((data?.length ?? 0) + 2);
  if (data) out.set(data, 0);
  out[out.length - 2] = w >> 8;
  out[out.length - 1] = w & 0xff;
  return out;
};

const FAILURE_SW: Record<ContactlessFailure, number> = {
  'auth-failed': 0x6300,
  'not-authenticated': 0x6982,
  'access-denied': 0x6982,
  'no-such-block': 0x6a82,
  'bad-value': 0x6300,
  'no-response': 0x6300,
};

/** Key structures accepted by LOAD KEYS: card key, plain, volatile (00) or non-volatile (20; kept in memory here too). */
const KEY_STRUCTURES = new Set([0x00, 0x20]);

/**
 * The reader side of part 3: the key slots (reader memory, kept across cards)
 * and the pseudo-APDU interpreter. One per reader slot.
 */
export class Part3Reader {
  private readonly keys = new Map<number, Buffer>();

  loadedKeyCount(): number {
    return this.keys.size;
  }

  /** Forget the loaded keys (reader power cycle). */
  clearKeys(): void {
    for (const k of this.keys.values()) k.fill(0);
    this.keys.clear();
  }

  /** One APDU from a PC/SC client for the card behind `target`. Card refusals become status words; transport errors reject. */
  async transmit(target: ContactlessTarget, apdu: Buffer): Promise<Buffer> {
    if (apdu.length >= 1 && apdu[0] !== 0xff) {
      if (target.transmit) return target.transmit(apdu);
      return sw(0x6e00);
    }
    // Legacy ACS authenticate: FF 88 00 Block KeyType KeyNumber (KeyType sits where Lc would).
    if (apdu.length === 6 && apdu[1] === 0x88) return this.authenticate(target, apdu[3], apdu[4], apdu[5], apdu[2]);
    let c: CommandApdu;
    try {
      c = parseApdu(apdu);
    } catch {
      return sw(0x6700);
    }
    try {
      switch (c.ins) {
        case 0xca:
          return this.getData(target, c);
        case 0x82:
          return this.loadKey(c);
        case 0x86:
          return await this.generalAuthenticate(target, c);
        case 0xb0:
          return await this.readBinary(target, c);
        case 0xd6:
          return await this.updateBinary(target, c);
        default:
          return sw(0x6a81);
      }
    } catch (e) {
      if (e instanceof ContactlessError) return sw(FAILURE_SW[e.failure]);
      throw e;
    }
  }

  private getData(target: ContactlessTarget, c: CommandApdu): Buffer {
    if (c.p2 !== 0x00) return sw(0x6a86);
    let data: Buffer;
    if (c.p1 === 0x00) data = target.uid;
    else if (c.p1 === 0x01) {
      if (!target.ats) return sw(0x6a81);
      data = atsHistoricalBytes(target.ats);
    } else return sw(0x6a86);
    // Le 00 (Ne 256) or no Le: the whole value.
    const ne = c.le === undefined || c.le === 256 ? data.length : c.le;
    if (ne < data.length) return sw(0x6c00 | data.length);
    if (ne > data.length) return sw(0x6282, data);
    return sw(0x9000, data);
  }

  private loadKey(c: CommandApdu): Buffer {
    if (c.p1 & 0x80) return sw(0x6983); // reader key: not supported
    if (c.p1 & 0x40) return sw(0x6985); // secured transmission: not supported
    if (!KEY_STRUCTURES.has(c.p1)) return sw(0x6a86);
    if (c.data.length !== 6) return sw(0x6989);
    this.keys.get(c.p2)?.fill(0);
    this.keys.set(c.p2, Buffer.from(c.data));
    return sw(0x9000);
  }

  private generalAuthenticate(target: ContactlessTarget, c: CommandApdu): Promise<Buffer> | Buffer {
    if (c.p1 !== 0 || c.p2 !== 0) return sw(0x6a86);
    if (c.data.length !== 5) return sw(0x6700);
    if (c.data[0] !== 0x01) return sw(0x6a80);
    return this.authenticate(target, (c.data[1] << 8) | c.data[2], c.data[3], c.data[4]);
  }

  private async authenticate(target: ContactlessTarget, block: number, keyTypeByte: number, keyNumber: number, p1 = 0): Promise<Buffer> {
    if (p1 !== 0) return sw(0x6a86);
    if (!target.authenticate || !target.storage?.needsAuth) return sw(0x6981);
    let keyType: KeyType;
    if (keyTypeByte === 0x60) keyType = 'A';
    else if (keyTypeByte === 0x61) keyType = 'B';
    else return sw(0x6986);
    const key = this.keys.get(keyNumber);
    if (!key) return sw(0x6988);
    try {
      await target.authenticate(block, keyType, key);
    } catch (e) {
      if (e instanceof ContactlessError) return sw(FAILURE_SW[e.failure]);
      throw e;
    }
    return sw(0x9000);
  }

  private async readBinary(target: ContactlessTarget, c: CommandApdu): Promise<Buffer> {
    const st = target.storage;
    if (!st || !target.readBlock) return sw(0x6981);
    if (c.data.length !== 0 || c.le === undefined) return sw(0x6700);
    const block = (c.p1 << 8) | c.p2;
    // Le 00 = the whole read; otherwise one block or one whole read.
    const ne = c.le === 256 ? st.readSize : c.le;
    if (ne !== st.blockSize && ne !== st.readSize) return sw(0x6c00 | st.readSize);
    const data = await target.readBlock(block);
    return sw(0x9000, data.subarray(0, ne));
  }

  private async updateBinary(target: ContactlessTarget, c: CommandApdu): Promise<Buffer> {
    const st = target.storage;
    if (!st || !target.writeBlock) return sw(0x6981);
    if (c.data.length !== st.blockSize) return sw(0x6700);
    await target.writeBlock((c.p1 << 8) | c.p2, c.data);
    return sw(0x9000);
  }
}

/** Historical bytes of an ATS given without TL: skip T0 and the TA/TB/TC it announces. */
export function atsHistoricalBytes(ats: Buffer): Buffer {
  if (ats.length === 0) return Buffer.alloc(0);
  const t0 = ats[0];
  let p = 1;
  if (t0 & 0x10) p++;
  if (t0 & 0x20) p++;
  if (t0 & 0x40) p++;
  return Buffer.from(ats.subarray(Math.min(p, ats.length)));
}

/** Card family from ISO 14443-A activation data (NXP AN10833 SAK/ATQA table, the common cases). */
export function classifyTypeA(sak: number, atqa: Buffer, hasAts: boolean): string {
  if (sak & 0x20 || hasAts) return 'iso14443-4';
  switch (sak) {
    case 0x08:
    case 0x88:
      return 'mifare-classic-1k';
    case 0x18:
      return 'mifare-classic-4k';
    case 0x09:
      return 'mifare-mini';
    case 0x00:
      return atqa.length === 2 && atqa[1] === 0x44 ? 'mifare-ultralight' : 'iso14443-3';
    default:
      return 'iso14443-3';
  }
}

const STORAGE_CARD_NAMES: Record<string, number> = {
  'mifare-classic-1k': 0x0001,
  'mifare-classic-4k': 0x0002,
  'mifare-ultralight': 0x0003,
  'mifare-mini': 0x0026,
};

/** The PC/SC part 3 ATR a reader reports for a type A card (ISO 14443-4: from the ATS; storage cards: RID + SS 03 + card name). */
export function contactlessAtr(card: { sak: number; atqa: Buffer; ats?: Buffer }): Buffer {
  const kind = classifyTypeA(card.sak, card.atqa, card.ats !== undefined);
  if (kind === 'iso14443-4') return buildIso14443Atr(atsHistoricalBytes(card.ats ?? Buffer.alloc(0)));
  return buildContactlessAtr(0x03, STORAGE_CARD_NAMES[kind] ?? 0x0000);
}
