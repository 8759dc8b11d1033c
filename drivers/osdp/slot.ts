/**
 * One OSDP reader as a gateway reader. An OSDP reader reports card reads, not
 * cards in a field: a read makes a card present for cardHoldMs, with the
 * credential (format, bits, facility and card number) in its card info. PC/SC
 * clients see that card with a fixed contactless ATR; GET DATA (FF CA 00 00
 * 00) returns the credential bits, any other APDU 6A 81 (no transparent mode).
 */
import { EventEmitter } from 'node:events';
import type { CardInfo, DriverReader, DriverSlot, Feedback, SlotEvents } from '../../src/driver/contract.js';
import { PcscError } from '../../src/pcsc/error.js';
import { SCARD } from '../../src/pcsc/constants.js';
import { CMD, COLOR } from '../../src/osdp/codes.js';
import { encodeBuz, encodeLed, type RawCard } from '../../src/osdp/records.js';
import { decodeCredential } from '../../src/osdp/formats.js';
import type { CpBus } from '../../src/osdp/cp.js';
import type { OsdpCpReaderConfigT } from './config.js';

/** T=1, no historical bytes: 3B 80 80 01 and its TCK. */
export const OSDP_ATR = Buffer.from('3b80800101', 'hex');

export class OsdpSlot extends EventEmitter<SlotEvents> implements DriverSlot {
  readonly index = 0;
  readonly level = 'apdu' as const;
  private card?: { info: CardInfo; data: Buffer };
  private hold?: NodeJS.Timeout;
  powered = false;

  constructor(
    private readonly bus: CpBus,
    private readonly cfg: OsdpCpReaderConfigT,
  ) {
    super();
  }

  isCardPresent(): boolean {
    return this.card !== undefined;
  }

  cardInfo(): CardInfo | undefined {
    return this.card?.info;
  }

  /** A read from the reader: present now, absent after cardHoldMs (a different card first leaves). */
  read(raw: RawCard): void {
    const c = decodeCredential(raw.bitCount, raw.data);
    const info: CardInfo = {
      contactless: true,
      type: 'osdp-credential',
      credential: { ...c, formatCode: raw.format, reader: raw.reader },
    };
    // raw UID bits (format 0, whole bytes): they are the UID
    if (raw.format === 0 && raw.bitCount % 8 === 0) info.uid = Buffer.from(raw.data);
    clearTimeout(this.hold);
    if (this.card && !this.card.data.equals(raw.data)) this.leave();
    const fresh = !this.card;
    this.card = { info, data: Buffer.from(raw.data) };
    if (fresh) this.emit('presence', true, info);
    this.hold = setTimeout(() => this.leave(), this.cfg.cardHoldMs);
    this.hold.unref?.();
  }

  private leave(): void {
    clearTimeout(this.hold);
    if (!this.card) return;
    this.card = undefined;
    this.powered = false;
    this.emit('presence', false);
  }

  async powerUp(): Promise<Buffer> {
    if (!this.card) throw new PcscError(SCARD.E_NO_SMARTCARD, 'no card read');
    this.powered = true;
    return OSDP_ATR;
  }

  async powerDown(): Promise<void> {
    this.powered = false;
  }

  reset(): Promise<Buffer> {
    return this.powerUp();
  }

  async transmit(apdu: Buffer): Promise<Buffer> {
    if (!this.card) throw new PcscError(SCARD.E_NO_SMARTCARD, 'card read expired');
    if (apdu.length >= 5 && apdu[0] === 0xff && apdu[1] === 0xca && apdu[2] === 0x00 && apdu[3] === 0x00) {
      return Buffer.concat([this.card.data, Buffer.from([0x90, 0x00])]);
    }
    return Buffer.from([0x6a, 0x81]);
  }

  /** LED: permanent colour (green/red/on/off) or a temporary green blink; buzzer: default tone. */
  async feedback(f: Feedback): Promise<void> {
    const a = this.cfg.address;
    if (f.led) {
      const color = f.led === 'red' ? COLOR.RED : f.led === 'off' ? COLOR.BLACK : COLOR.GREEN;
      const blink = f.led === 'blink';
      await this.bus.command(
        a,
        CMD.LED,
        encodeLed([
          {
            reader: 0,
            led: 0,
            temporary: blink ? { control: 2, onTime: 3, offTime: 3, onColor: COLOR.GREEN, offColor: COLOR.BLACK, timer: 30 } : { control: 0, onTime: 0, offTime: 0, onColor: 0, offColor: 0, timer: 0 },
            permanent: blink ? { control: 0, onTime: 0, offTime: 0, onColor: 0, offColor: 0 } : { control: 1, onTime: 1, offTime: 0, onColor: color, offColor: COLOR.BLACK },
          },
        ]),
      );
    }
    if (f.buzzer) {
      const on = Math.min(255, Math.max(1, Math.ceil(f.buzzer.ms / 100)));
      await this.bus.command(a, CMD.BUZ, encodeBuz({ reader: 0, tone: 2, onTime: on, offTime: 1, count: Math.min(255, Math.max(1, f.buzzer.count ?? 1)) }));
    }
  }

  close(): void {
    clearTimeout(this.hold);
    this.card = undefined;
  }
}

export class OsdpReader implements DriverReader {
  readonly friendlyName: string;
  readonly interfaceName = 'OSDP';
  readonly slots: OsdpSlot[];
  readonly vendor = 'OSDP';
  readonly channelId = 0x00010000;
  serial?: string;

  constructor(
    readonly id: string,
    readonly cfg: OsdpCpReaderConfigT,
    readonly bus: CpBus,
  ) {
    this.friendlyName = cfg.name;
    this.slots = [new OsdpSlot(bus, cfg)];
  }

  diagnostics(): Record<string, unknown> {
    const info = this.bus.info(this.cfg.address);
    return {
      address: this.cfg.address,
      online: this.bus.isOnline(this.cfg.address),
      secure: info?.secure ?? false,
      vendorCode: info ? info.identity.vendorCode.toString(16).padStart(6, '0') : undefined,
      model: info?.identity.model,
      serial: info?.identity.serial,
    };
  }
}
