/**
 * The control channel's wire format, shared by the daemon side and scardctl:
 * newline-delimited JSON over a Unix socket.
 *
 *   request   {"id": 1, "method": "<operation>", "params": {...}}
 *   response  {"id": 1, "result": ...}   or   {"id": 1, "error": {"code": 2148532233, "name": "SCARD_E_UNKNOWN_READER", "message": "..."}}
 *   event     {"id": 2, "event": "card-inserted", "reader": {...}, "time": "..."}   (after a `watch`)
 *
 * Methods are the gateway's operations (src/gateway/catalog.ts) plus `watch`,
 * `unwatch` and `ping`; results and errors are the gateway's shapes. A request
 * without a usable id is answered with id null.
 */
import { OPERATION_NAMES } from '../../gateway/catalog.js';
import { invalid, type ErrorBody } from '../../gateway/errors.js';
import type { Reader } from '../../gateway/readers.js';

/** Methods of the channel itself (streaming, liveness); everything else is a gateway operation. */
export const CHANNEL_METHODS = ['ping', 'watch', 'unwatch'] as const;
export const CONTROL_METHODS = [...CHANNEL_METHODS, ...OPERATION_NAMES];

/** Longest request line accepted; a longer one is refused and the connection closed (it cannot be re-synchronised). */
export const MAX_LINE_BYTES = 1 << 20;

export interface ControlRequest {
  id: number | string | null;
  method: string;
  params?: Record<string, unknown>;
}

export type ControlErrorBody = ErrorBody;
export type ReaderJson = Reader;

export interface ControlEvent {
  id: number | string | null;
  event: 'reader-added' | 'reader-removed' | 'card-inserted' | 'card-removed' | 'reader-error' | 'reader-state';
  time: string;
  reader: Reader;
  error?: string;
}

/**
 * Splits a byte stream into lines, refusing lines longer than `max` bytes
 * (the caller closes the connection then: there is no way to find the next request).
 */
export class LineSplitter {
  private buf = '';
  constructor(
    private readonly onLine: (line: string) => void,
    private readonly onOverflow: () => void,
    private readonly max = MAX_LINE_BYTES,
  ) {}
  push(chunk: string): void {
    this.buf += chunk;
    let nl: number;
    while ((nl = this.buf.indexOf('\n')) >= 0) {
      const line = this.buf.slice(0, nl);
      this.buf = this.buf.slice(nl + 1);
      if (line.length > this.max) {
        this.buf = '';
        this.onOverflow();
        return;
      }
      if (line.trim() !== '') this.onLine(line);
    }
    if (this.buf.length > this.max) {
      this.buf = '';
      this.onOverflow();
    }
  }
}

/**
 * One request line as a request; throws SCARD_E_INVALID_PARAMETER naming the
 * problem, with the request's id attached (`reqId`) when it had a usable one.
 */
export function parseControlLine(line: string): ControlRequest {
  let parsed: unknown;
  try {
    parsed = JSON.parse(line);
  } catch (err) {
    throw invalid(`not valid JSON: ${(err as Error).message}`);
  }
  if (typeof parsed !== 'object' || parsed === null || Array.isArray(parsed)) throw invalid('a request must be a JSON object');
  const o = parsed as Record<string, unknown>;
  const id = typeof o.id === 'number' || typeof o.id === 'string' ? o.id : null;
  if (typeof o.method !== 'string') throw Object.assign(invalid('request has no "method" string'), { reqId: id });
  if (o.params !== undefined && (typeof o.params !== 'object' || o.params === null || Array.isArray(o.params))) {
    throw Object.assign(invalid('"params" must be a JSON object'), { reqId: id });
  }
  return { id, method: o.method, params: o.params as Record<string, unknown> | undefined };
}
