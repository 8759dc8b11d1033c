/**
 * One PN532 module as a PC/SC reader with one contactless slot: start-up,
 * card detection (event-driven with the IRQ line, an interval without it),
 * removal by presence check, APDUs and part 3 pseudo-APDUs, recovery from a
 * module that stopped answering, LED and buzzer.
 */
import { EventEmitter } from 'node:events';
import type { Logger } from 'pino';
import type { CardInfo, DriverReader, DriverSlot, ExchangeLevel, Feedback, SlotEvents } from '../../src/driver/contract.js';
import { ATTR, SCARD } from '../../src/pcsc/constants.js';
import { PcscError } from '../../src/pcsc/error.js';
import { Part3Reader } from '../../src/contactless/part3.js';
import type { Pn532ReaderConfigT } from './config.js';
import { DEFAULT_TIMING, Dialogue, Pn532NoResponse, Pn532SyntaxError, type DialogueTiming } from './dialogue.js';
import type { GpioLike } from './gpio.js';
import { LinkError, type FrameLink } from './link.js';
import { CMD, DIAG, PARAM_AUTO_ATR_RES, PARAM_AUTO_RATS, RF_ITEM, decodeFirmware, decodeListPassiveTarget, type FirmwareVersion } from './protocol.js';
import { PassiveRetries, Pn532Target, TargetStatusError, pcscErrorOf } from './target.js';

export interface ReaderPins {
  irq?: boolean;
  reset?: GpioLike;
  led?: GpioLike;
  buzzer?: GpioLike;
}

export interface ReaderTuning {
  /** Longest event-driven detection wait before it is re-armed (a liveness check of the module). */
  detectWaitMs: number;
  /** Back-off between failed resynchronisations. */
  recoverBackoffMs: { initial: number; max: number };
  /** Frame dialogue timing (ACK wait, NACK settle, retries). */
  dialogue?: Partial<DialogueTiming>;
}

const sleep = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms));

/** The whole idle sequence on stop (release, field off, PowerDown): well inside the daemon's 5 s shutdown. */
const STOP_BUDGET_MS = 800;
/** Response wait of one idle step (each answers at once on a live module). */
const STOP_STEP_MS = 200;
/** PowerDown WakeUpEnable bits (hardware.md §1.6). */
const WAKE_HSU = 0x10;
const WAKE_I2C = 0x80;

export class Pn532Slot extends EventEmitter<SlotEvents> implements DriverSlot {
  readonly index = 0;
  readonly level: ExchangeLevel = 'apdu';
  readonly part3 = new Part3Reader();

  constructor(private readonly reader: Pn532Reader) {
    super();
  }

  isCardPresent(): boolean {
    return !!this.reader.target;
  }
  cardInfo(): CardInfo | undefined {
    return this.reader.target?.info;
  }

  async powerUp(): Promise<Buffer> {
    const t = this.reader.target;
    if (!t) throw new PcscError(SCARD.E_NO_SMARTCARD);
    return t.atr;
  }

  async powerDown(): Promise<void> {
    /* the RF field stays on for detection while the reader runs (stop() switches it off); the card keeps its activation */
  }

  /** Warm reset of a contactless card: select it again (RATS again for ISO 14443-4). */
  async reset(): Promise<Buffer> {
    const t = this.reader.target;
    if (!t) throw new PcscError(SCARD.E_NO_SMARTCARD);
    try {
      const back = await this.reader.dialogue.exclusive(() => t.reselectLocked());
      if (!back) throw new PcscError(SCARD.E_NO_SMARTCARD, '(card left the field)');
      return t.atr;
    } catch (e) {
      throw this.reader.fail(e);
    }
  }

  async transmit(data: Buffer, _protocol?: number): Promise<Buffer> {
    const t = this.reader.target;
    if (!t) throw new PcscError(SCARD.E_NO_SMARTCARD);
    if (!this.reader.available) throw new PcscError(SCARD.E_READER_UNAVAILABLE);
    try {
      return await this.part3.transmit(t, data);
    } catch (e) {
      throw this.reader.fail(e);
    }
  }

  getAttribute(tag: number): Buffer | undefined {
    const str = (s: string): Buffer => Buffer.from(`${s}\0`);
    switch (tag) {
      case ATTR.VENDOR_NAME:
        return str('NXP');
      case ATTR.VENDOR_IFD_TYPE:
        return str(this.reader.firmware?.text ?? 'PN532');
      case ATTR.ATR_STRING:
        return this.reader.target?.atr;
      case ATTR.ICC_PRESENCE:
        return Buffer.from([this.reader.target ? 2 : 0]);
      default:
        return undefined;
    }
  }

  feedback(f: Feedback): Promise<void> {
    return this.reader.feedback(f);
  }
}

export class Pn532Reader implements DriverReader {
  readonly id: string;
  readonly friendlyName: string;
  readonly vendor = 'NXP';
  readonly ifdType = 'PN532';
  readonly channelId?: number;
  readonly slots: readonly Pn532Slot[];
  readonly dialogue: Dialogue;
  readonly rf: PassiveRetries;
  firmware?: FirmwareVersion;
  target?: Pn532Target;
  available = true;
  private running = false;
  private transportGone = false;
  private loop?: Promise<void>;
  private wakeLoop?: () => void;
  private needRecover = false;
  private recoverBackoff: number;
  readonly stats = { taps: 0, removals: 0, presenceChecks: 0, recoveries: 0, hardResets: 0, resyncFailures: 0, lastError: '' };

  constructor(
    readonly config: Pn532ReaderConfigT,
    readonly link: FrameLink,
    private readonly pins: ReaderPins,
    private readonly tuning: ReaderTuning,
    private readonly log: Logger,
  ) {
    const t = config.transport;
    this.id = t.type === 'hsu' ? `hsu:${t.path}` : `i2c:${t.bus}:0x${t.address.toString(16)}`;
    this.friendlyName = config.name;
    // SCARD_ATTR_CHANNEL_ID: DDDD = 0x0001 serial; I2C has no code of its own
    if (t.type === 'hsu') this.channelId = 0x00010000;
    this.dialogue = new Dialogue(link, { ...DEFAULT_TIMING, ...tuning.dialogue });
    this.rf = new PassiveRetries(this.dialogue);
    this.slots = [new Pn532Slot(this)];
    this.recoverBackoff = tuning.recoverBackoffMs.initial;
  }

  private get slot(): Pn532Slot {
    return this.slots[0];
  }

  diagnostics(): Record<string, unknown> {
    return {
      transport: this.config.transport,
      firmware: this.firmware?.text,
      detection: this.pins.irq ? 'irq' : `poll ${this.config.pollIntervalMs} ms`,
      available: this.available,
      card: this.target ? { type: this.target.type, uid: this.target.uid.toString('hex') } : null,
      ...this.stats,
      dialogue: { ...this.dialogue.counters },
      link: { ...this.link.counters },
    };
  }

  // ------------------------------------------------------------ start-up

  /** Wake, SAMConfiguration, firmware version, parameters, RF configuration, field on (§1.3, §1.6, §1.7). */
  async initLocked(): Promise<void> {
    const d = this.dialogue;
    await this.link.wakeup();
    // SAMConfiguration first (LowVbat start): normal mode, timeout 1 s, IRQ line driven when wired
    await d.commandLocked(CMD.SAMConfiguration, Buffer.from([0x01, 0x14, this.pins.irq ? 0x01 : 0x00]), { timeoutMs: 1000 });
    this.firmware = decodeFirmware(Buffer.concat([Buffer.from([0x03]), await d.commandLocked(CMD.GetFirmwareVersion)]));
    await d.commandLocked(CMD.SetParameters, Buffer.from([PARAM_AUTO_ATR_RES | PARAM_AUTO_RATS]));
    await d.commandLocked(CMD.RFConfiguration, Buffer.from([RF_ITEM.MaxRtyCOM, this.config.comRetries]));
    // ATR_RES timeout 102.4 ms, retry timeout 51.2 ms (the datasheet defaults, stated so a reset module matches)
    await d.commandLocked(CMD.RFConfiguration, Buffer.from([RF_ITEM.Timings, 0x00, 0x0b, 0x0a]));
    // field on explicitly: the last stop() switched it off; do not rely on what a wake-up restores
    await d.commandLocked(CMD.RFConfiguration, Buffer.from([RF_ITEM.Field, 0x01]));
    this.rf.current = -1;
  }

  async init(): Promise<void> {
    await this.dialogue.exclusive(() => this.initLocked());
    // a PN533 or a clone answers the same frames but may differ (InAutoPoll, registers): say so, carry on
    if (this.firmware && this.firmware.ic !== 0x32) this.log.warn({ reader: this.id, firmware: this.firmware.text }, 'not a PN532 (IC code); continuing');
    this.log.info({ reader: this.id, firmware: this.firmware?.text }, 'PN532 ready');
  }

  start(): void {
    this.running = true;
    this.loop = this.run();
  }

  /**
   * Leave the module idle the way libnfc's pn53x_idle does (hardware.md §1.11):
   * card released, RF field off, PowerDown. Bounded by STOP_BUDGET_MS so a
   * module that no longer answers cannot hold up the daemon's shutdown.
   */
  async stop(): Promise<void> {
    this.running = false;
    this.link.abort();
    this.wakeLoop?.();
    await this.loop?.catch(() => undefined);
    this.link.resume();
    await this.dialogue.exclusive(() => this.dialogue.abortLocked()).catch(() => undefined);
    if (!this.transportGone) await this.idleModule();
    this.target = undefined;
    await this.setLed(false);
  }

  private async idleModule(): Promise<void> {
    const d = this.dialogue;
    // wake-up source: the host interface the module is wired to (§1.6 PowerDown: b4 HSU, b7 I2C)
    const wakeOn = this.config.transport.type === 'hsu' ? WAKE_HSU : WAKE_I2C;
    const steps: [string, number, Buffer][] = [
      ['InRelease', CMD.InRelease, Buffer.from([0x00])],
      ['RF field off', CMD.RFConfiguration, Buffer.from([RF_ITEM.Field, 0x00])],
      ['PowerDown', CMD.PowerDown, Buffer.from([wakeOn])],
    ];
    const sequence = d.exclusive(async () => {
      for (const [name, code, params] of steps) {
        try {
          const body = await d.commandLocked(code, params, { timeoutMs: STOP_STEP_MS });
          if (code === CMD.PowerDown && body[0] !== 0x00) throw new Error(`status 0x${body[0]?.toString(16)}`);
        } catch (e) {
          this.log.warn({ reader: this.id, step: name, err: (e as Error).message }, 'PN532 not idled on stop');
          // a module that did not answer one step will not answer the next: do not spend the shutdown budget on it
          if (!(e instanceof Pn532SyntaxError)) return false;
        }
      }
      return true;
    });
    let timer: NodeJS.Timeout | undefined;
    const budget = new Promise<'timeout'>((resolve) => {
      timer = setTimeout(() => resolve('timeout'), STOP_BUDGET_MS);
    });
    const r = await Promise.race([sequence.catch(() => false), budget]);
    clearTimeout(timer);
    if (r === 'timeout') {
      // ends the exchange still waiting; the link is closed right after
      this.link.abort();
      this.log.warn({ reader: this.id, budgetMs: STOP_BUDGET_MS }, 'PN532 not idled on stop: no answer in time');
    } else if (r) this.log.info({ reader: this.id }, 'PN532 idle: card released, RF off, powered down');
  }

  /** The transport went away: no more commands; the card (if any) is gone with it. */
  detached(): void {
    this.transportGone = true;
    this.running = false;
    this.link.abort();
    this.wakeLoop?.();
    if (this.target) this.cardGone();
  }

  // ------------------------------------------------------------ detection loop

  private pause(ms: number): Promise<void> {
    return new Promise((resolve) => {
      const t = setTimeout(done, ms);
      function done(): void {
        clearTimeout(t);
        resolve();
      }
      this.wakeLoop = done;
    });
  }

  private async run(): Promise<void> {
    while (this.running) {
      try {
        if (this.needRecover) {
          await this.recover();
          continue;
        }
        if (!this.target) await this.detect();
        else {
          await this.pause(this.config.removalCheckMs);
          if (this.running && this.target && !this.needRecover) await this.checkPresence();
        }
      } catch (e) {
        if (!this.running) break;
        if (e instanceof LinkError && (e.kind === 'closed' || e.kind === 'aborted')) {
          if (!this.running) break;
          continue;
        }
        this.stats.lastError = (e as Error).message;
        this.log.warn({ reader: this.id, err: (e as Error).message }, 'PN532 exchange failed; resynchronising');
        this.needRecover = true;
      }
    }
  }

  private async detect(): Promise<void> {
    const event = !!this.pins.irq;
    const found = await this.dialogue.exclusive(async () => {
      // event-driven: the module retries forever and answers when a card comes (IRQ / serial data wake us);
      // polling: a finite number of activation attempts per interval
      await this.rf.ensureLocked(event ? 0xff : this.config.rfRetries);
      try {
        const body = await this.dialogue.commandLocked(CMD.InListPassiveTarget, Buffer.from([0x01, 0x00]), {
          timeoutMs: event ? this.tuning.detectWaitMs : 1000,
          idempotent: false,
        });
        return decodeListPassiveTarget(Buffer.concat([Buffer.from([0x4b]), body]))[0];
      } catch (e) {
        // the event-driven wait ran out with no card: the module is alive (it ACKed), re-arm
        if (event && e instanceof Pn532NoResponse && e.acked) return undefined;
        throw e;
      }
    });
    if (!found) {
      if (!event && this.running) await this.pause(this.config.pollIntervalMs);
      return;
    }
    const t = new Pn532Target(this.dialogue, found, this.rf, this.config.rfRetries);
    this.target = t;
    this.stats.taps++;
    this.recoverBackoff = this.tuning.recoverBackoffMs.initial;
    this.log.info({ reader: this.id, type: t.type, uid: t.uid.toString('hex') }, 'card in field');
    this.slot.emit('presence', true, t.info);
    void this.cardFeedback(true);
  }

  private async checkPresence(): Promise<void> {
    const t = this.target;
    if (!t) return;
    this.stats.presenceChecks++;
    const present = await this.dialogue.exclusive(() => t.presentLocked());
    if (!present && this.target === t) this.cardGone();
  }

  private cardGone(): void {
    const t = this.target;
    if (!t) return;
    this.target = undefined;
    this.stats.removals++;
    this.log.info({ reader: this.id, uid: t.uid.toString('hex') }, 'card left the field');
    this.slot.emit('presence', false);
    void this.cardFeedback(false);
  }

  /** A caller's exchange failed: map it to a PC/SC error and let the loop deal with the module. */
  fail(e: unknown): PcscError {
    if (e instanceof Pn532NoResponse || (e instanceof LinkError && e.kind !== 'aborted') || e instanceof Pn532SyntaxError) {
      this.needRecover = true;
      this.wakeLoop?.();
    } else if (e instanceof TargetStatusError && e.timeout) {
      this.wakeLoop?.(); // check presence now
    }
    return pcscErrorOf(e);
  }

  /**
   * Bring the module back: first ask whether it still answers (a lost frame
   * is not a dead module); if it does not, wake-up + SAMConfiguration again,
   * then RSTPDN when wired. The card's session did not survive a resync.
   */
  private async recover(): Promise<void> {
    this.stats.recoveries++;
    const d = this.dialogue;
    const alive = await d
      .exclusive(() => d.commandLocked(CMD.Diagnose, Buffer.from([DIAG.CommunicationTest, 0x73, 0x67])))
      .then((b) => b.length === 3 && b[1] === 0x73 && b[2] === 0x67)
      .catch(() => false);
    if (alive) {
      this.needRecover = false;
      this.setAvailable(true);
      if (this.target) await this.checkPresence();
      return;
    }
    if (this.target) this.cardGone();
    try {
      await d.exclusive(() => this.initLocked());
    } catch (e) {
      if (e instanceof LinkError && (e.kind === 'closed' || e.kind === 'aborted')) throw e;
      if (this.pins.reset) {
        this.stats.hardResets++;
        try {
          await this.hardReset();
          await d.exclusive(() => this.initLocked());
        } catch (e2) {
          return this.recoverFailed(e2);
        }
      } else return this.recoverFailed(e);
    }
    this.log.info({ reader: this.id }, 'PN532 resynchronised');
    this.needRecover = false;
    this.recoverBackoff = this.tuning.recoverBackoffMs.initial;
    this.setAvailable(true);
  }

  private async recoverFailed(e: unknown): Promise<void> {
    if (e instanceof LinkError && (e.kind === 'closed' || e.kind === 'aborted')) throw e;
    this.stats.resyncFailures++;
    this.stats.lastError = (e as Error).message;
    this.setAvailable(false, `PN532 does not answer: ${(e as Error).message}`);
    await this.pause(this.recoverBackoff);
    this.recoverBackoff = Math.min(this.recoverBackoff * 2, this.tuning.recoverBackoffMs.max);
  }

  private setAvailable(v: boolean, reason?: string): void {
    if (this.available === v) return;
    this.available = v;
    this.slot.emit('availability', v, reason);
    if (!v) this.slot.emit('error', new PcscError(SCARD.E_READER_UNAVAILABLE, `(${reason})`));
  }

  /** RSTPDN low 1 ms, high, 2 ms for the oscillator (hardware.md §1.5). */
  private async hardReset(): Promise<void> {
    const pin = this.pins.reset!;
    await pin.write(0);
    await sleep(2);
    await pin.write(1);
    await sleep(3);
  }

  // ------------------------------------------------------------ feedback

  private async setLed(on: boolean): Promise<void> {
    await this.pins.led?.write(on ? 1 : 0).catch(() => undefined);
  }

  private async beep(ms: number, count = 1): Promise<void> {
    const b = this.pins.buzzer;
    if (!b) return;
    for (let i = 0; i < count; i++) {
      await b.write(1);
      await sleep(ms);
      await b.write(0);
      if (i + 1 < count) await sleep(ms);
    }
  }

  private async cardFeedback(inserted: boolean): Promise<void> {
    try {
      if (this.config.feedback.ledOnCard) await this.setLed(inserted);
      if (inserted && this.config.feedback.beepOnTapMs > 0) await this.beep(this.config.feedback.beepOnTapMs);
    } catch (e) {
      this.log.warn({ reader: this.id, err: (e as Error).message }, 'feedback GPIO failed');
    }
  }

  async feedback(f: Feedback): Promise<void> {
    if (!this.pins.led && !this.pins.buzzer) throw new PcscError(SCARD.E_UNSUPPORTED_FEATURE, '(no LED or buzzer pin configured)');
    if (f.led !== undefined) {
      if (!this.pins.led && f.buzzer === undefined) throw new PcscError(SCARD.E_UNSUPPORTED_FEATURE, '(no LED pin configured)');
      if (f.led === 'blink') {
        for (let i = 0; i < 3; i++) {
          await this.setLed(true);
          await sleep(100);
          await this.setLed(false);
          await sleep(100);
        }
      } else await this.setLed(f.led !== 'off');
    }
    if (f.buzzer) {
      if (!this.pins.buzzer) throw new PcscError(SCARD.E_UNSUPPORTED_FEATURE, '(no buzzer pin configured)');
      const ms = Math.max(1, Math.min(f.buzzer.ms, 5000));
      await this.beep(ms, Math.max(1, Math.min(f.buzzer.count ?? 1, 10)));
    }
  }
}
