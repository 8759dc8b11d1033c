/**
 * What the emulated PN532 sees of a card in its field: the card models of
 * drivers/sim/cards, reached through their ISO 14443 face (UID, ATQA, SAK, ATS)
 * and either APDUs (ISO 14443-4) or native MIFARE commands (storage cards).
 */
import { MifareClassicCard, MifareUltralightCard, NtagCard, createCard, type MifareResult, type SimCard } from '../../drivers/sim/cards/index.js';

/** Native MIFARE command result as the PN532 reports it: status byte and data. */
export interface NativeResult {
  status: number;
  data?: Buffer;
}

export interface FieldCard {
  readonly sim: SimCard;
  readonly uid: Buffer;
  /** MSB first, as the PN532 prints it. */
  readonly atqa: Buffer;
  readonly sak: number;
  /** ATS without TL, for ISO 14443-4 cards. */
  readonly ats?: Buffer;
  readonly iso14443_4: boolean;
  /** The card was activated (REQA/WUPA + anticollision + select [+ RATS]): volatile state goes. */
  activate(): void;
  /** One APDU (ISO 14443-4 cards). */
  apdu(cmd: Buffer): Buffer;
  /** One native command (MIFARE Classic / Ultralight: 60/61, 30, A0, A2...). */
  native(cmd: Buffer): NativeResult;
}

/**
 * PN532 status for native MIFARE failures: a refused key is 0x14 (docs/pn532.md
 * §9); any other refusal is a 4-bit NAK or silence from the card, which the
 * PN532 reports as 0x01 (no valid answer). A MIFARE Classic that NAKs or fails
 * an authentication is HALTed (the sim model does that) until selected again.
 */
const TIMEOUT = 0x01;
const AUTH_ERROR = 0x14;

export function fieldCardOf(specOrCard: unknown): FieldCard {
  const sim: SimCard = typeof (specOrCard as SimCard)?.process === 'function' ? (specOrCard as SimCard) : createCard(specOrCard);
  const info = sim.info;
  if (!info.contactless || !info.uid || !info.atqa || info.sak === undefined) {
    throw new Error(`card type ${sim.type} has no ISO 14443-A face (uid/atqa/sak): it cannot be tapped on a PN532`);
  }
  const iso4 = (info.sak & 0x20) !== 0 && sim.interface === 'apdu';
  const classic = sim instanceof MifareClassicCard ? sim : undefined;
  const ul = sim instanceof MifareUltralightCard || sim instanceof NtagCard ? sim : undefined;
  const ntag = sim instanceof NtagCard ? sim : undefined;
  const status = (r: MifareResult<unknown>): number => (r.ok ? 0 : r.failure === 'auth-failed' ? AUTH_ERROR : TIMEOUT);
  return {
    sim,
    uid: info.uid,
    atqa: info.atqa,
    sak: info.sak,
    ats: info.ats,
    iso14443_4: iso4,
    activate() {
      sim.reset();
    },
    apdu(cmd) {
      return sim.process(cmd);
    },
    native(cmd) {
      // GET_VERSION: NTAG21x answer their product data; an Ultralight NAKs it (docs/pn532.md §10)
      if (cmd.length === 1 && cmd[0] === 0x60) return ntag ? { status: 0, data: ntag.getVersion() } : { status: TIMEOUT };
      if (cmd.length < 2) return { status: TIMEOUT };
      const op = cmd[0];
      const addr = cmd[1];
      if (classic) {
        switch (op) {
          case 0x60:
          case 0x61:
            // Key(6) + the last 4 UID bytes; anything else is a syntax error for the PN532
            if (cmd.length !== 12) return { status: 0x10 };
            return { status: status(classic.authenticate(addr, op === 0x60 ? 'A' : 'B', cmd.subarray(2, 8))) };
          case 0x30: {
            const r = classic.read(addr);
            return r.ok ? { status: 0, data: r.value } : { status: status(r) };
          }
          case 0xa0:
            if (cmd.length !== 18) return { status: 0x10 };
            return { status: status(classic.write(addr, cmd.subarray(2))) };
          default:
            return { status: TIMEOUT };
        }
      }
      if (ul) {
        switch (op) {
          case 0x30: {
            const r = ul.read(addr);
            return r.ok ? { status: 0, data: r.value } : { status: status(r) };
          }
          case 0xa2:
            if (cmd.length !== 6) return { status: 0x10 };
            return { status: status(ul.write(addr, cmd.subarray(2))) };
          default:
            return { status: TIMEOUT };
        }
      }
      return { status: TIMEOUT };
    },
  };
}
