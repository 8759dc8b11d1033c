/**
 * How failures become HTTP answers: the gateway's error body
 * `{ code, name, message }` (src/gateway/errors.ts) under a status chosen
 * from the PC/SC code. Framework refusals (bad JSON, body too large, no such
 * route) get the same body.
 */
import { SCARD } from '../../pcsc/constants.js';
import { PcscError } from '../../pcsc/error.js';
import { errorBody, type ErrorBody } from '../../gateway/errors.js';

/** A refusal of the HTTP layer itself, with its status and the PC/SC code that says the same. */
export class HttpError extends PcscError {
  constructor(
    readonly statusCode: number,
    message: string,
    code: number = statusCode === 401 || statusCode === 403 ? SCARD.E_NO_ACCESS : statusCode === 404 ? SCARD.E_INVALID_PARAMETER : statusCode >= 500 ? SCARD.F_INTERNAL_ERROR : SCARD.E_INVALID_PARAMETER,
  ) {
    super(code, message);
  }
}

const STATUS_BY_SCARD = new Map<number, number>([
  [SCARD.E_UNKNOWN_READER, 404],
  [SCARD.E_INVALID_HANDLE, 404],
  [SCARD.E_INVALID_PARAMETER, 400],
  [SCARD.E_INVALID_VALUE, 400],
  [SCARD.E_INSUFFICIENT_BUFFER, 400],
  [SCARD.E_INVALID_ATR, 400],
  [SCARD.E_NO_ACCESS, 403],
  [SCARD.E_PROTO_MISMATCH, 409],
  [SCARD.E_NO_SMARTCARD, 409],
  [SCARD.E_SHARING_VIOLATION, 409],
  [SCARD.E_READER_UNAVAILABLE, 409],
  [SCARD.E_NOT_READY, 409],
  [SCARD.E_NOT_TRANSACTED, 409],
  [SCARD.W_REMOVED_CARD, 409],
  [SCARD.W_RESET_CARD, 409],
  [SCARD.W_UNPOWERED_CARD, 409],
  [SCARD.W_UNRESPONSIVE_CARD, 409],
  [SCARD.W_UNSUPPORTED_CARD, 409],
  [SCARD.E_CARD_UNSUPPORTED, 409],
  [SCARD.E_NO_MEMORY, 503],
  [SCARD.E_UNSUPPORTED_FEATURE, 501],
  [SCARD.E_READER_UNSUPPORTED, 501],
  [SCARD.E_TIMEOUT, 504],
  [SCARD.E_SERVER_TOO_BUSY, 503],
  [SCARD.E_NO_SERVICE, 503],
  [SCARD.E_SERVICE_STOPPED, 503],
  [SCARD.F_COMM_ERROR, 502],
  // The data cache's answers (README "Smart Card data cache").
  [SCARD.W_CACHE_ITEM_NOT_FOUND, 404],
  [SCARD.W_CACHE_ITEM_STALE, 409],
  [SCARD.W_CACHE_ITEM_TOO_BIG, 413],
]);

/** The status and body for anything a route or the framework threw. */
export function toHttpError(e: unknown): { status: number; body: ErrorBody } {
  if (e instanceof HttpError) return { status: e.statusCode, body: errorBody(e) };
  if (e instanceof PcscError) return { status: STATUS_BY_SCARD.get(e.code) ?? 500, body: errorBody(e) };
  const err = e as { statusCode?: number; message?: string; code?: string; validation?: unknown };
  if (typeof err?.statusCode === 'number' && err.statusCode >= 400 && err.statusCode < 500) {
    let message = String(err.message ?? 'bad request');
    if (err.code === 'FST_ERR_CTP_INVALID_JSON_BODY' || (err.statusCode === 400 && /JSON/.test(message) && !err.validation)) {
      message = `request body is not valid JSON: ${message}`;
    } else if (err.code === 'FST_ERR_CTP_BODY_TOO_LARGE') {
      message = `request body is too large (limit set by http.bodyLimitBytes)`;
    } else if (err.code === 'FST_ERR_CTP_INVALID_MEDIA_TYPE') {
      message = `unsupported content type (send application/json): ${message}`;
    }
    return toHttpError(new HttpError(err.statusCode, message, err.statusCode === 429 ? SCARD.E_SERVER_TOO_BUSY : undefined));
  }
  return { status: 500, body: errorBody(e) };
}
