/**
 * The core: PC/SC resource manager (ScardCore) plus the helpers frontends
 * share (one-shot APDU runs, leased sessions).
 *
 * Events: 'reader-added' / 'reader-removed' when a reader enters or leaves the
 * table, 'reader-state' for every change of a listed reader's entry (state,
 * counter, sharing, ATR, protocol, availability), 'card-inserted' /
 * 'card-removed' after the table entry is updated; each exactly once.
 */
export type * from './api.js';
export { ResourceManager, type CoreOptions } from './resource-manager.js';
export { readerName, readerBaseName, InstanceAllocator } from './reader-names.js';
export { runApdus, type OneShotOptions, type OneShotResult, type ApduResult } from './oneshot.js';
export { SessionManager, type SessionInfo, type SessionOptions, type SessionManagerOptions } from './sessions.js';
