/**
 * The control channel's wire format, shared by the daemon side and scardctl:
 * newline-delimited JSON over a Unix socket.
 *
 *   request   {"id": 1, "method": "readers", "params": {...}}
 *   response  {"id": 1, "result": ...}   or   {"id": 1, "error": {"code": "...", "message": "..."}}
 *   event     {"id": 2, "event": "card-inserted", "reader": {...}, "time": "..."}   (after a `watch`)
 *
 * Responses carry the request's id; a request without a usable id is answered
 * with id null. Bytes (ATR, APDUs) travel as upper-case hex text.
 */
import type { ReaderSnapshot } from '../../core/api.js';
import { toHex } from '../../iso7816/hex.js';
import { CARD_STATE } from '../../pcsc/constants.js';

export const CONTROL_METHODS = ['ping', 'readers', 'watch', 'unwatch', 'transmit', 'insert', 'remove', 'diagnostics', 'cache/card', 'cache/read', 'cache/write', 'cache/remove', 'cache/list'] as const;
export type ControlMethod = (typeof CONTROL_METHODS)[number];

/** Longest request line accepted; a longer one is refused and the connection closed (it cannot be re-synchronised). */
export const MAX_LINE_BYTES = 1 << 20;

export interface ControlRequest {
  id: number | string | null;
  method: string;
  params?: Record<string, unknown>;
}

export interface ControlErrorBody {
  /** Stable machine code: 'bad-request', 'unknown-method', 'bad-params', 'no-reader', 'pcsc', 'internal'. */
  code: string;
  message: string;
  /** For code 'pcsc': the SCARD_* name and number. */
  pcsc?: { name: string; code: number };
}

export interface ReaderJson {
  name: string;
  driver: string;
  present: boolean;
  state: number;
  eventCounter: number;
  sharing: number;
  atr: string;
  protocol: number;
  available: boolean;
  mute: boolean;
  card?: { contactless: boolean; type?: string; uid?: string; atqa?: string; sak?: number; ats?: string };
  since: string;
  capabilities: ReaderSnapshot['capabilities'];
}

export function readerToJson(r: ReaderSnapshot): ReaderJson {
  const card = r.card
    ? {
        contactless: r.card.contactless,
        ...(r.card.type !== undefined ? { type: r.card.type } : {}),
        ...(r.card.uid ? { uid: toHex(r.card.uid, '') } : {}),
        ...(r.card.atqa ? { atqa: toHex(r.card.atqa, '') } : {}),
        ...(r.card.sak !== undefined ? { sak: r.card.sak } : {}),
        ...(r.card.ats ? { ats: toHex(r.card.ats, '') } : {}),
      }
    : undefined;
  return {
    name: r.name,
    driver: r.driver,
    present: (r.state & CARD_STATE.PRESENT) !== 0,
    state: r.state,
    eventCounter: r.eventCounter,
    sharing: r.sharing,
    atr: toHex(r.atr, ''),
    protocol: r.protocol,
    available: r.available,
    mute: r.mute,
    ...(card ? { card } : {}),
    since: r.since,
    capabilities: r.capabilities,
  };
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
