/**
 * One simulated slot: holds a card model, powers it, exchanges with it in
 * process (zero latency). Contactless cards are reached through the PC/SC
 * part 3 layer (src/contactless/part3.ts), as a PN532 reader would.
 */
import { EventEmitter } from 'node:events';
import type { CardInfo, DriverSlot, ExchangeLevel, Feedback, SimulationControl, SlotEvents } from '../../src/driver/contract.js';
import { PROTOCOL, SCARD } from '../../src/pcsc/constants.js';
import { PcscError } from '../../src/pcsc/error.js';
import { createCard, type SimCard } from './cards/index.js';
import { CardTarget } from './contactless-target.js';
import { Part3Reader } from '../../src/contactless/part3.js';

const LEDS = ['off', 'on', 'green', 'red', 'blink'];

const isSimCard = (x: unknown): x is SimCard =>
  typeof x === 'object' && x !== null && typeof (x as SimCard).process === 'function' && Buffer.isBuffer((x as SimCard).atr);
const FEEDBACK_HISTORY = 20;

export interface FeedbackRecord extends Feedback {
  at: string;
}

export class SimSlot extends EventEmitter<SlotEvents> implements DriverSlot {
  readonly index = 0;
  private card: SimCard | undefined;
  private target: CardTarget | undefined;
  private powered = false;
  private readonly part3 = new Part3Reader();
  /** The virtual LED and buzzer: what feedback() was last asked, newest last. */
  readonly feedbackHistory: FeedbackRecord[] = [];
  readonly counters = { inserts: 0, removes: 0, powerUps: 0, exchanges: 0 };

  constructor(readonly readerName: string) {
    super();
  }

  /** T=0 and T=1-TPDU cards are exchanged at TPDU level so the core's T=0 / T=1 transport runs; all others at APDU level. */
  get level(): ExchangeLevel {
    const i = this.card?.interface;
    return i === 'tpdu-t0' || i === 'tpdu-t1' ? 'tpdu' : 'apdu';
  }

  isCardPresent(): boolean {
    return this.card !== undefined;
  }

  cardInfo(): CardInfo | undefined {
    return this.card?.info;
  }

  /** The card model in the slot (tests and diagnostics). */
  currentCard(): SimCard | undefined {
    return this.card;
  }

  private need(): SimCard {
    if (!this.card) throw new PcscError(SCARD.E_NO_SMARTCARD, `(${this.readerName}: no card in the slot)`);
    return this.card;
  }

  async powerUp(): Promise<Buffer> {
    const card = this.need();
    card.reset();
    this.target?.reset();
    this.powered = true;
    this.counters.powerUps++;
    return Buffer.from(card.atr);
  }

  async powerDown(): Promise<void> {
    this.powered = false;
    this.card?.reset();
    this.target?.reset();
  }

  async reset(): Promise<Buffer> {
    return this.powerUp();
  }

  async transmit(data: Buffer, protocol: number): Promise<Buffer> {
    const card = this.need();
    if (!this.powered) throw new PcscError(SCARD.W_UNPOWERED_CARD, `(${this.readerName})`);
    if (protocol !== PROTOCOL.RAW && !(card.protocols & protocol)) {
      throw new PcscError(SCARD.E_PROTO_MISMATCH, `(${this.readerName}: the card does not speak protocol 0x${protocol.toString(16)})`);
    }
    this.counters.exchanges++;
    if (this.target) return this.part3.transmit(this.target, data);
    if (card.interface === 'tpdu-t1' && card.exchangeBlock) {
      const block = await card.exchangeBlock(data);
      // A silent card: the block waiting time expires.
      if (block.length === 0) throw new PcscError(SCARD.E_TIMEOUT, `(${this.readerName}: no T=1 block from the card)`);
      return block;
    }
    return card.process(data);
  }

  async feedback(f: Feedback): Promise<void> {
    if (typeof f !== 'object' || f === null) throw new PcscError(SCARD.E_INVALID_PARAMETER, 'feedback must be an object {led?, buzzer?}');
    if (f.led !== undefined && !LEDS.includes(f.led)) throw new PcscError(SCARD.E_INVALID_PARAMETER, `feedback.led must be one of ${LEDS.join(', ')}, got ${JSON.stringify(f.led)}`);
    if (f.buzzer !== undefined) {
      const { ms, count } = f.buzzer;
      if (!Number.isInteger(ms) || ms < 0 || ms > 10000) throw new PcscError(SCARD.E_INVALID_PARAMETER, `feedback.buzzer.ms must be an integer 0..10000, got ${JSON.stringify(ms)}`);
      if (count !== undefined && (!Number.isInteger(count) || count < 1 || count > 20)) throw new PcscError(SCARD.E_INVALID_PARAMETER, `feedback.buzzer.count must be an integer 1..20, got ${JSON.stringify(count)}`);
    }
    this.feedbackHistory.push({ ...f, at: new Date().toISOString() });
    if (this.feedbackHistory.length > FEEDBACK_HISTORY) this.feedbackHistory.shift();
  }

  /** Put a card model in the slot (already built). Rejects when the slot is occupied. */
  insertCard(card: SimCard): void {
    if (this.card) throw new PcscError(SCARD.E_INVALID_VALUE, `(${this.readerName} already holds a ${this.card.type} card; remove it first)`);
    this.card = card;
    this.target = CardTarget.for(card);
    this.powered = false;
    this.counters.inserts++;
    this.emit('presence', true, card.info);
  }

  removeCard(): void {
    if (!this.card) return;
    this.card = undefined;
    this.target = undefined;
    this.powered = false;
    this.counters.removes++;
    this.emit('presence', false);
  }

  readonly simulate: SimulationControl = {
    /** A spec for createCard, or a card model built by the caller (tests that keep a handle on it). */
    insert: async (spec: unknown) => this.insertCard(isSimCard(spec) ? spec : createCard(spec)),
    remove: async () => this.removeCard(),
  };

  diagnostics(): Record<string, unknown> {
    return {
      card: this.card ? { type: this.card.type, atr: this.card.atr.toString('hex').toUpperCase(), uid: this.card.info.uid?.toString('hex').toUpperCase() } : null,
      powered: this.powered,
      ...this.counters,
      feedback: this.feedbackHistory.at(-1) ?? null,
      keySlotsLoaded: this.part3.loadedKeyCount(),
    };
  }
}
