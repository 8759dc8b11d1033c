/**
 * The core's public API: the one surface every frontend (pcsc socket, MQTT,
 * HTTP, control channel/CLI) is a thin adapter over. PC/SC Part 5 semantics,
 * pcsc-lite's numeric codes (src/pcsc/constants.ts). Every failure is a
 * PcscError carrying its SCARD_* code.
 */
import type { EventEmitter } from 'node:events';
import type { CardInfo, Driver, Feedback, PinPadEntry } from '../driver/contract.js';
import type { DataCache } from './data-cache.js';

export type ContextId = number;
export type HandleId = number;

/** One PC/SC reader (= one slot of a physical reader), as pcscd's reader-state table shows it. */
export interface ReaderSnapshot {
  /** pcscd-style name: `<friendly> [<interface>] (<serial>) RR SS`. */
  name: string;
  /** Driver name ('sim', 'vpcd', 'pn532', ...). */
  driver: string;
  /** CARD_STATE bits (SCardStatus' and the reader table's readerState). */
  state: number;
  /** Incremented on every card insertion and removal (upper 16 bits of dwEventState). */
  eventCounter: number;
  /** pcscd's readerSharing: -1 held exclusively, 0 unused, n = shared/direct handles. */
  sharing: number;
  /** ATR of the present card (empty when none). */
  atr: Buffer;
  /** Negotiated protocol (PROTOCOL.*) or 0. */
  protocol: number;
  /** False while the reader's transport is lost (state then has UNKNOWN). */
  available: boolean;
  /** True when the card did not answer power-up (MUTE). */
  mute: boolean;
  card?: CardInfo;
  /** ISO 8601 time of the last presence/availability change. */
  since: string;
  /** Reader capabilities frontends may offer (pinpad: an emulated PIN pad simulate/pinpad types on). */
  capabilities: { feedback: boolean; simulate: boolean; contactless: boolean; pinpad: boolean };
}

export interface ReaderStateQuery {
  reader: string;
  /** dwCurrentState: STATE.* bits, upper 16 bits = event counter the caller knows. */
  currentState: number;
}

export interface ReaderStateResult {
  reader: string;
  /** dwEventState: STATE.* bits incl. CHANGED, upper 16 bits = event counter. */
  eventState: number;
  atr: Buffer;
}

export interface ConnectResult {
  handle: HandleId;
  protocol: number;
}

export interface StatusResult {
  reader: string;
  /** CARD_STATE bits. */
  state: number;
  protocol: number;
  atr: Buffer;
}

/** Everything the core announces. Frontends subscribe; none of them polls. */
export interface CoreEvents {
  'reader-added': [reader: ReaderSnapshot];
  'reader-removed': [reader: ReaderSnapshot];
  'card-inserted': [reader: ReaderSnapshot];
  'card-removed': [reader: ReaderSnapshot];
  /** reader.error: a driver fault, a mute card... The reader stays listed. */
  'reader-error': [reader: ReaderSnapshot, error: Error];
  /** Any change of a reader's table entry (state, counter, sharing, ATR, protocol). */
  'reader-state': [reader: ReaderSnapshot];
}

export interface ScardCore extends EventEmitter<CoreEvents> {
  /** The Smart Card data cache (Windows' SCardReadCache/SCardWriteCache): src/core/data-cache.ts. */
  readonly dataCache: DataCache;
  /** Register a driver and start it; its readers appear as it reports them. */
  addDriver(driver: Driver): Promise<void>;
  /** Stop every driver (cards unpowered), fail pending calls with SCARD_E_SERVICE_STOPPED... */
  stop(): Promise<void>;

  // --- readers (no context needed: frontends' views) ---
  readers(): ReaderSnapshot[];
  reader(name: string): ReaderSnapshot | undefined;

  // --- contexts ---
  /** `owner` is a label for diagnostics (e.g. "pcsc:pid 1234", "mqtt", "http"). */
  establishContext(owner?: string): ContextId;
  /** Releases every handle (transaction holders: reset, as pcscd) and wakes its waiters with E_CANCELLED. */
  releaseContext(ctx: ContextId): Promise<void>;
  isValidContext(ctx: ContextId): boolean;
  listReaders(ctx: ContextId): string[];
  /** SCardGetStatusChange semantics; includes the `\\?PnP?\Notification` pseudo reader. timeoutMs: INFINITE allowed. */
  getStatusChange(ctx: ContextId, states: ReaderStateQuery[], timeoutMs: number): Promise<ReaderStateResult[]>;
  /** Wakes this context's getStatusChange with SCARD_E_CANCELLED. */
  cancel(ctx: ContextId): void;

  // --- card handles ---
  connect(ctx: ContextId, reader: string, shareMode: number, preferredProtocols: number): Promise<ConnectResult>;
  reconnect(handle: HandleId, shareMode: number, preferredProtocols: number, initialization: number): Promise<{ protocol: number }>;
  disconnect(handle: HandleId, disposition: number): Promise<void>;
  beginTransaction(handle: HandleId): Promise<void>;
  endTransaction(handle: HandleId, disposition: number): Promise<void>;
  /** `protocol` is the send PCI's protocol (must match the negotiated one unless RAW). Validates the APDU first. */
  transmit(handle: HandleId, protocol: number, apdu: Buffer): Promise<Buffer>;
  control(handle: HandleId, code: number, data: Buffer): Promise<Buffer>;
  status(handle: HandleId): Promise<StatusResult>;
  getAttrib(handle: HandleId, attr: number): Promise<Buffer>;
  setAttrib(handle: HandleId, attr: number, value: Buffer): Promise<void>;

  // --- immediate forms (the pcsc socket's fast path): the same checks and effects as the calls above
  //     when nothing has to wait; otherwise they change nothing and say so, and the caller uses the async form.
  /** The handle now, or undefined (card work or another handle's transaction to wait for: call connect()). Throws PcscError. */
  connectNow(ctx: ContextId, reader: string, shareMode: number, preferredProtocols: number): ConnectResult | undefined;
  /** True when disconnected now; false: the card must be reset/unpowered/ejected, call disconnect(). Throws PcscError. */
  disconnectNow(handle: HandleId, disposition: number): boolean;
  /** True when released now; false: a transaction holder's card must be reset, call releaseContext(). Throws PcscError. */
  releaseContextNow(ctx: ContextId): boolean;
  /** SCardStatus' return code (0 or the SCARD_* code) without a promise. */
  statusNow(handle: HandleId): number;

  // --- reader services outside PC/SC (capabilities in ReaderSnapshot) ---
  feedback(reader: string, f: Feedback): Promise<void>;
  simulateInsert(reader: string, spec: unknown): Promise<void>;
  simulateRemove(reader: string): Promise<void>;
  /** Keys on the reader's emulated PIN pad, for the prompt it shows or the next within waitMs (E_TIMEOUT otherwise). */
  simulatePinpad(reader: string, entry: PinPadEntry, waitMs: number): Promise<void>;

  diagnostics(): Record<string, unknown>;
}
