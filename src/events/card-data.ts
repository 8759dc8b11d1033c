/**
 * What a card event says about the card: ATR, protocol, contactless UID with
 * its byte order, the Wiegand numbers door controllers use, and the tag type.
 */
import type { ReaderSnapshot } from '../core/api.js';
import { PROTOCOL } from '../pcsc/constants.js';
import { toHex } from '../iso7816/hex.js';
import { parseAtr } from '../iso7816/atr.js';
import { wiegand26, wiegand34, type WiegandByteOrder } from './wiegand.js';

export const UID_BYTE_ORDER = 'UID0 first, as received in anticollision and returned by FF CA 00 00 00';

export function protocolName(p: number): string | null {
  switch (p) {
    case PROTOCOL.T0:
      return 'T=0';
    case PROTOCOL.T1:
      return 'T=1';
    case PROTOCOL.RAW:
      return 'RAW';
    case PROTOCOL.T15:
      return 'T=15';
    default:
      return null;
  }
}

/** The tag type: the driver's word first, else the PC/SC part 3 card name in a contactless ATR, else the ATR's family. */
export function cardType(r: ReaderSnapshot): string | null {
  if (r.card?.type) return r.card.type;
  if (!r.atr.length) return null;
  try {
    const a = parseAtr(r.atr);
    const cl = a.historicalInfo?.contactless;
    if (cl) return cl.cardNameText;
    return r.card?.contactless ? 'iso14443-4' : 'iso7816';
  } catch {
    return r.card?.contactless ? 'contactless' : 'iso7816';
  }
}

/** Card identity used by de-bounce: the UID when there is one, else the ATR. */
export function cardIdentity(r: ReaderSnapshot, uid?: Buffer): string {
  const u = uid ?? r.card?.uid;
  if (!u?.length && r.card?.credential) return `credential:${r.card.credential.bits}:${r.card.credential.hex}`;
  return u?.length ? `uid:${toHex(u, '')}` : `atr:${toHex(r.atr, '')}`;
}

export interface CardFields {
  atr: string;
  protocol: string | null;
  contactless: boolean;
  cardType: string | null;
  uid?: string;
  uidByteOrder?: string;
  uidLength?: number;
  wiegand26?: ReturnType<typeof wiegand26>;
  wiegand34?: ReturnType<typeof wiegand34>;
  atqa?: string;
  sak?: number;
  ats?: string;
  /** Credential read by an access-control reader (OSDP): format, bits, facility/card number. */
  credential?: Record<string, unknown>;
}

/** Card fields for card.inserted; `uid` overrides the driver's (e.g. from a profile's FF CA answer). */
export function cardFields(r: ReaderSnapshot, order: WiegandByteOrder, uid?: Buffer): CardFields {
  const out: CardFields = {
    atr: toHex(r.atr, ''),
    protocol: protocolName(r.protocol),
    contactless: Boolean(r.card?.contactless ?? r.capabilities.contactless),
    cardType: cardType(r),
  };
  const u = uid ?? r.card?.uid;
  if (u?.length) {
    out.uid = toHex(u, '');
    out.uidByteOrder = UID_BYTE_ORDER;
    out.uidLength = u.length;
    const w26 = wiegand26(u, order);
    const w34 = wiegand34(u, order);
    if (w26) out.wiegand26 = w26;
    if (w34) out.wiegand34 = w34;
  }
  if (r.card?.credential) out.credential = { ...r.card.credential };
  if (r.card?.atqa) out.atqa = toHex(r.card.atqa, '');
  if (r.card?.sak !== undefined) out.sak = r.card.sak;
  if (r.card?.ats) out.ats = toHex(r.card.ats, '');
  return out;
}
