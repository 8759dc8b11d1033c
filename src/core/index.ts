/**
 * The core: PC/SC resource manager (ScardCore) plus the helpers frontends
 * share (one-shot APDU runs, leased sessions).
 *
 * Events: 'reader-added' / 'reader-removed' when a reader enters or leaves the
 * table, 'reader-state' for every change of a listed reader's entry (state,
 * counter, sharing, ATR, protocol, availability; a connect is one change),
 * 'card-inserted' / 'card-removed' after the table entry is updated; each
 * exactly once. Listen to all three table events to mirror the table.
 *
 * Deliberate differences from pcscd 1.9.9 (same results, better behaviour):
 * - A handle kept out by another handle's transaction waits in the reader's
 *   FIFO (BeginTransaction, Transmit, Reconnect, Disconnect with a
 *   disposition) instead of SHARING_VIOLATION + 100 ms client retries; grants
 *   come in request order.
 * - Connect waits for another handle's transaction only when it must power the
 *   card or negotiate its protocol (pcscd always waits, PCSC#254). Status never
 *   waits (no card I/O).
 * - A handle whose reader was removed answers E_READER_UNAVAILABLE to every call
 *   (pcscd mostly E_INVALID_VALUE); Disconnect succeeds, as in pcscd.
 * - Reconnect to SHARED/DIRECT from EXCLUSIVE drops the exclusive base lock
 *   (pcscd keeps it until disconnect).
 * - Readers are listed only once their first state (card powered) is known;
 *   sharing changes are published at once.
 * - An ATR longer than 33 bytes is refused (card shown mute) rather than published.
 */
export type * from './api.js';
export { ResourceManager, type CoreOptions } from './resource-manager.js';
export { DataCache, DATA_CACHE_DEFAULTS, isWriteApdu, stableCardId, type CacheItem, type DataCacheOptions } from './data-cache.js';
export { readerName, readerBaseName, InstanceAllocator } from './reader-names.js';
export { runApdus, type OneShotOptions, type OneShotResult, type ApduResult } from './oneshot.js';
export { SessionManager, type SessionInfo, type SessionOptions, type SessionManagerOptions } from './sessions.js';
