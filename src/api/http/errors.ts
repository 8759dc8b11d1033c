/** How failures become HTTP answers: a status and a message that names the problem. */
import { SCARD } from '../../pcsc/constants.js';
import { isPcscError } from '../../pcsc/error.js';
import { HexError } from '../../iso7816/hex.js';

/** An error with the HTTP status it deserves; `field` names the request part at fault. */
export class HttpError extends Error {
  constructor(
    readonly statusCode: number,
    message: string,
    readonly extra: Record<string, unknown> = {},
  ) {
    super(message);
    this.name = 'HttpError';
  }
}

const STATUS_BY_SCARD = new Map<number, number>([
  [SCARD.E_UNKNOWN_READER, 404],
  [SCARD.E_INVALID_HANDLE, 404],
  [SCARD.E_INVALID_PARAMETER, 400],
  [SCARD.E_INVALID_VALUE, 400],
  [SCARD.E_INSUFFICIENT_BUFFER, 400],
  [SCARD.E_INVALID_ATR, 400],
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
  [SCARD.E_UNSUPPORTED_FEATURE, 501],
  [SCARD.E_READER_UNSUPPORTED, 501],
  [SCARD.E_TIMEOUT, 504],
  [SCARD.E_SERVER_TOO_BUSY, 503],
  [SCARD.E_NO_SERVICE, 503],
  [SCARD.E_SERVICE_STOPPED, 503],
  [SCARD.F_COMM_ERROR, 502],
]);

export interface ErrorBody {
  statusCode: number;
  error: string;
  message: string;
  /** PC/SC code name (SCARD_E_...), when the core refused. */
  code?: string;
  scard?: number;
  [k: string]: unknown;
}

const REASONS: Record<number, string> = {
  400: 'Bad Request', 401: 'Unauthorized', 403: 'Forbidden', 404: 'Not Found', 409: 'Conflict', 413: 'Payload Too Large',
  415: 'Unsupported Media Type', 429: 'Too Many Requests', 500: 'Internal Server Error', 501: 'Not Implemented',
  502: 'Bad Gateway', 503: 'Service Unavailable', 504: 'Gateway Timeout',
};

export const reason = (status: number): string => REASONS[status] ?? 'Error';

/** Map anything thrown by a route into a status and body. `field` prefixes hex errors ("apdu: ..."). */
export function toHttpError(e: unknown, field?: string): { status: number; body: ErrorBody } {
  if (e instanceof HttpError) {
    return { status: e.statusCode, body: { statusCode: e.statusCode, error: reason(e.statusCode), message: e.message, ...e.extra } };
  }
  if (e instanceof HexError) {
    const message = field ? `${field}: ${e.message}` : e.message;
    return { status: 400, body: { statusCode: 400, error: reason(400), message } };
  }
  if (isPcscError(e)) {
    const status = STATUS_BY_SCARD.get(e.code) ?? 500;
    return { status, body: { statusCode: status, error: reason(status), message: e.message, code: e.codeName, scard: e.code } };
  }
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
    return { status: err.statusCode, body: { statusCode: err.statusCode, error: reason(err.statusCode), message } };
  }
  return { status: 500, body: { statusCode: 500, error: reason(500), message: e instanceof Error ? e.message : String(e) } };
}
