/**
 * One PC/SC reader = one DriverSlot: presence, power, ATR, protocol, the
 * state bits of pcscd's reader table, event counter, availability, the
 * transaction lock and the per-slot queue every card operation goes through.
 */
import type { CardInfo, DriverReader, DriverSlot } from '../driver/contract.js';
import { CARD_STATE, LIMITS, PROTOCOL, SCARD } from '../pcsc/constants.js';
import { PcscError, toPcscError } from '../pcsc/error.js';
import type { ReaderSnapshot } from './api.js';
import { HANDLE_EVENT, type Handle } from './handles.js';
import { atrProtocols, chooseProtocol, protocolNames, type AtrProtocols } from './protocol-choice.js';
import { SlotQueue, SYSTEM_OWNER } from './slot-queue.js';
import { TransactionLock } from './transactions.js';
import { makeTransport, type Transport } from './transport.js';

const EMPTY: Buffer = Buffer.alloc(0);

/** Every frontend copies the ATR into a 33-byte field (pcsc-lite's MAX_ATR_SIZE): refuse what does not fit. */
function checkAtr(atr: Buffer): Buffer {
  if (!Buffer.isBuffer(atr) || atr.length === 0 || atr.length > LIMITS.MAX_ATR_SIZE) {
    throw new PcscError(SCARD.E_INVALID_ATR, `the reader returned an ATR of ${Buffer.isBuffer(atr) ? atr.length : 'no'} bytes (1..${LIMITS.MAX_ATR_SIZE} expected)`);
  }
  return atr;
}

/** What a reader tells the resource manager. */
export interface ReaderHooks {
  /** A table field changed (state, counter, sharing, ATR, protocol, availability). */
  changed(r: Reader): void;
  inserted(r: Reader): void;
  removed(r: Reader): void;
  error(r: Reader, err: Error): void;
}

export class Reader {
  present = false;
  powered = false;
  mute = false;
  available = true;
  atr: Buffer = EMPTY;
  /** Negotiated protocol since the last power-up (0 = none yet). */
  protocol = 0;
  eventCounter = 0;
  /** pcscd's readerSharing: -1 exclusive, n shared/direct handles. */
  sharing = 0;
  card: CardInfo | undefined;
  since = new Date().toISOString();
  /** Listed in readers() once its first state is known (pcscd stalls clients otherwise). */
  listed = false;
  gone = false;

  readonly lock = new TransactionLock();
  readonly queue: SlotQueue;
  readonly handles = new Set<Handle>();

  private atrInfo: AtrProtocols | undefined;
  private transport: Transport | undefined;
  /** Bumped on every insertion/removal so a late power-up result for a card that left is dropped. */
  private generation = 0;
  /** Presence/availability events are handled one after the other. */
  private chain: Promise<void> = Promise.resolve();
  private snap: ReaderSnapshot | undefined;
  private readonly last: { state: number; counter: number; sharing: number; protocol: number; atr: Buffer; mute: boolean } = { state: -1, counter: -1, sharing: 0, protocol: 0, atr: EMPTY, mute: false };
  private readonly listeners: { presence: (p: boolean, i?: CardInfo) => void; availability: (a: boolean, why?: string) => void; error: (e: Error) => void };

  constructor(
    /** Order of announcement: readers are listed in the order drivers reported them. */
    readonly seq: number,
    readonly name: string,
    readonly driver: string,
    readonly device: DriverReader,
    readonly slot: DriverSlot,
    readonly instance: number,
    private readonly hooks: ReaderHooks,
    transmitTimeoutMs: number,
  ) {
    this.queue = new SlotQueue(
      (owner) => owner === SYSTEM_OWNER || this.lock.allows(owner),
      transmitTimeoutMs,
      (err) => this.hooks.error(this, err),
    );
    this.listeners = {
      presence: (p, i) => this.serial(() => (p ? this.cardIn(i) : this.cardOut())),
      availability: (a, why) => this.serial(() => this.setAvailable(a, why)),
      error: (e) => this.hooks.error(this, e),
    };
  }

  /** Read the slot's first state (power up a present card), then start following its events. */
  async init(): Promise<void> {
    this.slot.on('presence', this.listeners.presence);
    this.slot.on('availability', this.listeners.availability);
    this.slot.on('error', this.listeners.error);
    if (this.slot.isCardPresent()) await this.serial(() => this.cardIn(this.slot.cardInfo()));
  }

  /**
   * The core lists the reader ('reader-added'): the state it has now is the first one anybody sees, not an event
   * (the insertion init powered up, or a change between init and listing, must not count). Card and state events
   * start from here, so none is ever emitted for a reader nobody was told of.
   */
  announce(): void {
    this.eventCounter = 0;
    this.snap = undefined;
    this.remember();
    this.listed = true;
  }

  /** Stop following the slot; fail everything queued. */
  detach(err: PcscError): void {
    this.gone = true;
    this.slot.off('presence', this.listeners.presence);
    this.slot.off('availability', this.listeners.availability);
    this.slot.off('error', this.listeners.error);
    this.queue.close(err);
  }

  /** CARD_STATE bits as pcscd's table shows them (pcscd never sets SPECIFIC). */
  stateBits(): number {
    if (!this.available) return CARD_STATE.UNKNOWN;
    if (!this.present) return CARD_STATE.ABSENT;
    if (this.mute) return CARD_STATE.PRESENT | CARD_STATE.SWALLOWED;
    if (this.powered) return CARD_STATE.PRESENT | CARD_STATE.POWERED | CARD_STATE.NEGOTIABLE;
    return CARD_STATE.PRESENT;
  }

  private caps: ReaderSnapshot['capabilities'] | undefined;

  snapshot(): ReaderSnapshot {
    if (this.snap) return this.snap;
    const contactless = this.slot.contactless ?? this.card?.contactless ?? false;
    // Shared by the snapshots until it changes (a connect and a disconnect each make a snapshot).
    let caps = this.caps;
    const feedback = typeof this.slot.feedback === 'function';
    const simulate = this.slot.simulate !== undefined;
    const pinpad = typeof this.slot.simulate?.pinpad === 'function';
    if (!caps || caps.contactless !== contactless || caps.feedback !== feedback || caps.simulate !== simulate || caps.pinpad !== pinpad) {
      caps = this.caps = Object.freeze({ feedback, simulate, contactless, pinpad });
    }
    this.snap = {
      name: this.name,
      driver: this.driver,
      state: this.stateBits(),
      eventCounter: this.eventCounter,
      sharing: this.sharing,
      atr: this.available ? this.atr : EMPTY,
      protocol: this.available ? this.protocol : 0,
      available: this.available,
      mute: this.mute,
      card: this.card,
      since: this.since,
      capabilities: caps,
    };
    return this.snap;
  }

  /** Publish a table change once, and only when something a client can see changed. */
  touch(): void {
    this.snap = undefined;
    if (!this.listed || this.gone) return;
    const l = this.last;
    if (
      l.state === this.stateBits() &&
      l.counter === this.eventCounter &&
      l.sharing === this.sharing &&
      l.protocol === this.protocol &&
      l.mute === this.mute &&
      l.atr.equals(this.atr)
    )
      return;
    this.remember();
    this.hooks.changed(this);
  }

  /** Updated in place: a connect and a disconnect each publish one change. */
  private remember(): void {
    const l = this.last;
    l.state = this.stateBits();
    l.counter = this.eventCounter;
    l.sharing = this.sharing;
    l.protocol = this.protocol;
    l.atr = this.atr;
    l.mute = this.mute;
  }

  private serial(fn: () => Promise<void> | void): Promise<void> {
    const next = this.chain.then(fn).catch((e) => this.hooks.error(this, toPcscError(e)));
    this.chain = next;
    return next;
  }

  private bumpCounter(): void {
    this.eventCounter = (this.eventCounter + 1) & 0xffff;
  }

  // --- presence -------------------------------------------------------------

  private async cardIn(info: CardInfo | undefined): Promise<void> {
    if (this.present || this.gone) return;
    const gen = ++this.generation;
    this.present = true;
    this.card = info ?? this.slot.cardInfo();
    this.resetCardState();
    let failure: Error | undefined;
    let gone = false;
    if (this.available) {
      try {
        // Auto power-on like pcscd, through the queue so it never overlaps an exchange.
        const atr = await this.queue.run(SYSTEM_OWNER, true, () => this.slot.powerUp().then(checkAtr), true);
        if (gen !== this.generation || this.gone) return;
        this.setAtr(atr);
      } catch (e) {
        if (gen !== this.generation || this.gone) return;
        this.mute = true;
        // The card left before it could be powered (a tap shorter than the power-up): it was still presented, so it is
        // still announced — without an ATR — and its removal follows (already queued behind us, or noticed below).
        if (!this.slot.isCardPresent()) gone = true;
        else failure = new PcscError(SCARD.W_UNRESPONSIVE_CARD, `power-up failed: ${(e as Error).message}`);
      }
    }
    this.since = new Date().toISOString();
    this.bumpCounter();
    this.touch();
    if (this.listed) this.hooks.inserted(this);
    if (failure) this.hooks.error(this, failure);
    if (gone) this.noticeAbsence();
  }

  private cardOut(): void {
    if (!this.present) return;
    this.generation++;
    this.present = false;
    this.card = undefined;
    this.resetCardState();
    this.since = new Date().toISOString();
    this.bumpCounter();
    this.flagHandles(HANDLE_EVENT.REMOVED);
    // pcscd: a removal clears the transaction lock (owner and count).
    this.lock.clear();
    this.touch();
    if (this.listed) this.hooks.removed(this);
    this.queue.pump();
  }

  private setAvailable(available: boolean, why?: string): void | Promise<void> {
    if (available === this.available) return;
    if (!available) {
      // One table change: the entry goes straight to UNKNOWN (a present card counts as removed).
      this.available = false;
      this.cardOut();
      this.since = new Date().toISOString();
      this.touch();
      this.hooks.error(this, new PcscError(SCARD.E_READER_UNAVAILABLE, why ?? 'reader transport lost'));
      return;
    }
    this.available = true;
    this.since = new Date().toISOString();
    this.touch();
    if (this.slot.isCardPresent()) return this.cardIn(this.slot.cardInfo());
  }

  /** After the driver said E_NO_SMARTCARD: mark the table ABSENT at once instead of waiting for its presence event. */
  noticeAbsence(): void {
    if (this.present && !this.slot.isCardPresent()) void this.serial(() => this.cardOut());
  }

  private resetCardState(): void {
    this.powered = false;
    this.mute = false;
    this.atr = EMPTY;
    this.atrInfo = undefined;
    this.protocol = 0;
    this.transport = undefined;
  }

  private setAtr(atr: Buffer): void {
    this.atr = Buffer.from(atr);
    this.atrInfo = atrProtocols(this.atr);
    this.powered = true;
    this.mute = false;
    this.protocol = 0;
    this.transport = undefined;
  }

  flagHandles(ev: number): void {
    for (const h of this.handles) if (h.event !== HANDLE_EVENT.REMOVED) h.event = ev;
  }

  // --- card operations (call them from inside a queue job) ---------------------------------

  /** Power the card up when needed and negotiate a protocol for `preferred` (Connect/Reconnect). */
  /**
   * `unpoweredCode` is what a failed power-up answers: pcscd's Connect says
   * W_UNPOWERED_CARD, its Reconnect W_UNRESPONSIVE_CARD.
   */
  async prepareCard(preferred: number, unpoweredCode: number = SCARD.W_UNRESPONSIVE_CARD): Promise<number> {
    if (!this.present) throw new PcscError(SCARD.E_NO_SMARTCARD, `no card in "${this.name}"`);
    if (!this.powered || this.mute) {
      try {
        this.setAtr(checkAtr(await this.slot.powerUp()));
      } catch (e) {
        const err = this.cardFailure(e, 'power-up failed');
        throw err.code === SCARD.W_UNRESPONSIVE_CARD ? new PcscError(unpoweredCode, err.message.replace(/^[^.]*\. /, '')) : err;
      } finally {
        this.touch();
      }
    }
    if (!this.needsNegotiation(preferred)) return this.settledProtocol(preferred);
    const p = chooseProtocol(preferred, this.atrInfo ?? atrProtocols(this.atr));
    if (this.slot.setProtocol) {
      try {
        await this.slot.setProtocol(p, this.atr);
      } catch (e) {
        throw this.cardFailure(e, 'protocol selection (PPS) failed');
      }
    }
    this.setProtocol(p);
    return p;
  }

  /** Can a connect for `preferred` be answered without touching the card? */
  needsCardWork(preferred: number): boolean {
    return !this.powered || this.mute || this.needsNegotiation(preferred);
  }

  private needsNegotiation(preferred: number): boolean {
    return !(preferred & PROTOCOL.RAW) && this.protocol === 0;
  }

  /** The protocol for `preferred` when none needs negotiating (RAW, or the one already in use). */
  settledProtocol(preferred: number): number {
    if (preferred & PROTOCOL.RAW) {
      this.setProtocol(PROTOCOL.RAW);
      return PROTOCOL.RAW;
    }
    if (!(preferred & this.protocol) && !(preferred & PROTOCOL.ANY_LEGACY)) {
      throw new PcscError(
        SCARD.E_PROTO_MISMATCH,
        `the card already uses ${protocolNames(this.protocol)}, the caller accepts ${protocolNames(preferred)}`,
      );
    }
    return this.protocol;
  }

  /** The caller publishes (touch) once its whole operation is done: a connect is one table change. */
  private setProtocol(p: number): void {
    this.protocol = p;
    this.transport = undefined;
  }

  /**
   * Carry out a RESET / UNPOWER: 'warm' reset, 'cold' reset (power down and up:
   * UNPOWER at Reconnect and EndTransaction) or 'off' (UNPOWER at Disconnect:
   * the card stays unpowered until the next connect). Flags every handle RESET.
   */
  async resetCard(how: 'warm' | 'cold' | 'off'): Promise<void> {
    if (!this.present) throw new PcscError(SCARD.E_NO_SMARTCARD, `no card in "${this.name}"`);
    try {
      if (how === 'warm') this.setAtr(checkAtr(await this.slot.reset()));
      else {
        await this.slot.powerDown();
        // pcscd leaves the ATR in the table after an unpower.
        this.powered = false;
        this.protocol = 0;
        this.transport = undefined;
        if (how === 'cold') this.setAtr(checkAtr(await this.slot.powerUp()));
      }
    } catch (e) {
      throw this.cardFailure(e, how === 'warm' ? 'reset failed' : how === 'cold' ? 'power cycle failed' : 'power-down failed');
    } finally {
      this.flagHandles(HANDLE_EVENT.RESET);
      this.touch();
    }
  }

  async eject(): Promise<void> {
    // Without mechanical eject this is LEAVE, as in pcscd (the eject escape just fails there).
    if (this.slot.eject && this.present) await this.slot.eject();
  }

  /** One APDU exchange at the negotiated protocol, through T=0/T=1 transport for TPDU-level slots. */
  exchange(apdu: Buffer): Promise<Buffer> {
    let t = this.transport;
    if (!t) t = this.transport = makeTransport(this.slot, this.protocol, this.atrInfo);
    return t(apdu);
  }

  /** A failed exchange: PcscError for the caller; a card that left is marked ABSENT at once. */
  readonly exchangeFailed = (e: unknown): never => {
    const err = toPcscError(e, SCARD.F_COMM_ERROR);
    if (err.code === SCARD.E_NO_SMARTCARD) this.noticeAbsence();
    throw err;
  };

  /** Map a driver failure during a card operation to what pcscd answers. */
  private cardFailure(e: unknown, what: string): PcscError {
    if (!this.slot.isCardPresent()) {
      this.noticeAbsence();
      return new PcscError(SCARD.E_NO_SMARTCARD, `the card left "${this.name}"`);
    }
    const pe = toPcscError(e);
    if (pe.code === SCARD.E_PROTO_MISMATCH) return pe;
    this.powered = false;
    this.mute = true;
    this.touch();
    return new PcscError(SCARD.W_UNRESPONSIVE_CARD, `${what}: ${pe.message}`);
  }

  /** Update readerSharing for a handle joining (+1/-1 exclusive) or leaving. */
  setSharing(n: number): void {
    if (n === this.sharing) return;
    this.sharing = n;
    this.touch();
  }
}
