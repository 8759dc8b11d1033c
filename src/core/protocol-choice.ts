/**
 * Which protocol a connect gets (docs/pcsc.md §4): RAW when asked for,
 * the card's specific protocol when TA2 imposes one, otherwise T=1 before T=0
 * among those the ATR offers and the caller accepts, as pcscd does.
 */
import { PROTOCOL, SCARD } from '../pcsc/constants.js';
import { PcscError } from '../pcsc/error.js';
import { parseAtr } from '../iso7816/atr.js';

export interface AtrProtocols {
  /** PROTOCOL.* mask of what the card offers. */
  offered: number;
  /** PROTOCOL.* bit the card is fixed to (specific mode), 0 when negotiable. */
  specific: number;
  /** T=1 information field size of the card, from the ATR (default 32). */
  ifsc: number;
  /** T=1 error detection code announced by the ATR. */
  edc: 'lrc' | 'crc';
  /** T=1 block waiting integer (default 4). */
  bwi: number;
  /** T=0 waiting integer (default 10). */
  wi: number;
}

const bit = (t: number): number => (t === 0 ? PROTOCOL.T0 : t === 1 ? PROTOCOL.T1 : 0);

/** Read what the ATR offers; an ATR we cannot parse is taken as offering both T=0 and T=1 (no reason to refuse the card). */
export function atrProtocols(atr: Buffer): AtrProtocols {
  try {
    const p = parseAtr(atr);
    let offered = 0;
    for (const t of p.protocols) offered |= bit(t);
    const specific = p.specificMode && p.specificProtocol !== undefined ? bit(p.specificProtocol) : 0;
    return {
      offered: offered || PROTOCOL.T0,
      specific,
      ifsc: p.t1?.ifsc ?? 32,
      edc: p.t1?.edc ?? 'lrc',
      bwi: p.t1?.bwi ?? 4,
      wi: p.wi,
    };
  } catch {
    return { offered: PROTOCOL.T0 | PROTOCOL.T1, specific: 0, ifsc: 32, edc: 'lrc', bwi: 4, wi: 10 };
  }
}

/** Mask bits a connect may ask for (0x1000 is pcsc-lite's legacy "any"). */
export function validProtocolMask(mask: number): boolean {
  return (mask & (PROTOCOL.T0 | PROTOCOL.T1 | PROTOCOL.RAW | PROTOCOL.ANY_LEGACY)) !== 0;
}

/**
 * The protocol to negotiate for `preferred` on a card with `atr` (none
 * negotiated since power-up). Throws SCARD_E_PROTO_MISMATCH when impossible.
 */
export function chooseProtocol(preferred: number, info: AtrProtocols): number {
  if (preferred & PROTOCOL.RAW) return PROTOCOL.RAW;
  const wanted = preferred & PROTOCOL.ANY_LEGACY ? PROTOCOL.T0 | PROTOCOL.T1 : preferred & (PROTOCOL.T0 | PROTOCOL.T1);
  const usable = (info.specific || info.offered) & wanted;
  if (usable & PROTOCOL.T1) return PROTOCOL.T1;
  if (usable & PROTOCOL.T0) return PROTOCOL.T0;
  throw new PcscError(
    SCARD.E_PROTO_MISMATCH,
    `the card offers ${protocolNames(info.specific || info.offered)}, the caller accepts ${protocolNames(wanted)}`,
  );
}

export function protocolNames(mask: number): string {
  const n: string[] = [];
  if (mask & PROTOCOL.T0) n.push('T=0');
  if (mask & PROTOCOL.T1) n.push('T=1');
  if (mask & PROTOCOL.RAW) n.push('RAW');
  return n.length ? n.join('/') : 'none';
}
