/**
 * The one APDU rule and the one rendering of an exchange. A command APDU is
 * hex text (spaces allowed) that parses as an ISO 7816-4 short or extended
 * APDU (src/iso7816/apdu.ts); anything else is refused naming the field.
 * Every exchange leaves the gateway through `exchange()`: the data of
 * secret-bearing commands (VERIFY, CHANGE REFERENCE DATA, ... src/log/redact.ts)
 * is replaced by "<n bytes redacted>", in every answer, log line and event.
 */
import { parseApdu } from '../iso7816/apdu.js';
import { parseHex, toHex } from '../iso7816/hex.js';
import { decodeSw } from '../iso7816/status-words.js';
import { isSecretResponse, renderApdu, renderResponse } from '../log/redact.js';
import { invalid } from './errors.js';

export interface Exchange {
  /** The command as sent, spaced hex as in the logs; data of secret-bearing commands replaced by "<n bytes redacted>". */
  apdu: string;
  /** Response data + SW1 SW2, spaced hex as in the logs; data redacted where the command's answer is secret. */
  response: string;
  /** Response data without the status word (redacted likewise). */
  data: string;
  /** SW1 SW2, e.g. "9000". */
  sw: string;
  swText: string;
  /** The status word is a success or information (90 00, 61xx, proprietary 9xxx); warnings and errors are not. */
  ok: boolean;
}

/** Parse bytes given as hex; `field` names the request part in the error. */
export function hexField(text: unknown, field: string): Buffer {
  if (typeof text !== 'string') throw invalid(`${field}: must be hex text`);
  try {
    return parseHex(text);
  } catch (e) {
    throw invalid(`${field}: ${(e as Error).message}`);
  }
}

export function apduField(text: unknown, field: string): Buffer {
  const b = hexField(text, field);
  try {
    parseApdu(b);
  } catch (e) {
    throw invalid(`${field}: ${(e as Error).message}`);
  }
  return b;
}

/** The problem with an APDU text, or undefined (for schema formats). */
export function apduProblem(text: string): string | undefined {
  try {
    parseApdu(parseHex(text));
    return undefined;
  } catch (e) {
    return (e as Error).message;
  }
}

export function hexProblem(text: string): string | undefined {
  try {
    parseHex(text);
    return undefined;
  } catch (e) {
    return (e as Error).message;
  }
}

export function exchange(cmd: Buffer, resp: Buffer): Exchange {
  const sw = resp.length >= 2 ? decodeSw(resp) : undefined;
  const hidden = isSecretResponse(cmd);
  const n = Math.max(0, resp.length - 2);
  return {
    apdu: renderApdu(cmd),
    response: renderResponse(cmd, resp),
    data: hidden ? (n ? `<${n} bytes redacted>` : '') : toHex(resp.subarray(0, n), ''),
    sw: sw?.hex ?? '',
    swText: sw?.text ?? 'no status word (response shorter than 2 bytes)',
    ok: sw ? sw.kind === 'success' || sw.kind === 'info' : false,
  };
}
