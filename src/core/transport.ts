/**
 * How an APDU reaches the card of a slot: unchanged for APDU-level slots (as
 * pcscd does with APDU-level drivers), through the T=0 or T=1 transport of
 * src/iso7816 for TPDU-level slots.
 */
import type { DriverSlot } from '../driver/contract.js';
import type { AtrProtocols } from './protocol-choice.js';

export type Transport = (apdu: Buffer) => Promise<Buffer>;

export function makeTransport(slot: DriverSlot, protocol: number, _atr: AtrProtocols | undefined): Transport {
  // TPDU-level T=0 / T=1 transports plug in here once src/iso7816/t0.ts and t1.ts land.
  return (apdu) => slot.transmit(apdu, protocol);
}
