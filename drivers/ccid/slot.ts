/**
 * One slot of a CCID interface: a PC/SC reader of its own. Power, protocol
 * parameters and exchanges at the interface's level (docs/ccid.md §4).
 */
import { EventEmitter } from 'node:events';
import type { CardInfo, DriverSlot, ExchangeLevel, Feedback, SimulationControl, SlotEvents } from '../../src/driver/contract.js';
import { ATTR, CM_IOCTL_GET_FEATURE_REQUEST, FEATURE, LIMITS, PROTOCOL, SCARD, scardCtlCode } from '../../src/pcsc/constants.js';
import { PcscError } from '../../src/pcsc/error.js';
import { buildPps, checkPpsResponse, parseAtr, type ParsedAtr } from '../../src/iso7816/atr.js';
import { encodeBlock, parseBlock, S_IFS } from '../../src/iso7816/t1-block.js';
import type { CcidChannel } from './channel.js';
import { FEATURE_BITS, supportedVoltages, type CcidExchangeLevel } from './descriptor.js';
import { CMD, commandStatus, HEADER_LENGTH, ICC, iccStatus, PC_TO_RDR, RDR_TO_PC, SLOT_ERROR, slotErrorToPcsc, type CcidMessage } from './messages.js';
import type { Quirks } from './quirks.js';
import { part10ToSecure, PIN_SUPPORT, secureFieldName, type PinOperation } from './pin.js';

/** SCardControl code of the CCID escape (as libccid: SCARD_CTL_CODE(3500)). */
export const IOCTL_CCID_ESCAPE = scardCtlCode(3500);
/** Part 10 features are reached at SCARD_CTL_CODE(0x313520 + tag) in libccid; ours follow the same base. */
export const featureIoctl = (tag: number): number => scardCtlCode(0x313520 + tag);

export type VoltageChoice = 'auto' | '5V' | '3V' | '1.8V';
const VOLTAGE_CODE: Record<Exclude<VoltageChoice, 'auto'>, number> = { '5V': 1, '3V': 2, '1.8V': 3 };

export interface SlotOptions {
  level: CcidExchangeLevel;
  quirks: Quirks;
  voltage: VoltageChoice;
  escapeAllowed: boolean;
  vendorId: number;
  productId: number;
  label: string;
}

const EMPTY = Buffer.alloc(0);

export class CcidSlot extends EventEmitter<SlotEvents> implements DriverSlot {
  readonly level: ExchangeLevel;
  private present = false;
  private powered = false;
  private info?: CardInfo;
  private atr?: ParsedAtr;
  readonly counters = { powerUps: 0, exchanges: 0, presenceChanges: 0 };
  /** Set by the driver when the binding emulates the device (binding.ts simulation). */
  simulate?: SimulationControl;

  constructor(
    readonly index: number,
    readonly channel: CcidChannel,
    readonly opts: SlotOptions,
  ) {
    super();
    this.level = opts.level === 'tpdu' ? 'tpdu' : 'apdu';
  }

  private get features(): number {
    return this.channel.descriptor.features;
  }

  isCardPresent(): boolean {
    return this.present;
  }

  cardInfo(): CardInfo | undefined {
    return this.present ? this.info : undefined;
  }

  /** Presence as the interrupt endpoint or GetSlotStatus reported it; `swapped`: removed and inserted since. */
  async setPresence(present: boolean, swapped = false): Promise<void> {
    if (swapped && this.present && present) {
      this.present = false;
      this.powered = false;
      this.counters.presenceChanges++;
      this.emit('presence', false);
    }
    if (present === this.present) return;
    this.present = present;
    this.powered = false;
    this.counters.presenceChanges++;
    if (!present) {
      this.info = undefined;
      this.emit('presence', false);
      return;
    }
    this.info = { contactless: !!this.opts.quirks.contactless };
    if (this.opts.quirks.contactless) {
      // Card events carry the UID: the firmware answers the part 3 GET DATA (FF CA 00 00 00).
      try {
        const atr = await this.powerUp();
        const r = await this.transmit(Buffer.from([0xff, 0xca, 0x00, 0x00, 0x00]), PROTOCOL.T1);
        if (r.length > 2 && r[r.length - 2] === 0x90 && r[r.length - 1] === 0x00) this.info.uid = Buffer.from(r.subarray(0, r.length - 2));
        void atr;
      } catch (e) {
        this.emit('error', e as Error);
      }
      if (!this.present) return;
    }
    this.emit('presence', true, this.info);
  }

  /** GetSlotStatus: the ICC status (0 active, 1 inactive, 2 absent). */
  async slotStatus(timeoutMs?: number): Promise<number> {
    const m = await this.channel.command(PC_TO_RDR.GetSlotStatus, this.index, [0, 0, 0], EMPTY, 'GetSlotStatus', timeoutMs ?? this.opts.quirks.slotStatusTimeoutMs);
    // A failed GetSlotStatus with ICC_MUTE only says "no card or mute card" (docs/ccid.md §3.3).
    if (commandStatus(m.p[0]) === CMD.FAILED && m.p[1] !== SLOT_ERROR.ICC_MUTE) throw slotErrorToPcsc('GetSlotStatus', m.p[0], m.p[1]);
    return iccStatus(m.p[0]);
  }

  private ok(m: CcidMessage, what: string, expected: number): CcidMessage {
    if (commandStatus(m.p[0]) === CMD.FAILED) {
      if (iccStatus(m.p[0]) === ICC.ABSENT && this.present) void this.setPresence(false);
      throw slotErrorToPcsc(what, m.p[0], m.p[1]);
    }
    if (m.type !== expected) throw new PcscError(SCARD.F_COMM_ERROR, `(${what}: reply type 0x${m.type.toString(16)}, expected 0x${expected.toString(16)})`);
    return m;
  }

  private needCard(): void {
    if (!this.present) throw new PcscError(SCARD.E_NO_SMARTCARD, `(${this.opts.label}: no card in slot ${this.index})`);
  }

  /**
   * IccPowerOn. Voltage: automatic when the reader selects it (dwFeatures 04/08)
   * or when configured so and the reader cannot; else 5 V -> 3 V -> 1.8 V among
   * those bVoltageSupport lists, moving on when the card stays mute (docs/ccid.md §4.1).
   */
  async powerUp(): Promise<Buffer> {
    this.needCard();
    this.counters.powerUps++;
    const auto = (this.features & (FEATURE_BITS.AUTO_VOLTAGE | FEATURE_BITS.AUTO_ACTIVATION)) !== 0;
    const supported = supportedVoltages(this.channel.descriptor);
    let order: number[];
    if (this.opts.voltage !== 'auto') {
      const want = VOLTAGE_CODE[this.opts.voltage];
      order = supported.includes(want) ? [want, ...supported.filter((v) => v > want)] : supported;
    } else order = auto ? [0] : supported;
    if (order.length === 0) order = [0];
    let last: PcscError | undefined;
    for (const sel of order) {
      const m = await this.channel.command(PC_TO_RDR.IccPowerOn, this.index, [sel, 0, 0], EMPTY, 'IccPowerOn');
      if (commandStatus(m.p[0]) === CMD.FAILED) {
        last = slotErrorToPcsc('IccPowerOn', m.p[0], m.p[1]);
        if (iccStatus(m.p[0]) === ICC.ABSENT) {
          void this.setPresence(false);
          throw last;
        }
        if (m.p[1] === SLOT_ERROR.ICC_MUTE || m.p[1] === SLOT_ERROR.ICC_CLASS_NOT_SUPPORTED || m.p[1] === SLOT_ERROR.BAD_POWERSELECT) continue;
        throw last;
      }
      if (m.type !== RDR_TO_PC.DataBlock || m.data.length === 0) throw new PcscError(SCARD.F_COMM_ERROR, '(IccPowerOn: no ATR in the reply)');
      this.powered = true;
      try {
        this.atr = parseAtr(m.data);
      } catch {
        this.atr = undefined;
      }
      return m.data;
    }
    throw last ?? new PcscError(SCARD.W_UNRESPONSIVE_CARD, '(IccPowerOn: no voltage the reader offers woke the card)');
  }

  async powerDown(): Promise<void> {
    this.powered = false;
    if (!this.present) return;
    const m = await this.channel.command(PC_TO_RDR.IccPowerOff, this.index, [0, 0, 0], EMPTY, 'IccPowerOff');
    if (commandStatus(m.p[0]) === CMD.FAILED && iccStatus(m.p[0]) !== ICC.ABSENT) throw slotErrorToPcsc('IccPowerOff', m.p[0], m.p[1]);
  }

  /** Warm reset: IccPowerOn again, as libccid does. */
  reset(): Promise<Buffer> {
    return this.powerUp();
  }

  /**
   * Protocol parameters (docs/ccid.md §4.2): nothing when the reader negotiates
   * by itself (dwFeatures 40); a PPS when the card is in negotiable mode and
   * either another protocol than its default or a faster TA1 is wanted, unless
   * the reader does PPS itself (80); then SetParameters (T=0: 5 bytes, T=1: 7).
   */
  async setProtocol(protocol: number, atrBytes: Buffer): Promise<void> {
    if (this.features & FEATURE_BITS.AUTO_PARAMETER_NEGOTIATION) return;
    if (this.opts.quirks.contactless) return;
    const t = protocol === PROTOCOL.T1 ? 1 : protocol === PROTOCOL.T0 ? 0 : -1;
    if (t < 0) return;
    if (!(this.channel.descriptor.protocols & (1 << t))) throw new PcscError(SCARD.E_PROTO_MISMATCH, `(${this.opts.label}: the reader does not offer T=${t})`);
    const atr = this.atr && this.atr.bytes.equals(atrBytes) ? this.atr : parseAtr(atrBytes);
    const fidi = atr.ppsUseful ? (atr.fi << 4) | atr.di : undefined;
    if (!(this.features & FEATURE_BITS.AUTO_PPS) && !atr.specificMode && (t !== atr.defaultProtocol || fidi !== undefined)) {
      const pps = buildPps({ protocol: t, fidi });
      const m = this.ok(await this.channel.command(PC_TO_RDR.XfrBlock, this.index, [0, 0, 0], pps, 'PPS'), 'PPS', RDR_TO_PC.DataBlock);
      const r = checkPpsResponse(pps, m.data);
      if (!r.ok) throw new PcscError(SCARD.E_PROTO_MISMATCH, `(PPS refused: ${'reason' in r ? r.reason : 'card answered differently'})`);
    }
    const fd = fidi ?? 0x11;
    const conv = atr.convention === 'inverse' ? 0x02 : 0x00;
    const data =
      t === 0
        ? Buffer.from([fd, conv, atr.n & 0xff, atr.wi & 0xff, atr.clockStop ?? 0])
        : Buffer.from([fd, 0x10 | conv | (atr.t1?.edc === 'crc' ? 1 : 0), atr.n & 0xff, (((atr.t1?.bwi ?? 4) & 0x0f) << 4) | ((atr.t1?.cwi ?? 13) & 0x0f), atr.clockStop ?? 0, atr.t1?.ifsc ?? 32, 0]);
    const m = await this.channel.command(PC_TO_RDR.SetParameters, this.index, [t, 0, 0], data, 'SetParameters');
    if (commandStatus(m.p[0]) === CMD.FAILED) {
      // bError 01..7F: "parameter not changeable", which libccid treats as success (docs/ccid.md §3.3).
      if (m.p[1] >= 0x01 && m.p[1] <= 0x7f) return;
      throw slotErrorToPcsc('SetParameters', m.p[0], m.p[1]);
    }
  }

  async transmit(data: Buffer, protocol: number): Promise<Buffer> {
    this.needCard();
    if (!this.powered) throw new PcscError(SCARD.W_UNPOWERED_CARD, `(${this.opts.label}: card not powered)`);
    this.counters.exchanges++;
    const room = this.channel.descriptor.maxMessageLength - HEADER_LENGTH;
    if (this.opts.level === 'extended-apdu' && data.length > room) return this.chained(data, room);
    if (data.length > room) {
      throw new PcscError(SCARD.E_INVALID_PARAMETER, `(${this.opts.label}: ${data.length}-byte command exceeds the reader's ${room}-byte message; the reader has no extended APDU level)`);
    }
    if (this.level === 'tpdu' && protocol === PROTOCOL.T1) return this.t1Block(data);
    const m = await this.xfr(data, 0, protocol);
    if (this.opts.level === 'extended-apdu' && (m.p[2] === 0x01 || m.p[2] === 0x03)) return this.collect(m.data);
    return m.data;
  }

  /**
   * One T=1 block. The core announces IFSD 254; a reader taking less
   * (dwMaxIFSD) gets its own size in the S(IFS request), and the answer is
   * given back to the core as if for 254: the card then never sends blocks
   * the reader cannot take, and the core's engine accepts them (docs/ccid.md §4.3).
   */
  private async t1Block(block: Buffer): Promise<Buffer> {
    const max = Math.min(254, this.channel.descriptor.maxIfsd || 254);
    const edc = this.atr?.t1?.edc ?? 'lrc';
    const p = parseBlock(block, edc);
    if (!(p.ok && p.block.type === 'S' && !p.block.response && p.block.sType === S_IFS && p.block.inf[0] > max)) return (await this.xfr(block, 0, PROTOCOL.T1)).data;
    const asked = p.block.inf[0];
    const m = await this.xfr(encodeBlock({ ...p.block, inf: Buffer.from([max]) }, edc), 0, PROTOCOL.T1);
    const r = parseBlock(m.data, edc);
    if (r.ok && r.block.type === 'S' && r.block.response && r.block.sType === S_IFS && r.block.inf[0] === max) return encodeBlock({ ...r.block, inf: Buffer.from([asked]) }, edc);
    return m.data;
  }

  private async xfr(data: Buffer, wLevel: number, protocol: number): Promise<CcidMessage> {
    const m = await this.channel.command(PC_TO_RDR.XfrBlock, this.index, [0, wLevel & 0xff, wLevel >> 8], data, 'XfrBlock');
    if (commandStatus(m.p[0]) === CMD.FAILED && this.level === 'tpdu' && protocol === PROTOCOL.T1 && m.p[1] === SLOT_ERROR.ICC_MUTE && iccStatus(m.p[0]) !== ICC.ABSENT) {
      // A silent T=1 card: the block waiting time ran out; the core's T=1 engine recovers.
      throw new PcscError(SCARD.E_TIMEOUT, '(T=1 block: card mute)');
    }
    return this.ok(m, 'XfrBlock', RDR_TO_PC.DataBlock);
  }

  /** Extended APDU command chaining with wLevelParameter (docs/ccid.md §3.7). */
  private async chained(data: Buffer, room: number): Promise<Buffer> {
    let off = 0;
    let m: CcidMessage | undefined;
    while (off < data.length) {
      const piece = data.subarray(off, off + room);
      const first = off === 0;
      off += piece.length;
      const last = off >= data.length;
      const wLevel = first ? 0x0001 : last ? 0x0002 : 0x0003;
      m = await this.xfr(piece, wLevel, PROTOCOL.T1);
      if (!last && m.p[2] !== 0x10) throw new PcscError(SCARD.F_COMM_ERROR, `(XfrBlock chain: reader answered bChainParameter 0x${m.p[2].toString(16)}, expected 0x10)`);
    }
    if (m!.p[2] === 0x01 || m!.p[2] === 0x03) return this.collect(m!.data);
    return m!.data;
  }

  /** Response chaining: empty XfrBlocks with wLevelParameter 0010 until bChainParameter says the end. */
  private async collect(first: Buffer): Promise<Buffer> {
    const parts = [first];
    let total = first.length;
    for (;;) {
      const m = await this.xfr(EMPTY, 0x0010, PROTOCOL.T1);
      parts.push(m.data);
      total += m.data.length;
      if (total > LIMITS.MAX_BUFFER_SIZE_EXTENDED) throw new PcscError(SCARD.F_COMM_ERROR, '(response chain longer than an extended APDU)');
      if (m.p[2] !== 0x03) return Buffer.concat(parts);
    }
  }

  /** PIN operations the reader's pad does: bPINSupport, unless the quirk table knows the claim is false. */
  pinPad(): { verify: boolean; modify: boolean } {
    const bits = this.opts.quirks.noPinPad ? 0 : this.channel.descriptor.pinSupport;
    return { verify: (bits & PIN_SUPPORT.VERIFY) !== 0, modify: (bits & PIN_SUPPORT.MODIFY) !== 0 };
  }

  /** SCardControl: the part 10 feature list, GET_TLV_PROPERTIES, VERIFY/MODIFY_PIN_DIRECT on a PIN pad, and (when enabled) the CCID escape. */
  async control(code: number, data: Buffer): Promise<Buffer> {
    const c = code >>> 0;
    const pad = this.pinPad();
    if (c === CM_IOCTL_GET_FEATURE_REQUEST) {
      const tlv = (tag: number, ioctl: number): Buffer => {
        const b = Buffer.alloc(6);
        b[0] = tag;
        b[1] = 4;
        b.writeUInt32BE(ioctl >>> 0, 2);
        return b;
      };
      const list = [];
      if (pad.verify) list.push(tlv(FEATURE.VERIFY_PIN_DIRECT, featureIoctl(FEATURE.VERIFY_PIN_DIRECT)));
      if (pad.modify) list.push(tlv(FEATURE.MODIFY_PIN_DIRECT, featureIoctl(FEATURE.MODIFY_PIN_DIRECT)));
      if (pad.verify || pad.modify) list.push(tlv(FEATURE.IFD_PIN_PROPERTIES, featureIoctl(FEATURE.IFD_PIN_PROPERTIES)));
      list.push(tlv(FEATURE.GET_TLV_PROPERTIES, featureIoctl(FEATURE.GET_TLV_PROPERTIES)));
      if (this.opts.escapeAllowed) list.push(tlv(FEATURE.CCID_ESC_COMMAND, IOCTL_CCID_ESCAPE));
      return Buffer.concat(list);
    }
    if (c === featureIoctl(FEATURE.GET_TLV_PROPERTIES)) return this.tlvProperties();
    if (c === featureIoctl(FEATURE.IFD_PIN_PROPERTIES) && (pad.verify || pad.modify)) {
      // PIN_PROPERTIES_STRUCTURE: wLcdLayout, bEntryValidationCondition, bTimeOut2 (the same values as the TLVs).
      const b = Buffer.from([0, 0, 0x07, 0x00]);
      b.writeUInt16LE(this.channel.descriptor.lcdLayout, 0);
      return b;
    }
    if (c === featureIoctl(FEATURE.VERIFY_PIN_DIRECT) && pad.verify) return this.secure('verify', data);
    if (c === featureIoctl(FEATURE.MODIFY_PIN_DIRECT) && pad.modify) return this.secure('modify', data);
    if (c === IOCTL_CCID_ESCAPE) {
      if (!this.opts.escapeAllowed) throw new PcscError(SCARD.E_UNSUPPORTED_FEATURE, '(CCID escape is off; set drivers.ccid.escape: true to allow it)');
      return this.escape(data);
    }
    throw new PcscError(SCARD.E_UNSUPPORTED_FEATURE, `(control code 0x${c.toString(16)} is not supported by ${this.opts.label})`);
  }

  /**
   * VERIFY/MODIFY_PIN_DIRECT through PC_to_RDR_Secure (docs/ccid.md §4.7). The
   * user types on the reader, so the command may take the structure's timeouts
   * on top of the usual one; time extensions stretch it as for any command.
   * The structure holds no PIN, but it is not logged either.
   */
  private async secure(what: PinOperation, data: Buffer): Promise<Buffer> {
    const cmd = part10ToSecure(what, data, this.channel.descriptor.maxMessageLength);
    this.needCard();
    if (!this.powered) throw new PcscError(SCARD.W_UNPOWERED_CARD, `(${this.opts.label}: card not powered)`);
    const m = await this.channel.command(PC_TO_RDR.Secure, this.index, [0, 0, 0], cmd.abData, 'Secure', this.channel.tuning.commandTimeoutMs + cmd.userWaitMs);
    if (commandStatus(m.p[0]) === CMD.FAILED && iccStatus(m.p[0]) !== ICC.ABSENT) {
      const e = m.p[1];
      if (e >= 0x01 && e <= 0x7f) {
        const n = cmd.abData[0] === 0 ? cmd.abData[8] : cmd.abData[11];
        throw new PcscError(SCARD.E_INVALID_PARAMETER, `(Secure: the reader refused ${secureFieldName(cmd.abData[0], n, e)} (message offset ${e}))`);
      }
      // As libccid answers them (and OpenSC, among others, expects): the user's timeout and Cancel are a successful
      // SCardControl whose answer is the status word 64 00 / 64 01, not a PC/SC error.
      if (e === SLOT_ERROR.PIN_TIMEOUT) return Buffer.from([0x64, 0x00]);
      if (e === SLOT_ERROR.PIN_CANCELLED) return Buffer.from([0x64, 0x01]);
    }
    return this.ok(m, 'Secure', RDR_TO_PC.DataBlock).data;
  }

  /**
   * PC/SC part 10 GET_TLV_PROPERTIES: wLcdLayout (01), dwMaxAPDUDataSize (0A),
   * wIdVendor (0B), wIdProduct (0C); with a PIN pad also bEntryValidationCondition
   * (02: any of max size, key, timeout) and bTimeOut2 (03: not distinguished),
   * and with a display its lines (05) and characters per line (04).
   */
  private tlvProperties(): Buffer {
    const d = this.channel.descriptor;
    const u8 = (tag: number, v: number): Buffer => Buffer.from([tag, 1, v & 0xff]);
    const u16 = (tag: number, v: number): Buffer => Buffer.from([tag, 2, v & 0xff, (v >> 8) & 0xff]);
    const max = this.opts.level === 'extended-apdu' ? 65536 : 0;
    const u32 = Buffer.alloc(6);
    u32[0] = 0x0a;
    u32[1] = 4;
    u32.writeUInt32LE(max, 2);
    const out = [u16(0x01, d.lcdLayout)];
    const pad = this.pinPad();
    if (pad.verify || pad.modify) out.push(u8(0x02, 0x07), u8(0x03, 0x00));
    if (d.lcdLayout !== 0) out.push(u16(0x04, d.lcdLayout & 0xff), u16(0x05, d.lcdLayout >> 8));
    out.push(u32, u16(0x0b, this.opts.vendorId), u16(0x0c, this.opts.productId));
    return Buffer.concat(out);
  }

  /** PC_to_RDR_Escape: vendor bytes in, vendor bytes out. */
  async escape(data: Buffer): Promise<Buffer> {
    const m = await this.channel.command(PC_TO_RDR.Escape, this.index, [0, 0, 0], data, 'Escape');
    return this.ok(m, 'Escape', RDR_TO_PC.Escape).data;
  }

  getAttribute(tag: number): Buffer | undefined {
    if (tag === ATTR.MAXINPUT) {
      const b = Buffer.alloc(4);
      b.writeUInt32LE(this.opts.level === 'extended-apdu' ? LIMITS.MAX_BUFFER_SIZE_EXTENDED : this.channel.descriptor.maxMessageLength - HEADER_LENGTH);
      return b;
    }
    return undefined;
  }

  /**
   * LED and buzzer where the reader has them (quirks.feedback), through
   * Escape whatever drivers.ccid.escape says: the bytes are ours, not a client's.
   */
  async feedback(f: Feedback): Promise<void> {
    const kind = this.opts.quirks.feedback;
    if (!kind) throw new PcscError(SCARD.E_UNSUPPORTED_FEATURE, `(${this.opts.label} has no LED or buzzer scardgate can drive)`);
    if (typeof f !== 'object' || f === null) throw new PcscError(SCARD.E_INVALID_PARAMETER, 'feedback must be an object {led?, buzzer?}');
    const ms = f.buzzer?.ms ?? 0;
    if (f.buzzer && (!Number.isInteger(ms) || ms < 0 || ms > 10000)) throw new PcscError(SCARD.E_INVALID_PARAMETER, `feedback.buzzer.ms must be an integer 0..10000, got ${JSON.stringify(ms)}`);
    if (kind === 'acr122u') {
      // FF 00 40 P2 04 T1 T2 reps link: P2 bit 0 red / bit 1 green final state, updated (bits 2/3); T1 in 100 ms units.
      const led = f.led === 'red' ? 0x05 : f.led === 'green' || f.led === 'on' ? 0x0a : f.led === 'blink' ? 0x5f : f.led === 'off' ? 0x0c : 0x00;
      const units = Math.min(255, Math.ceil(ms / 100));
      await this.escape(Buffer.from([0xff, 0x00, 0x40, led, 0x04, units, 0x00, f.buzzer ? Math.min(255, f.buzzer.count ?? 1) : 0x00, f.buzzer ? 0x01 : 0x00]));
      return;
    }
    if (f.led !== undefined) {
      const bits = f.led === 'red' ? 0x01 : f.led === 'green' || f.led === 'on' ? 0x02 : f.led === 'blink' ? 0x03 : 0x00;
      await this.escape(Buffer.from([0xe0, 0x00, 0x00, 0x29, 0x01, bits]));
    }
    if (f.buzzer) await this.escape(Buffer.from([0xe0, 0x00, 0x00, 0x21, 0x01, Math.min(255, Math.ceil(ms / 10))]));
  }

  /** The device went away: the core learns that the slot is unusable. */
  lost(why: string): void {
    this.powered = false;
    this.emit('availability', false, why);
  }

  diagnostics(): Record<string, unknown> {
    return { slot: this.index, present: this.present, powered: this.powered, uid: this.info?.uid?.toString('hex').toUpperCase(), ...this.counters };
  }
}
