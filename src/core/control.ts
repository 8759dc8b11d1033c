/**
 * SCardControl: reader-specific commands. CM_IOCTL_GET_FEATURE_REQUEST (PC/SC
 * part 10) is always answered, since OpenSC sends it after every connect:
 * with the driver's feature TLVs, or an empty list ("no features").
 */
import { CM_IOCTL_GET_FEATURE_REQUEST, SCARD } from '../pcsc/constants.js';
import { PcscError, toPcscError } from '../pcsc/error.js';
import type { Reader } from './reader.js';

const EMPTY: Buffer = Buffer.alloc(0);

/** Run inside the reader's queue (a control exchange uses the reader). */
export async function control(r: Reader, code: number, data: Buffer): Promise<Buffer> {
  const c = code >>> 0;
  const fn = r.slot.control?.bind(r.slot);
  if (c === CM_IOCTL_GET_FEATURE_REQUEST) {
    if (!fn) return EMPTY;
    try {
      return await fn(c, data);
    } catch (e) {
      if (toPcscError(e).code === SCARD.E_UNSUPPORTED_FEATURE) return EMPTY;
      throw toPcscError(e, SCARD.E_NOT_TRANSACTED);
    }
  }
  if (!fn) throw new PcscError(SCARD.E_UNSUPPORTED_FEATURE, `control code 0x${c.toString(16).toUpperCase()} is not supported by this reader`);
  try {
    return await fn(c, data);
  } catch (e) {
    throw toPcscError(e, SCARD.E_NOT_TRANSACTED);
  }
}
