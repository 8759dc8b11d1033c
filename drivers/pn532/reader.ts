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
import { ACK_FRAME } from './frame.js';
import { HsuLink, LinkError, type FrameLink } from './link.js';
import { AUTOPOLL_TYPE, CMD, HSU_BAUD, decodeAutoPoll, PARAM_AUTO_ATR_RES, PARAM_AUTO_RATS, REG_CIU_TX_CONTROL, RF_ITEM, decodeFirmware, decodeListPassiveTarget, type FirmwareVersion } from './protocol.js';
import { PRESENCE_MISSES, REMOVAL_GOAL_MS, removalBoundMs, type RemovalBound } from './presence.js';
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

/** InAutoPoll: poll until a card comes (PollNr FF), rounds 1 x 150 ms apart, the shortest period the chip has. */
const AUTOPOLL_ENDLESS = 0xff;
const AUTOPOLL_PERIOD = 0x01;

/** The whole idle sequence on stop (release, field off, PowerDown): well inside the daemon's 5 s shutdown. */
const STOP_BUDGET_MS = 800;
/** Response wait of one idle step (each answers at once on a live module). */
const STOP_STEP_MS = 200;
/** A re-plugged or re-powered module must be back within 5 s: no back-off step longer than this. */
export const MAX_BACKOFF_MS = 4000;
/** Presence checks in a row that got no verdict before the card counts as gone (docs/pn532.md §8). */
/** PowerDown WakeUpEnable bits (docs/pn532.md §5). */
const WAKE_HSU = 0x10;
const WAKE_I2C = 0x80;

export class Pn532Slot extends EventEmitter<SlotEvents> implements DriverSlot {
  readonly index = 0;
  readonly level: ExchangeLevel = 'apdu';
  readonly contactless = true;
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
  private presenceMisses = 0;
  /** A speed switch failed once: stay at the power-on speed until restart (docs/pn532.md §6). */
  private speedFailed = false;
  readonly stats = {
    taps: 0, removals: 0, presenceChecks: 0, presenceMisses: 0, recoveries: 0, reinits: 0, hardResets: 0, resyncFailures: 0, baudFallbacks: 0, lastError: '', lastResetSign: '',
  };

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
    // a sign that the module reset itself: run the whole init again from the detection loop
    this.dialogue.onResetSuspected = () => {
      this.needRecover = true;
      this.wakeLoop?.();
    };
    // the presence wait is capped (FWI 10 and up wait the same), so FWI 14 is the worst case of every card
    const worst = this.removalBound(14);
    if (worst.totalMs >= REMOVAL_GOAL_MS) {
      this.log.warn({ reader: this.id, removalCheckMs: config.removalCheckMs, removalBoundMs: Math.round(worst.totalMs) }, 'removalCheckMs makes a card removal take more than a second to report');
    }
  }

  /**
   * Worst case from an ISO 14443-4 card with this FWI leaving to the removal
   * event, at the line's current speed (docs/pn532.md §8.1).
   */
  removalBound(fwi: number): RemovalBound {
    const t = this.config.transport;
    // HSU: 10 bit times per character; I2C: 9 clocks per byte at 100 kHz, plus the status polling without IRQ
    const byteMs = t.type === 'hsu' ? (10 * 1000) / (this.link.baud ?? t.baudRate) : 0.09;
    const pollMs = t.type === 'i2c' && !this.pins.irq ? this.config.i2cPollMs : 0;
    return removalBoundMs({ removalCheckMs: this.config.removalCheckMs, fwi, comRetries: this.config.comRetries, byteMs, pollMs });
  }

  private get slot(): Pn532Slot {
    return this.slots[0];
  }

  diagnostics(): Record<string, unknown> {
    return {
      transport: this.config.transport,
      firmware: this.firmware?.text,
      detection: this.config.autoPoll ? 'autopoll (150 ms rounds)' : this.pins.irq ? 'irq' : `poll ${this.config.pollIntervalMs} ms`,
      baud: this.link.baud,
      removalBoundMs: Math.round(this.removalBound(14).totalMs),
      available: this.available,
      card: this.target ? { type: this.target.type, uid: this.target.uid.toString('hex') } : null,
      ...this.stats,
      dialogue: { ...this.dialogue.counters },
      link: { ...this.link.counters },
    };
  }

  // ------------------------------------------------------------ start-up

  /**
   * The whole initialisation (docs/pn532.md §4): wake-up, SAMConfiguration
   * first (a module in LowVbat accepts nothing else), firmware version,
   * parameters, retries, timings, field on, then the RF state read back to
   * verify it took; on HSU the speed switch last. Run at start, after any sign
   * of a module reset, and on recovery. The module may be at the switched
   * speed (a fault, or an earlier run) or back at 115200 (a reset): all are tried.
   */
  async initLocked(): Promise<void> {
    const link = this.link;
    // the current speed first, then power-on 115200 (a reset), then the switched one (left there by an earlier run)
    const t = this.config.transport;
    const speeds: (number | undefined)[] =
      link instanceof HsuLink && t.type === 'hsu' ? [...new Set([link.baud, link.baudRate, t.maxBaudRate ?? link.baudRate])] : [undefined];
    let lastErr: unknown;
    for (const speed of speeds) {
      try {
        if (speed !== undefined && link instanceof HsuLink) {
          if (speed !== link.baud) this.stats.baudFallbacks++;
          await link.setBaud(speed);
        }
        await this.configureLocked();
        lastErr = undefined;
        break;
      } catch (e) {
        if (e instanceof LinkError && (e.kind === 'closed' || e.kind === 'aborted')) throw e;
        lastErr = e;
      }
    }
    if (lastErr) throw lastErr;
    await this.switchSpeedLocked();
    this.dialogue.initialised();
    this.stats.lastResetSign = this.dialogue.lastResetSign;
  }

  private async configureLocked(): Promise<void> {
    const d = this.dialogue;
    // whatever resynchronisation was pending: a module in LowVbat would ignore its echo
    d.forgetUncertain();
    this.link.discardInput();
    await this.link.wakeup();
    // SAMConfiguration first (LowVbat): normal mode, timeout 1 s, IRQ line driven when wired
    await d.commandLocked(CMD.SAMConfiguration, Buffer.from([0x01, 0x14, this.pins.irq ? 0x01 : 0x00]), { timeoutMs: 1000 });
    this.firmware = decodeFirmware(Buffer.concat([Buffer.from([0x03]), await d.commandLocked(CMD.GetFirmwareVersion)]));
    await d.commandLocked(CMD.SetParameters, Buffer.from([PARAM_AUTO_ATR_RES | PARAM_AUTO_RATS]));
    await d.commandLocked(CMD.RFConfiguration, Buffer.from([RF_ITEM.MaxRtyCOM, this.config.comRetries]));
    // ATR_RES timeout 102.4 ms, retry timeout 51.2 ms (the datasheet defaults, stated so a reset module matches)
    await d.commandLocked(CMD.RFConfiguration, Buffer.from([RF_ITEM.Timings, 0x00, 0x0b, 0x0a]));
    // field on explicitly: the last stop() switched it off; do not rely on what a wake-up restores
    await d.commandLocked(CMD.RFConfiguration, Buffer.from([RF_ITEM.Field, 0x01]));
    this.rf.current = -1;
    await this.rf.ensureLocked(this.pins.irq ? 0xff : this.config.rfRetries);
    // read back: the antenna drivers must be on (CIU_TxControl Tx1RFEn | Tx2RFEn)
    const tx = await d.commandLocked(CMD.ReadRegister, Buffer.from([REG_CIU_TX_CONTROL >> 8, REG_CIU_TX_CONTROL & 0xff]));
    if (tx.length < 1 || (tx[0] & 0x03) !== 0x03) throw new Error(`RF field not on after initialisation (CIU_TxControl 0x${tx[0]?.toString(16)})`);
  }

  /**
   * SetSerialBaudRate to the configured speed (docs/pn532.md §6): the port is
   * first checked to accept it, the module answers at the old speed, our ACK
   * makes it switch, a Diagnose echo at the new speed confirms. Any failure
   * puts both ends back at 115200 and keeps them there.
   */
  private async switchSpeedLocked(): Promise<void> {
    const link = this.link;
    const t = this.config.transport;
    if (!(link instanceof HsuLink) || t.type !== 'hsu' || this.speedFailed) return;
    const want = t.maxBaudRate ?? link.baudRate;
    if (want === link.baud) return;
    const code = HSU_BAUD.indexOf(want as (typeof HSU_BAUD)[number]);
    if (code < 0) return;
    const start = link.baud;
    try {
      await link.setBaud(want);
      await link.setBaud(start);
    } catch (e) {
      this.speedFailed = true;
      await link.setBaud(start).catch(() => undefined);
      this.log.warn({ reader: this.id, baud: want, err: (e as Error).message }, 'serial port refuses the speed; staying at 115200');
      return;
    }
    const d = this.dialogue;
    try {
      await d.commandLocked(CMD.SetSerialBaudRate, Buffer.from([code]));
      await link.sendAndDrain(ACK_FRAME);
      await link.setBaud(want);
      await new Promise((r) => setTimeout(r, 2));
      const echo = await d.commandLocked(CMD.Diagnose, Buffer.from([0x00, 0x62, 0x64]), { timeoutMs: 200 });
      if (echo.length !== 3 || echo[1] !== 0x62 || echo[2] !== 0x64) throw new Error('no echo at the new speed');
      this.log.info({ reader: this.id, baud: want }, 'PN532 HSU speed switched');
    } catch (e) {
      if (e instanceof LinkError && (e.kind === 'closed' || e.kind === 'aborted')) throw e;
      this.speedFailed = true;
      this.stats.baudFallbacks++;
      this.log.warn({ reader: this.id, baud: want, err: (e as Error).message }, 'HSU speed switch failed; back to 115200');
      await link.setBaud(link.baudRate).catch(() => undefined);
      d.forgetUncertain();
      try {
        // the module never took our ACK: it still talks at 115200
        await this.configureLocked();
      } catch (e2) {
        // it did switch and the line does not carry that speed: only a reset brings it back to 115200
        if (!this.pins.reset) throw e2;
        this.stats.hardResets++;
        await this.hardReset();
        await this.configureLocked();
      }
    }
  }

  async init(): Promise<void> {
    await this.dialogue.exclusive(() => this.initLocked());
    this.needRecover = false;
    // a PN533 or a clone answers the same frames but may differ (InAutoPoll, registers): say so, carry on
    if (this.firmware && this.firmware.ic !== 0x32) this.log.warn({ reader: this.id, firmware: this.firmware.text }, 'not a PN532 (IC code); continuing');
    this.log.info({ reader: this.id, firmware: this.firmware?.text }, 'PN532 ready');
  }

  start(): void {
    this.running = true;
    this.loop = this.run();
  }

  /**
   * Leave the module idle the way libnfc's pn53x_idle does (docs/pn532.md §5):
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
    const auto = this.config.autoPoll;
    const event = !!this.pins.irq || auto;
    const found = await this.dialogue.exclusive(async () => {
      if (auto) {
        // the module polls in rounds of 150 ms and answers when one finds a card (docs/pn532.md §17)
        try {
          const types = [AUTOPOLL_TYPE.Iso14443_4A, AUTOPOLL_TYPE.Mifare, AUTOPOLL_TYPE.Generic106];
          const body = await this.dialogue.commandLocked(CMD.InAutoPoll, Buffer.from([AUTOPOLL_ENDLESS, AUTOPOLL_PERIOD, ...types]), {
            timeoutMs: this.tuning.detectWaitMs,
            idempotent: false,
            expectSilence: true,
          });
          return decodeAutoPoll(Buffer.concat([Buffer.from([CMD.InAutoPoll + 1]), body]))[0];
        } catch (e) {
          if (e instanceof Pn532NoResponse && e.acked) return undefined;
          throw e;
        }
      }
      // event-driven: the module retries forever and answers when a card comes (IRQ / serial data wake us);
      // polling: a finite number of activation attempts per interval
      await this.rf.ensureLocked(event ? 0xff : this.config.rfRetries);
      try {
        const body = await this.dialogue.commandLocked(CMD.InListPassiveTarget, Buffer.from([0x01, 0x00]), {
          timeoutMs: event ? this.tuning.detectWaitMs : 1000,
          idempotent: false,
          expectSilence: event,
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
    const t = new Pn532Target(this.dialogue, found, this.rf, this.config.rfRetries, this.config.comRetries);
    const ok = await this.dialogue.exclusive(async () => {
      // a damaged activation answer can pass the 8-bit DCS: on a suspect link, select by that UID to confirm it
      if (this.dialogue.linkSuspect && !(await t.reselectLocked().catch(() => false))) return false;
      await t.identifyLocked();
      return true;
    });
    if (!ok) return;
    this.target = t;
    this.presenceMisses = 0;
    this.stats.taps++;
    this.recoverBackoff = this.tuning.recoverBackoffMs.initial;
    this.log.info({ reader: this.id, type: t.type, uid: t.uid.toString('hex') }, 'card in field');
    this.slot.emit('presence', true, t.info);
    void this.cardFeedback(true);
  }

  /** One presence check; a check without verdict (aborted wait) is a miss, and misses in a row are a removal (docs/pn532.md §8). */
  private async checkPresence(): Promise<void> {
    for (;;) {
      const t = this.target;
      if (!t) return;
      this.stats.presenceChecks++;
      const v = await this.dialogue.exclusive(async () => {
        if (t.gone) return 'gone';
        const r = await t.presentLocked();
        // decided inside the lock, so an APDU queued behind this check already sees the card gone
        if (r === 'gone' || (r === 'miss' && this.presenceMisses + 1 >= PRESENCE_MISSES)) t.gone = true;
        return r;
      });
      if (this.target !== t) return;
      if (v === 'present') {
        this.presenceMisses = 0;
        return;
      }
      if (v === 'gone' || t.gone) {
        this.cardGone();
        return;
      }
      this.presenceMisses++;
      this.stats.presenceMisses++;
      if (!this.running) return;
      // no pause: the verdict on a card that may have left is due now
    }
  }

  private cardGone(): void {
    const t = this.target;
    if (!t) return;
    t.gone = true;
    this.target = undefined;
    this.stats.removals++;
    this.log.info({ reader: this.id, uid: t.uid.toString('hex') }, 'card left the field');
    this.slot.emit('presence', false);
    void this.cardFeedback(false);
  }

  /** A caller's exchange failed: map it to a PC/SC error and let the loop deal with the module. */
  fail(e: unknown): PcscError {
    const cardExchange = e instanceof Pn532NoResponse && e.acked && (e.code === CMD.InDataExchange || e.code === CMD.InCommunicateThru);
    if (cardExchange || (e instanceof TargetStatusError && (e.timeout || e.notAcceptable))) {
      // the module took the command; the card (or the module's idea of it) is in doubt: check presence now
      this.wakeLoop?.();
    } else if (e instanceof Pn532NoResponse || (e instanceof LinkError && e.kind !== 'aborted') || e instanceof Pn532SyntaxError) {
      this.needRecover = true;
      this.wakeLoop?.();
    }
    return pcscErrorOf(e);
  }

  /**
   * Bring the module back: the whole init again (wake-up, SAMConfiguration
   * first, since a module that reset is in LowVbat and ignores anything else),
   * then RSTPDN when wired. A card the module still knows is checked for
   * presence; one it forgot is reported gone by that check.
   */
  private async recover(): Promise<void> {
    this.stats.recoveries++;
    if (this.dialogue.resetSuspected) {
      this.stats.reinits++;
      this.log.warn({ reader: this.id, sign: this.dialogue.lastResetSign }, 'PN532 may have reset itself; initialising again');
    }
    const d = this.dialogue;
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
          if (this.target) this.cardGone();
          return this.recoverFailed(e2);
        }
      } else {
        if (this.target) this.cardGone();
        return this.recoverFailed(e);
      }
    }
    this.log.info({ reader: this.id }, 'PN532 initialised again');
    this.needRecover = false;
    this.recoverBackoff = this.tuning.recoverBackoffMs.initial;
    this.setAvailable(true);
    if (this.target) await this.checkPresence();
  }

  private async recoverFailed(e: unknown): Promise<void> {
    if (e instanceof LinkError && (e.kind === 'closed' || e.kind === 'aborted')) throw e;
    this.stats.resyncFailures++;
    this.stats.lastError = (e as Error).message;
    this.setAvailable(false, `PN532 does not answer: ${(e as Error).message}`);
    await this.pause(this.recoverBackoff);
    this.recoverBackoff = Math.min(this.recoverBackoff * 2, this.tuning.recoverBackoffMs.max, MAX_BACKOFF_MS);
  }

  private setAvailable(v: boolean, reason?: string): void {
    if (this.available === v) return;
    this.available = v;
    this.slot.emit('availability', v, reason);
    if (!v) this.slot.emit('error', new PcscError(SCARD.E_READER_UNAVAILABLE, `(${reason})`));
  }

  /** RSTPDN low 1 ms, high, 2 ms for the oscillator (docs/pn532.md §4). */
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
