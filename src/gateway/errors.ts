/**
 * The one error body every frontend sends: the PC/SC code, its SCARD_* name
 * and a message naming the problem. Bad input is SCARD_E_INVALID_PARAMETER
 * (the message says which field and why); anything unexpected becomes
 * SCARD_F_INTERNAL_ERROR with its text.
 */
import { HexError } from '../iso7816/hex.js';
import { SCARD } from '../pcsc/constants.js';
import { PcscError, toPcscError } from '../pcsc/error.js';

export interface ErrorBody {
  /** PC/SC numeric code (SCARD_E_*, SCARD_W_*, SCARD_F_*). */
  code: number;
  /** Its name, e.g. "SCARD_E_UNKNOWN_READER". */
  name: string;
  message: string;
}

/** A request the gateway refuses before touching a reader: the message names the field. */
export const invalid = (message: string): PcscError => new PcscError(SCARD.E_INVALID_PARAMETER, message);

export function errorBody(e: unknown): ErrorBody {
  if (e instanceof HexError) return errorBody(invalid(e.message));
  const p = toPcscError(e);
  return { code: p.code, name: p.codeName, message: p.message };
}
