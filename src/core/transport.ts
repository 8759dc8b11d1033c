/**
 * How an APDU reaches the card of a slot: unchanged for APDU-level slots (as
 * pcscd does with APDU-level drivers); for TPDU-level slots through the T=0
 * dialogue (61xx GET RESPONSE, 6Cxx re-issue) or the T=1 block protocol of
 * src/iso7816, so drivers never implement them.
 */
import type { DriverSlot } from '../driver/contract.js';
import { PROTOCOL, SCARD } from '../pcsc/constants.js';
import { isPcscError } from '../pcsc/error.js';
import { transmitT0 } from '../iso7816/t0.js';
import { T1Protocol } from '../iso7816/t1.js';
import type { AtrProtocols } from './protocol-choice.js';

export type Transport = (apdu: Buffer) => Promise<Buffer>;

/** IFSD we announce to T=1 cards, as libccid does (254, the maximum). */
const OUR_IFSD = 254;
const NO_BLOCK: Buffer = Buffer.alloc(0);

/** Build the transport for the protocol just negotiated (one per power-up: T=1 keeps sequence numbers). */
export function makeTransport(slot: DriverSlot, protocol: number, atr: AtrProtocols | undefined): Transport {
  if (slot.level !== 'tpdu' || protocol === PROTOCOL.RAW) return (apdu) => slot.transmit(apdu, protocol);
  if (protocol === PROTOCOL.T0) {
    const send = (tpdu: Buffer): Promise<Buffer> => slot.transmit(tpdu, PROTOCOL.T0);
    return (apdu) => transmitT0(apdu, send);
  }
  // T=1: a driver reports an expired block waiting time as E_TIMEOUT; T1Protocol wants an
  // empty block for that, so it can recover with R-blocks and resynchronisation.
  const exchangeBlock = (block: Buffer): Promise<Buffer> =>
    slot.transmit(block, PROTOCOL.T1).catch((e: unknown) => {
      if (isPcscError(e) && e.code === SCARD.E_TIMEOUT) return NO_BLOCK;
      throw e;
    });
  const t1 = new T1Protocol({ ifsc: atr?.ifsc ?? 32, edc: atr?.edc ?? 'lrc' }, exchangeBlock);
  let ifsdAnnounced = false;
  return async (apdu) => {
    if (!ifsdAnnounced) {
      ifsdAnnounced = true;
      // A card that refuses S(IFS) keeps working with the default IFSD of 32.
      await t1.negotiateIfsd(OUR_IFSD).catch(() => undefined);
    }
    return t1.transmit(apdu);
  };
}
