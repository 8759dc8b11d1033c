/**
 * Card handles (SCARDHANDLE): one connection of a context to a reader, with
 * pcscd's per-handle event flag (docs/pcsc.md §4).
 */
import { SCARD } from '../pcsc/constants.js';
import { PcscError } from '../pcsc/error.js';
import type { Context } from './contexts.js';
import type { Reader } from './reader.js';

/** Per-handle event flag values (pcscd's SCARD_RESET / SCARD_REMOVED). */
export const HANDLE_EVENT = { NONE: 0, RESET: 1, REMOVED: 4 } as const;

export interface Handle {
  readonly id: number;
  readonly ctx: Context;
  readonly reader: Reader;
  share: number;
  protocol: number;
  /** HANDLE_EVENT: set by a removal or a reset, cleared only by reconnect. */
  event: number;
  /** The reader went away; every call but disconnect fails with E_READER_UNAVAILABLE. */
  readerGone: boolean;
  /** Disconnected or released; queued calls of a closed handle fail. */
  closed: boolean;
  /** A disconnect is under way (a second one is a no-op). */
  closing: boolean;
}

/** The warning pcscd returns for a flagged handle (Transmit, Status, Begin/EndTransaction, Get/SetAttrib). */
export function checkEvent(h: Handle): void {
  if (h.event === HANDLE_EVENT.NONE) return;
  if (h.event === HANDLE_EVENT.REMOVED) throw new PcscError(SCARD.W_REMOVED_CARD, 'reconnect to use the handle again');
  throw new PcscError(SCARD.W_RESET_CARD, 'reconnect to use the handle again');
}

export function checkReader(h: Handle): void {
  if (h.closed) throw new PcscError(SCARD.E_INVALID_HANDLE, 'the handle was disconnected');
  if (h.readerGone) throw new PcscError(SCARD.E_READER_UNAVAILABLE, `reader "${h.reader.name}" was removed`);
  if (!h.reader.available) throw new PcscError(SCARD.E_READER_UNAVAILABLE, `reader "${h.reader.name}" is not available`);
}
