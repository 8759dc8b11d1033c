/** JSON views of core objects for the API and the live channel (hex for bytes, names for bits). */
import type { ReaderSnapshot } from '../../core/api.js';
import { CARD_STATE, PROTOCOL } from '../../pcsc/constants.js';
import { toHex } from '../../iso7816/hex.js';

export interface ReaderJson {
  name: string;
  driver: string;
  state: number;
  stateNames: string[];
  cardPresent: boolean;
  eventCounter: number;
  sharing: number;
  atr: string;
  protocol: string | null;
  available: boolean;
  mute: boolean;
  card?: { contactless: boolean; type?: string; uid?: string; atqa?: string; sak?: number; ats?: string };
  since: string;
  capabilities: ReaderSnapshot['capabilities'];
}

function bitNames(value: number, table: Record<string, number>): string[] {
  return Object.entries(table)
    .filter(([, bit]) => (value & bit) !== 0)
    .map(([n]) => n);
}

function protocolName(p: number): string | null {
  if (p === PROTOCOL.T0) return 'T=0';
  if (p === PROTOCOL.T1) return 'T=1';
  if (p === PROTOCOL.RAW) return 'RAW';
  if (p === PROTOCOL.T15) return 'T=15';
  return null;
}

export function readerJson(r: ReaderSnapshot): ReaderJson {
  const c = r.card;
  return {
    name: r.name,
    driver: r.driver,
    state: r.state,
    stateNames: bitNames(r.state, CARD_STATE),
    cardPresent: (r.state & CARD_STATE.PRESENT) !== 0,
    eventCounter: r.eventCounter,
    sharing: r.sharing,
    atr: toHex(r.atr ?? Buffer.alloc(0)),
    protocol: protocolName(r.protocol),
    available: r.available,
    mute: r.mute,
    card: c && {
      contactless: c.contactless,
      type: c.type,
      uid: c.uid && toHex(c.uid),
      atqa: c.atqa && toHex(c.atqa),
      sak: c.sak,
      ats: c.ats && toHex(c.ats),
    },
    since: r.since,
    capabilities: r.capabilities,
  };
}

export function parseProtocol(p: string | undefined): number {
  switch (p) {
    case undefined:
    case 'any':
      return PROTOCOL.T0 | PROTOCOL.T1;
    case 'T=0':
    case 't0':
      return PROTOCOL.T0;
    case 'T=1':
    case 't1':
      return PROTOCOL.T1;
    case 'raw':
      return PROTOCOL.RAW;
    default:
      return PROTOCOL.T0 | PROTOCOL.T1;
  }
}
