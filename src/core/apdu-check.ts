/**
 * The transmit hot path's APDU check: the same structural rules as
 * src/iso7816/apdu.ts parseApdu (ISO 7816-4 cases 1-4, short and extended),
 * without building the parsed object, so a well-formed APDU costs no
 * allocation. A malformed one is handed to parseApdu, whose ApduError names the
 * problem; the fuzz test in test/core checks both agree.
 */
import { parseApdu } from '../iso7816/apdu.js';

export function isWellFormedApdu(b: Buffer): boolean {
  const n = b.length;
  if (n < 4) return false;
  const l = n - 4;
  if (l <= 1) return true;
  const b1 = b[4];
  if (b1 !== 0) return l === 1 + b1 || l === 2 + b1;
  if (l === 2) return false;
  if (l === 3) return true;
  const nc = (b[5] << 8) | b[6];
  return nc !== 0 && (l === 3 + nc || l === 5 + nc);
}

/** Throws the codec's ApduError (SCARD_E_INVALID_PARAMETER) for a malformed APDU. */
export function checkApdu(b: Buffer): void {
  if (!isWellFormedApdu(b)) {
    parseApdu(b);
    // parseApdu accepted what the fast check refused: the two rule sets drifted apart.
    throw new Error('internal: APDU checks disagree');
  }
}
