/**
 * The PC/SC resource manager: readers from drivers, contexts, card handles,
 * share modes, transactions and status changes with pcscd's semantics
 * (docs/pcsc.md §3–§6). Frontends are thin adapters over this class.
 *
 * Choices where pcscd is not the model (README "Differences from pcscd"):
 * - BeginTransaction, and Transmit/Reconnect of other handles during a
 *   transaction, wait in the reader's FIFO instead of pcscd's 100 ms
 *   SHARING_VIOLATION retry loop. Clients see the same results, in order, sooner.
 * - Status does not wait for another handle's transaction (it needs no card I/O),
 *   and neither does a Connect that needs no card I/O (card powered, protocol
 *   already negotiated, or DIRECT); pcscd makes them wait (PCSC#254), for as
 *   long as the transaction lasts.
 * - Calls that need no waiting (Status, a Connect needing no card work, a LEAVE
 *   Disconnect, a Release with nothing to reset) have synchronous forms (…Now)
 *   the pcsc socket answers from without a promise.
 * - A handle whose reader was removed stays known: every call answers
 *   SCARD_E_READER_UNAVAILABLE, Disconnect succeeds and forgets it (pcscd
 *   answers 0 to that Disconnect too). A reader that comes back under the same
 *   name needs a new connect.
 * - Events: 'reader-added' / 'reader-removed' announce table membership,
 *   'reader-state' every change of a listed reader's entry; each exactly once.
 */
import { ExchangeStats } from './exchange-stats.js';
import { EventEmitter } from 'node:events';
import type { Logger } from 'pino';
import type { Driver, DriverReader, Feedback, PinPadEntry } from '../driver/contract.js';
import { DISPOSITION, LIMITS, PROTOCOL, SCARD, SHARE } from '../pcsc/constants.js';
import { PcscError, toPcscError } from '../pcsc/error.js';
import type {
  ConnectResult,
  ContextId,
  CoreEvents,
  HandleId,
  ReaderSnapshot,
  ReaderStateQuery,
  ReaderStateResult,
  ScardCore,
  StatusResult,
} from './api.js';
import { checkApdu } from './apdu-check.js';
import { DataCache, isWriteApdu, type DataCacheOptions } from './data-cache.js';
import { getAttribute, setAttribute } from './attributes.js';
import { newContext, type Context } from './contexts.js';
import { control as runControl } from './control.js';
import { checkEvent, checkReader, HANDLE_EVENT, type Handle } from './handles.js';
import { IdPool } from './ids.js';
import { validProtocolMask } from './protocol-choice.js';
import { Reader, type ReaderHooks } from './reader.js';
import { InstanceAllocator, readerName } from './reader-names.js';
import { NO_HANDLE_OWNER } from './slot-queue.js';
import { StatusChangeBus } from './status-change.js';

export interface CoreOptions {
  /** Upper bound for one exchange with a card (config core.transmitTimeoutMs). */
  transmitTimeoutMs?: number;
  /** Bounds of the Smart Card data cache (src/core/data-cache.ts). */
  dataCache?: DataCacheOptions;
  log?: Logger;
}

interface Device {
  driver: Driver;
  instance: number;
  readers: Reader[];
  removed: boolean;
}

interface DriverEntry {
  onAdd: (d: DriverReader) => void;
  onRemove: (d: DriverReader) => void;
  pending: Set<Promise<void>>;
}

const invalidHandle = (id: number): PcscError => new PcscError(SCARD.E_INVALID_HANDLE, `no card handle ${id}`);
const releasedError = (): PcscError => new PcscError(SCARD.E_INVALID_HANDLE, 'the context was released');
const disconnectedError = (): PcscError => new PcscError(SCARD.E_INVALID_HANDLE, 'the handle was disconnected');
const invalidContext = (id: number): PcscError => new PcscError(SCARD.E_INVALID_HANDLE, `no context ${id}`);

export class ResourceManager extends EventEmitter<CoreEvents> implements ScardCore {
  /** Windows-style per-card data cache; the core keeps its card identities and freshness counters current. */
  readonly dataCache: DataCache;
  private readonly ids = new IdPool();
  private readonly contexts = new Map<number, Context>();
  private readonly handles = new Map<number, Handle>();
  private readonly byName = new Map<string, Reader>();
  private readonly drivers = new Map<Driver, DriverEntry>();
  private readonly devices = new Map<DriverReader, Device>();
  private readonly instances = new InstanceAllocator();
  private readonly bus: StatusChangeBus;
  private readonly hooks: ReaderHooks;
  private readonly timeoutMs: number;
  private readonly log: Logger | undefined;
  private tableGeneration = 0;
  private readerSeq = 0;
  /** Listed readers in announcement order (byName fills in the order initialisations finish). */
  private ordered: Reader[] | undefined;
  private stopped = false;

  constructor(opts: CoreOptions = {}) {
    super();
    this.timeoutMs = opts.transmitTimeoutMs ?? 30000;
    this.dataCache = new DataCache(opts.dataCache);
    this.log = opts.log;
    this.bus = new StatusChangeBus({
      find: (n) => this.byName.get(n)?.snapshot(),
      count: () => this.byName.size,
      generation: () => this.tableGeneration,
    });
    this.hooks = {
      changed: (r) => {
        this.safeEmit('reader-state', r.snapshot());
        this.bus.notify();
      },
      inserted: (r) => {
        this.dataCache.cardInserted(r.name, r.card);
        this.safeEmit('card-inserted', r.snapshot());
      },
      removed: (r) => {
        this.dataCache.cardRemoved(r.name);
        this.safeEmit('card-removed', r.snapshot());
      },
      error: (r, err) => {
        this.log?.warn({ reader: r.name, err: err.message }, 'reader error');
        if (r.listed && !r.gone) this.safeEmit('reader-error', r.snapshot(), err);
      },
    };
  }

  /** A throwing listener must not break the core's bookkeeping. */
  private safeEmit<K extends keyof CoreEvents>(ev: K, ...args: CoreEvents[K]): void {
    try {
      (this.emit as (e: K, ...a: CoreEvents[K]) => boolean)(ev, ...args);
    } catch (e) {
      this.log?.error({ err: (e as Error).message, event: ev }, 'core event listener threw');
    }
  }

  // --- drivers and readers ------------------------------------------------------------------

  async addDriver(driver: Driver): Promise<void> {
    if (this.stopped) throw new PcscError(SCARD.E_SERVICE_STOPPED, 'the core is stopped');
    if (this.drivers.has(driver)) return;
    const entry: DriverEntry = {
      pending: new Set(),
      onAdd: (d) => {
        const p = this.addDevice(driver, d).catch((e) => this.log?.error({ err: (e as Error).message }, 'reader add failed'));
        entry.pending.add(p);
        void p.finally(() => entry.pending.delete(p));
      },
      onRemove: (d) => this.removeDevice(d, new PcscError(SCARD.E_READER_UNAVAILABLE, 'the reader was removed')),
    };
    this.drivers.set(driver, entry);
    driver.on('reader-added', entry.onAdd);
    driver.on('reader-removed', entry.onRemove);
    try {
      await driver.start();
    } catch (e) {
      driver.off('reader-added', entry.onAdd);
      driver.off('reader-removed', entry.onRemove);
      this.drivers.delete(driver);
      for (const [dev, d] of this.devices) if (d.driver === driver) this.removeDevice(dev, new PcscError(SCARD.E_READER_UNAVAILABLE, 'the driver failed to start'));
      throw e;
    }
    // Readers announced during start are listed before addDriver resolves.
    while (entry.pending.size > 0) await Promise.all([...entry.pending]);
  }

  private async addDevice(driver: Driver, dev: DriverReader): Promise<void> {
    if (this.devices.has(dev) || this.stopped) return;
    const instance = this.instances.take(driver.name, dev.instance);
    const device: Device = { driver, instance, readers: [], removed: false };
    this.devices.set(dev, device);
    for (const slot of dev.slots) {
      const name = readerName(dev, instance, slot.index);
      device.readers.push(new Reader(this.readerSeq++, name, driver.name, dev, slot, instance, this.hooks, this.timeoutMs));
    }
    await Promise.all(device.readers.map((r) => r.init().catch((e) => this.log?.warn({ reader: r.name, err: (e as Error).message }, 'reader init'))));
    if (device.removed || this.stopped) return;
    for (const r of device.readers) {
      if (this.byName.has(r.name)) {
        // Only possible with two drivers sharing a name; refuse the newcomer like pcscd (E_DUPLICATE_READER).
        this.log?.error({ reader: r.name }, 'duplicate reader name, reader ignored');
        r.detach(new PcscError(SCARD.E_DUPLICATE_READER, r.name));
        continue;
      }
      this.byName.set(r.name, r);
      r.announce();
      if (r.present) this.dataCache.cardInserted(r.name, r.card);
      this.ordered = undefined;
      this.tableGeneration++;
      this.safeEmit('reader-added', r.snapshot());
    }
    this.bus.notify();
  }

  private removeDevice(dev: DriverReader, err: PcscError): void {
    const device = this.devices.get(dev);
    if (!device) return;
    device.removed = true;
    this.devices.delete(dev);
    this.instances.release(device.driver.name, device.instance);
    for (const r of device.readers) {
      const listed = this.byName.get(r.name) === r;
      r.detach(err);
      r.lock.clear();
      for (const h of r.handles) h.readerGone = true;
      if (listed) {
        this.dataCache.cardRemoved(r.name);
        this.byName.delete(r.name);
        this.ordered = undefined;
        this.tableGeneration++;
        this.safeEmit('reader-removed', r.snapshot());
      }
    }
    this.bus.notify();
  }

  async stop(): Promise<void> {
    if (this.stopped) return;
    this.stopped = true;
    this.bus.cancelAll(SCARD.E_SERVICE_STOPPED, 'the service is stopping');
    for (const dev of [...this.devices.keys()]) this.removeDevice(dev, new PcscError(SCARD.E_SERVICE_STOPPED, 'the service is stopping'));
    for (const [driver, entry] of this.drivers) {
      driver.off('reader-added', entry.onAdd);
      driver.off('reader-removed', entry.onRemove);
      try {
        await driver.stop();
      } catch (e) {
        this.log?.warn({ driver: driver.name, err: (e as Error).message }, 'driver stop failed');
      }
    }
    this.drivers.clear();
  }

  private listed(): Reader[] {
    return (this.ordered ??= [...this.byName.values()].sort((a, b) => a.seq - b.seq));
  }

  readers(): ReaderSnapshot[] {
    return this.listed().map((r) => r.snapshot());
  }

  reader(name: string): ReaderSnapshot | undefined {
    return this.byName.get(name)?.snapshot();
  }

  // --- contexts ---------------------------------------------------------------------------------

  establishContext(owner = 'unknown'): ContextId {
    if (this.stopped) throw new PcscError(SCARD.E_NO_SERVICE, 'the core is stopped');
    const id = this.ids.take();
    this.contexts.set(id, newContext(id, owner));
    return id;
  }

  async releaseContext(ctx: ContextId): Promise<void> {
    const c = this.ctx(ctx);
    c.released = true;
    this.contexts.delete(ctx);
    this.bus.cancel(ctx, SCARD.E_CANCELLED, 'the context was released');
    // pcscd: a transaction holder's card is reset so its half-done session is not left to others (docs/pcsc.md §5).
    await Promise.all([...c.handles].map((h) => this.closeHandle(h, -1)));
    this.ids.release(ctx);
  }

  /** Release at once when no handle's card must be reset; false: call releaseContext(). */
  releaseContextNow(ctx: ContextId): boolean {
    const c = this.ctx(ctx);
    for (const h of c.handles) if (!h.closed && this.cleanupDisposition(h) !== DISPOSITION.LEAVE && this.cardActionable(h)) return false;
    c.released = true;
    this.contexts.delete(ctx);
    this.bus.cancel(ctx, SCARD.E_CANCELLED, 'the context was released');
    for (const h of [...c.handles]) {
      h.closing = true;
      h.closed = true;
      this.forget(h);
    }
    this.ids.release(ctx);
    return true;
  }

  isValidContext(ctx: ContextId): boolean {
    return this.contexts.has(ctx);
  }

  listReaders(ctx: ContextId): string[] {
    this.ctx(ctx);
    return this.listed().map((r) => r.name);
  }

  getStatusChange(ctx: ContextId, states: ReaderStateQuery[], timeoutMs: number): Promise<ReaderStateResult[]> {
    if (!this.contexts.has(ctx)) return Promise.reject(invalidContext(ctx));
    return this.bus.wait(ctx, states, timeoutMs);
  }

  /** True when a wait was cancelled (pcscd answers E_INVALID_HANDLE to a cancel that found none; the frontend decides). */
  cancel(ctx: ContextId): boolean {
    this.ctx(ctx);
    return this.bus.cancel(ctx, SCARD.E_CANCELLED, 'SCardCancel');
  }

  private ctx(id: number): Context {
    const c = this.contexts.get(id);
    if (!c) throw invalidContext(id);
    return c;
  }

  private handle(id: number): Handle {
    const h = this.handles.get(id);
    if (!h) throw invalidHandle(id);
    return h;
  }

  // --- card handles -------------------------------------------------------------------------

  /**
   * Connect at once when nothing has to wait: no card work (card powered and
   * protocol settled, or DIRECT) and no transaction held by another handle.
   * undefined: call connect(), which waits. Throws what connect() would reject with.
   */
  connectNow(ctx: ContextId, name: string, shareMode: number, preferred: number): ConnectResult | undefined {
    const { c, r } = this.connectPrecheck(ctx, name, shareMode, preferred);
    // pcscd makes every connect wait while a handle holds a transaction (LudovicRousseau/PCSC#254): only a
    // connect that must power the card or negotiate its protocol waits here (docs/pcsc.md §4, README).
    if (shareMode === SHARE.DIRECT) return this.addHandle(c, r, shareMode, r.protocol);
    if (r.needsCardWork(preferred)) return undefined;
    return this.addHandle(c, r, shareMode, r.settledProtocol(preferred));
  }

  private connectPrecheck(ctx: ContextId, name: string, shareMode: number, preferred: number): { c: Context; r: Reader } {
    const c = this.ctx(ctx);
    checkShareMode(shareMode);
    if (shareMode !== SHARE.DIRECT && !validProtocolMask(preferred)) {
      throw new PcscError(SCARD.E_PROTO_MISMATCH, `preferred protocols 0x${(preferred >>> 0).toString(16)} name none of T=0, T=1, RAW`);
    }
    const r = this.byName.get(name);
    if (!r) throw new PcscError(SCARD.E_UNKNOWN_READER, `no reader named "${name}"`);
    if (c.handles.size >= LIMITS.MAX_CONTEXT_CARD_HANDLES) throw new PcscError(SCARD.E_NO_MEMORY, 'too many handles in this context');
    if (r.handles.size >= LIMITS.MAX_READER_HANDLES) throw new PcscError(SCARD.F_INTERNAL_ERROR, 'too many handles on this reader');
    this.connectChecks(r, shareMode);
    return { c, r };
  }

  async connect(ctx: ContextId, name: string, shareMode: number, preferred: number): Promise<ConnectResult> {
    const now = this.connectNow(ctx, name, shareMode, preferred);
    if (now) return now;
    const c = this.ctx(ctx);
    const r = this.byName.get(name)!;
    const direct = shareMode === SHARE.DIRECT;
    // Waits for another handle's transaction (FIFO, instead of pcscd's 100 ms polling) and for card work.
    const job = (): ConnectResult | Promise<ConnectResult> => {
      if (c.released) throw invalidContext(ctx);
      this.connectChecks(r, shareMode);
      if (direct) return this.addHandle(c, r, shareMode, r.protocol);
      if (!r.needsCardWork(preferred)) return this.addHandle(c, r, shareMode, r.settledProtocol(preferred));
      return r.prepareCard(preferred, SCARD.W_UNPOWERED_CARD).then(
        (protocol) => {
          if (c.released) throw invalidContext(ctx);
          this.connectChecks(r, shareMode);
          return this.addHandle(c, r, shareMode, protocol);
        },
        (e: unknown) => {
          r.touch();
          throw e;
        },
      );
    };
    return r.queue.run(NO_HANDLE_OWNER, true, job);
  }

  private connectChecks(r: Reader, shareMode: number): void {
    if (r.gone) throw new PcscError(SCARD.E_UNKNOWN_READER, `reader "${r.name}" was removed`);
    if (!r.available) throw new PcscError(SCARD.E_READER_UNAVAILABLE, `reader "${r.name}" is not available`);
    if (r.sharing === -1) throw new PcscError(SCARD.E_SHARING_VIOLATION, `reader "${r.name}" is used exclusively`);
    if (shareMode === SHARE.EXCLUSIVE && r.sharing > 0) throw new PcscError(SCARD.E_SHARING_VIOLATION, `reader "${r.name}" is in use`);
    if (shareMode !== SHARE.DIRECT && !r.present) throw new PcscError(SCARD.E_NO_SMARTCARD, `no card in "${r.name}"`);
  }

  private addHandle(c: Context, r: Reader, shareMode: number, protocol: number): ConnectResult {
    const id = this.ids.take();
    const h: Handle = { id, ctx: c, reader: r, share: shareMode, protocol, event: HANDLE_EVENT.NONE, readerGone: false, closed: false, closing: false };
    this.handles.set(id, h);
    c.handles.add(h);
    r.handles.add(h);
    // pcscd: an exclusive connection holds the lock at level 1.
    if (shareMode === SHARE.EXCLUSIVE) r.lock.acquire(id);
    r.sharing = shareMode === SHARE.EXCLUSIVE ? -1 : r.sharing + 1;
    // One table change for the whole connect (protocol negotiated, sharing count).
    r.touch();
    return { handle: id, protocol };
  }

  async reconnect(handle: HandleId, shareMode: number, preferred: number, initialization: number): Promise<{ protocol: number }> {
    const h = this.handle(handle);
    checkReader(h);
    checkShareMode(shareMode);
    if (initialization !== DISPOSITION.LEAVE && initialization !== DISPOSITION.RESET && initialization !== DISPOSITION.UNPOWER) {
      throw new PcscError(SCARD.E_INVALID_VALUE, `reconnect initialization must be LEAVE, RESET or UNPOWER (0..2), got ${initialization}`);
    }
    if (shareMode !== SHARE.DIRECT && !validProtocolMask(preferred)) {
      throw new PcscError(SCARD.E_PROTO_MISMATCH, `preferred protocols 0x${(preferred >>> 0).toString(16)} name none of T=0, T=1, RAW`);
    }
    const r = h.reader;
    return r.queue.run(h.id, true, async () => {
      checkReader(h);
      if (shareMode === SHARE.EXCLUSIVE && h.share !== SHARE.EXCLUSIVE && r.sharing !== 1) {
        throw new PcscError(SCARD.E_SHARING_VIOLATION, `reader "${r.name}" has other handles`);
      }
      try {
        if (initialization !== DISPOSITION.LEAVE) {
          // pcscd flags every handle on the reader RESET before it tries, the caller's and removed ones too;
          // only a successful reconnect clears the caller's flag (docs/pcsc.md §4).
          if (!r.present) {
            for (const x of r.handles) x.event = HANDLE_EVENT.RESET;
            throw new PcscError(SCARD.E_NO_SMARTCARD, `no card in "${r.name}"`);
          }
          await r.resetCard(initialization === DISPOSITION.UNPOWER ? 'cold' : 'warm');
        }
        // pcscd: even a DIRECT reconnect needs a card (SCARD_E_NO_SMARTCARD).
        if (!r.present) throw new PcscError(SCARD.E_NO_SMARTCARD, `no card in "${r.name}"`);
        const protocol = shareMode === SHARE.DIRECT ? r.protocol : await r.prepareCard(preferred);
        checkReader(h);
        this.changeShare(h, shareMode);
        h.protocol = protocol;
        h.event = HANDLE_EVENT.NONE;
        return { protocol };
      } finally {
        r.touch();
      }
    });
  }

  private changeShare(h: Handle, to: number): void {
    const r = h.reader;
    const from = h.share;
    h.share = to;
    if (to === SHARE.EXCLUSIVE) {
      if (from !== SHARE.EXCLUSIVE || r.lock.holder !== h.id) r.lock.acquire(h.id);
      r.setSharing(-1);
    } else if (from === SHARE.EXCLUSIVE) {
      // pcscd keeps the exclusive base lock here (a quirk); dropping it lets other handles in.
      if (r.lock.holder === h.id) {
        if (r.lock.count > 1) r.lock.count--;
        else r.lock.releaseAll(h.id);
      }
      r.setSharing(1);
      r.queue.pump();
    }
  }

  async disconnect(handle: HandleId, disposition: number): Promise<void> {
    const h = this.handle(handle);
    checkDisposition(disposition);
    await this.closeHandle(h, disposition);
  }

  /** Disconnect at once when the card needs nothing (LEAVE, or no card to act on); false: call disconnect(). */
  disconnectNow(handle: HandleId, disposition: number): boolean {
    const h = this.handle(handle);
    checkDisposition(disposition);
    if (h.closed || h.closing) return true;
    if (disposition !== DISPOSITION.LEAVE && this.cardActionable(h)) return false;
    h.closing = true;
    this.forget(h);
    return true;
  }

  private cardActionable(h: Handle): boolean {
    return !h.readerGone && h.reader.present && h.reader.available;
  }

  /**
   * Forget a handle after carrying out its disposition. -1 = context cleanup:
   * RESET when the handle holds the transaction (unless its card was already
   * reset or removed), LEAVE otherwise (pcscd; docs/pcsc.md §5).
   */
  private async closeHandle(h: Handle, disposition: number): Promise<void> {
    if (h.closed || (h.closing && disposition !== -1)) return;
    h.closing = true;
    const r = h.reader;
    const cleanup = disposition === -1;
    if (cleanup) {
      disposition = this.cleanupDisposition(h);
      h.closed = true;
      r.queue.drop(h.id, releasedError);
    }
    if (disposition !== DISPOSITION.LEAVE && this.cardActionable(h)) {
      try {
        // Waits for another handle's transaction; the holder itself goes first.
        await r.queue.run(h.id, true, () => this.dispose(r, disposition, 'off'), r.lock.holder === h.id);
      } catch (e) {
        const err = toPcscError(e);
        if (err.code !== SCARD.E_NO_SMARTCARD && err.code !== SCARD.E_INVALID_HANDLE) this.hooks.error(r, err);
      }
    }
    this.forget(h);
  }

  private cleanupDisposition(h: Handle): number {
    return h.reader.lock.holder === h.id && h.event === HANDLE_EVENT.NONE ? DISPOSITION.RESET : DISPOSITION.LEAVE;
  }

  /** The bookkeeping of a disconnect; safe to run twice (a disconnect racing its context's release). */
  private forget(h: Handle): void {
    h.closed = true;
    const r = h.reader;
    if (this.handles.get(h.id) === h) {
      this.handles.delete(h.id);
      this.ids.release(h.id);
    }
    h.ctx.handles.delete(h);
    if (!r.handles.delete(h) || h.readerGone) return;
    r.queue.drop(h.id, disconnectedError);
    r.lock.releaseAll(h.id);
    r.setSharing(h.share === SHARE.EXCLUSIVE ? 0 : Math.max(0, r.sharing - 1));
    r.queue.pump();
  }

  /** RESET / UNPOWER / EJECT; `unpower` says what UNPOWER means for this call (pcscd differs per call). */
  private dispose(r: Reader, disposition: number, unpower: 'cold' | 'off'): Promise<void> {
    if (disposition === DISPOSITION.EJECT) return r.eject();
    return r.resetCard(disposition === DISPOSITION.UNPOWER ? unpower : 'warm');
  }

  beginTransaction(handle: HandleId): Promise<void> {
    let h: Handle;
    try {
      h = this.handle(handle);
      checkReader(h);
      checkEvent(h);
    } catch (e) {
      return Promise.reject(e);
    }
    return h.reader.queue.run(h.id, false, () => {
      checkReader(h);
      checkEvent(h);
      h.reader.lock.acquire(h.id);
    });
  }

  async endTransaction(handle: HandleId, disposition: number): Promise<void> {
    const h = this.handle(handle);
    checkReader(h);
    checkDisposition(disposition);
    checkEvent(h);
    const r = h.reader;
    if (r.lock.heldByOther(h.id)) throw new PcscError(SCARD.E_SHARING_VIOLATION, 'another handle holds the transaction');
    if (disposition !== DISPOSITION.LEAVE) {
      if (r.lock.holder !== h.id) throw new PcscError(SCARD.E_NOT_TRANSACTED, 'no transaction to end');
      // Runs while the lock is still held: nobody else touches the card before the reset. The
      // caller's own handle is flagged too (pcscd: its next call gets W_RESET_CARD).
      await r.queue.run(h.id, true, () => this.dispose(r, disposition, 'cold'));
      // An ejected (removed) card took the lock with it.
      if (r.lock.holder !== h.id) return;
    }
    r.lock.end(h.id, h.share === SHARE.EXCLUSIVE);
    r.queue.pump();
  }

  transmit(handle: HandleId, protocol: number, apdu: Buffer): Promise<Buffer> {
    const h = this.handles.get(handle);
    if (!h) return Promise.reject(invalidHandle(handle));
    const r = h.reader;
    try {
      checkReader(h);
      checkEvent(h);
      if (!r.present) throw new PcscError(SCARD.E_NO_SMARTCARD, `no card in "${r.name}"`);
      if (protocol !== r.protocol && protocol !== PROTOCOL.RAW && protocol !== PROTOCOL.ANY_LEGACY) {
        throw new PcscError(SCARD.E_PROTO_MISMATCH, `send PCI protocol ${protocol} but the card uses ${r.protocol}`);
      }
      if (!Buffer.isBuffer(apdu)) throw new PcscError(SCARD.E_INVALID_PARAMETER, 'the APDU must be a Buffer');
      if (apdu.length > LIMITS.MAX_BUFFER_SIZE_EXTENDED) {
        throw new PcscError(SCARD.E_INVALID_PARAMETER, `APDU of ${apdu.length} bytes exceeds ${LIMITS.MAX_BUFFER_SIZE_EXTENDED}`);
      }
      // Raw protocol carries bytes that need not be APDUs.
      if (r.protocol !== PROTOCOL.RAW) checkApdu(apdu);
    } catch (e) {
      return Promise.reject(e);
    }
    const writes = r.protocol !== PROTOCOL.RAW && isWriteApdu(apdu);
    return r.queue.run(h.id, true, () => {
      if (h.closed) throw invalidHandle(handle);
      checkEvent(h);
      // Advanced before the card sees it: a write that fails half-way may still have changed the card.
      if (writes) this.dataCache.cardWritten(r.name);
      const stats = this.exchangeStats(r.name);
      const t0 = performance.now();
      // One reaction for the check and the statistics (one promise hop fewer per exchange).
      return r.exchange(apdu).then(
        (resp) => {
          try {
            checkResponse(resp);
          } catch (err) {
            stats.record(performance.now() - t0, err);
            throw err;
          }
          stats.record(performance.now() - t0);
          return resp;
        },
        (e: unknown) => {
          try {
            return r.exchangeFailed(e);
          } catch (err) {
            stats.record(performance.now() - t0, err);
            throw err;
          }
        },
      );
    });
  }

  /** Exchange counts, failures by PC/SC code and recent latencies per reader (health views). */
  private readonly stats = new Map<string, ExchangeStats>();
  private exchangeStats(name: string): ExchangeStats {
    let s = this.stats.get(name);
    if (!s) this.stats.set(name, (s = new ExchangeStats()));
    return s;
  }

  async control(handle: HandleId, code: number, data: Buffer): Promise<Buffer> {
    const h = this.handle(handle);
    checkReader(h);
    const r = h.reader;
    // pcscd fails at once here (no client retry) and does not check the card event flag.
    if (r.lock.heldByOther(h.id)) throw new PcscError(SCARD.E_SHARING_VIOLATION, 'another handle holds the transaction');
    if (!Buffer.isBuffer(data)) throw new PcscError(SCARD.E_INVALID_PARAMETER, 'control data must be a Buffer');
    if (!Number.isInteger(code) || code < 0 || code > 0xffffffff) throw new PcscError(SCARD.E_INVALID_VALUE, `control code must be a 32-bit unsigned integer, got ${code}`);
    return r.queue.run(h.id, true, () => runControl(r, code, data));
  }

  async status(handle: HandleId): Promise<StatusResult> {
    const h = this.handle(handle);
    // pcscd's client retries a SHARING_VIOLATION until another handle's transaction ends; Status needs no
    // card I/O, so it is answered at once here (docs/pcsc.md §4, README "Differences from pcscd").
    checkReader(h);
    checkEvent(h);
    const r = h.reader;
    return { reader: r.name, state: r.stateBits(), protocol: r.protocol, atr: Buffer.from(r.atr) };
  }

  /** SCardStatus' return code, without a promise (the pcsc socket's fast path). */
  statusNow(handle: HandleId): number {
    const h = this.handles.get(handle);
    if (!h || h.closed) return SCARD.E_INVALID_HANDLE;
    if (h.readerGone || !h.reader.available) return SCARD.E_READER_UNAVAILABLE;
    return h.event === HANDLE_EVENT.NONE ? SCARD.S_SUCCESS : h.event === HANDLE_EVENT.REMOVED ? SCARD.W_REMOVED_CARD : SCARD.W_RESET_CARD;
  }

  async getAttrib(handle: HandleId, attr: number): Promise<Buffer> {
    const h = this.attribHandle(handle);
    return getAttribute(h.reader, attr);
  }

  async setAttrib(handle: HandleId, attr: number, value: Buffer): Promise<void> {
    const h = this.attribHandle(handle);
    if (!Buffer.isBuffer(value)) throw new PcscError(SCARD.E_INVALID_PARAMETER, 'attribute value must be a Buffer');
    setAttribute(h.reader, attr, value);
  }

  private attribHandle(handle: HandleId): Handle {
    const h = this.handle(handle);
    checkReader(h);
    if (h.reader.lock.heldByOther(h.id)) throw new PcscError(SCARD.E_SHARING_VIOLATION, 'another handle holds the transaction');
    checkEvent(h);
    return h;
  }

  // --- reader services outside PC/SC --------------------------------------------------------

  private named(name: string): Reader {
    const r = this.byName.get(name);
    if (!r) throw new PcscError(SCARD.E_UNKNOWN_READER, `no reader named "${name}"`);
    return r;
  }

  async feedback(name: string, f: Feedback): Promise<void> {
    const r = this.named(name);
    if (!r.slot.feedback) throw new PcscError(SCARD.E_UNSUPPORTED_FEATURE, `reader "${name}" has no LED or buzzer`);
    await r.slot.feedback(f);
  }

  async simulateInsert(name: string, spec: unknown): Promise<void> {
    const r = this.named(name);
    if (!r.slot.simulate) throw new PcscError(SCARD.E_UNSUPPORTED_FEATURE, `reader "${name}" cannot simulate cards`);
    await r.slot.simulate.insert(spec);
  }

  async simulateRemove(name: string): Promise<void> {
    const r = this.named(name);
    if (!r.slot.simulate) throw new PcscError(SCARD.E_UNSUPPORTED_FEATURE, `reader "${name}" cannot simulate cards`);
    await r.slot.simulate.remove();
  }

  async simulatePinpad(name: string, entry: PinPadEntry, waitMs: number): Promise<void> {
    const r = this.named(name);
    if (!r.slot.simulate) throw new PcscError(SCARD.E_UNSUPPORTED_FEATURE, `reader "${name}" cannot simulate cards or keys`);
    if (!r.slot.simulate.pinpad) throw new PcscError(SCARD.E_UNSUPPORTED_FEATURE, `reader "${name}" has no emulated PIN pad`);
    if (!(await r.slot.simulate.pinpad(entry, { waitMs }))) {
      throw new PcscError(
        SCARD.E_TIMEOUT,
        `reader "${name}" showed no PIN prompt within ${waitMs} ms: keys count only while a program's VERIFY/MODIFY_PIN_DIRECT waits for them; nothing was kept`,
      );
    }
  }

  diagnostics(): Record<string, unknown> {
    return {
      dataCache: this.dataCache.diagnostics(),
      contexts: this.contexts.size,
      handles: this.handles.size,
      statusWaiters: this.bus.waiting,
      drivers: [...this.drivers.keys()].map((d) => ({ name: d.name, ...(d.diagnostics?.() ?? {}) })),
      readers: this.listed().map((r) => ({
        name: r.name,
        handles: r.handles.size,
        sharing: r.sharing,
        transaction: r.lock.holder !== 0 ? { depth: r.lock.count } : null,
        queued: r.queue.pending,
        busy: r.queue.inFlight,
        exchanges: this.stats.get(r.name)?.toJSON() ?? null,
        device: r.device.diagnostics?.(),
      })),
    };
  }
}

function checkShareMode(m: number): void {
  if (m !== SHARE.EXCLUSIVE && m !== SHARE.SHARED && m !== SHARE.DIRECT) {
    throw new PcscError(SCARD.E_INVALID_VALUE, `share mode must be EXCLUSIVE (1), SHARED (2) or DIRECT (3), got ${m}`);
  }
}

function checkDisposition(d: number): void {
  if (d !== DISPOSITION.LEAVE && d !== DISPOSITION.RESET && d !== DISPOSITION.UNPOWER && d !== DISPOSITION.EJECT) {
    throw new PcscError(SCARD.E_INVALID_VALUE, `disposition must be LEAVE, RESET, UNPOWER or EJECT (0..3), got ${d}`);
  }
}

function checkResponse(resp: Buffer): Buffer {
  if (resp.length < 2) throw new PcscError(SCARD.F_COMM_ERROR, `the reader returned ${resp.length} bytes, less than a status word`);
  return resp;
}
