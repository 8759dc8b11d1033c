/**
 * One CCID function (one USB interface) of the emulated reader: its slots,
 * the card each holds, and the firmware that answers PC_to_RDR messages byte
 * for byte as docs/ccid.md describes, no kinder than a reader: wrong lengths,
 * slots, voltages and level parameters are refused with the bError a reader
 * gives, a busy slot answers CMD_SLOT_BUSY, XfrBlock without a powered card
 * answers ICC_MUTE.
 */
import { decodeMessage, encodeMessage, HEADER_LENGTH, ICC, PC_TO_RDR, RDR_TO_PC, SLOT_ERROR } from '../../drivers/ccid/messages.js';
import { exchangeLevel, FEATURE_BITS, type CcidDescriptor, type CcidExchangeLevel } from '../../drivers/ccid/descriptor.js';
import type { SimCard } from '../../drivers/sim/cards/index.js';
import { CardTarget } from '../../drivers/sim/contactless-target.js';
import { Part3Reader } from '../../src/contactless/part3.js';
import { transmitT0 } from '../../src/iso7816/t0.js';
import { T1Protocol } from '../../src/iso7816/t1.js';
import { T1Card } from '../../src/iso7816/t1-card.js';
import { parseAtr } from '../../src/iso7816/atr.js';
import type { InterfaceProfile } from './profiles.js';
import { buildPinApdu, checkSecure, parseSecure, PinPad, type PadEntry } from './pinpad.js';

export interface FeedbackRecord {
  kind: 'led' | 'buzzer';
  value: number;
}

class EmuSlot {
  card?: SimCard;
  powered = false;
  /** 0 = T=0, 1 = T=1 (SetParameters / default from the ATR). */
  protocol = 0;
  params: Buffer = Buffer.from([0x11, 0x00, 0x00, 0x0a, 0x00]);
  target?: CardTarget;
  part3 = new Part3Reader();
  /** Firmware T=1 engine (APDU level, T=1 TPDU cards). */
  t1?: T1Protocol;
  /** Card-side T=1 layer for APDU cards reached at TPDU level. */
  t1card?: T1Card;
  /** Extended APDU: command pieces received so far; response pieces still to send. */
  chainIn: Buffer[] = [];
  chainOut?: Buffer;
  busy = false;
  /** Changed since the last NotifySlotChange. */
  changed = false;
  exchangedSincePowerOn = false;
  /** bSeq of the command in progress (answered CMD_ABORTED when aborted). */
  currentSeq = -1;
  /** Ends a PIN prompt when the command is aborted. */
  promptAbort?: AbortController;

  /** Still working on the command with this bSeq: not aborted, and no later command took the slot since. */
  runs(seq: number): boolean {
    return this.busy && this.currentSeq === seq;
  }
}

export type Reply = (msg: Buffer) => void;

export class CcidFunction {
  readonly slots: EmuSlot[];
  readonly level: CcidExchangeLevel;
  readonly feedback: FeedbackRecord[] = [];
  /** Time-extension frames before each XfrBlock answer. */
  timeExtensions = 0;
  /** Time extensions without end for the next XfrBlock, until Abort. */
  storm = false;
  readonly counters = { commands: 0, xfr: 0, aborts: 0, busy: 0, errors: 0, setParameters: 0, pps: 0, powerOn: 0, secure: 0 };
  /** IFSD of each S(IFS request) block passed to a card at TPDU level. */
  readonly ifsRequests: number[] = [];
  /** bPowerSelect of each IccPowerOn, oldest first. */
  readonly powerSelects: number[] = [];
  private abortArmed?: { slot: number; seq: number };
  /** The keypad, on a profile with a PIN pad. */
  readonly pinpad?: PinPad;

  constructor(
    readonly number: number,
    readonly profile: InterfaceProfile,
    readonly descriptor: CcidDescriptor,
    private readonly notify: (msg: Buffer) => void,
  ) {
    this.level = exchangeLevel(descriptor);
    this.slots = Array.from({ length: descriptor.maxSlotIndex + 1 }, () => new EmuSlot());
    if (profile.pinpad) this.pinpad = new PinPad();
  }

  private iccStatus(s: EmuSlot): number {
    return !s.card ? ICC.ABSENT : s.powered ? ICC.ACTIVE : ICC.INACTIVE;
  }

  insert(slot: number, card: SimCard): void {
    const s = this.slotAt(slot);
    if (s.card) throw new Error(`slot ${slot} of interface ${this.number} already holds a card`);
    s.card = card;
    s.target = CardTarget.for(card);
    s.powered = false;
    s.changed = true;
    this.sendSlotChange();
  }

  remove(slot: number): void {
    const s = this.slotAt(slot);
    if (!s.card) return;
    s.card = undefined;
    s.target = undefined;
    s.powered = false;
    s.t1 = undefined;
    s.changed = true;
    this.sendSlotChange();
  }

  card(slot: number): SimCard | undefined {
    return this.slotAt(slot).card;
  }

  private slotAt(i: number): EmuSlot {
    const s = this.slots[i];
    if (!s) throw new Error(`interface ${this.number} has ${this.slots.length} slot(s), no slot ${i}`);
    return s;
  }

  /** RDR_to_PC_NotifySlotChange: 2 bits per slot (present, changed), LSB first (docs/ccid.md §3.5). */
  sendSlotChange(): void {
    if (!this.profile.interrupt) {
      for (const s of this.slots) s.changed = false;
      return;
    }
    const bytes = Buffer.alloc(1 + Math.ceil((2 * this.slots.length) / 8));
    bytes[0] = RDR_TO_PC.NotifySlotChange;
    this.slots.forEach((s, i) => {
      const bits = (s.card ? 1 : 0) | (s.changed ? 2 : 0);
      bytes[1 + (i >> 2)] |= bits << ((i & 3) * 2);
      s.changed = false;
    });
    this.notify(bytes);
  }

  sendHardwareError(slot: number, seq: number, code: number): void {
    if (this.profile.interrupt) this.notify(Buffer.from([RDR_TO_PC.HardwareError, slot, seq, code]));
  }

  /** Class request ABORT (wValue = bSeq << 8 | bSlot): arms the bulk Abort that must follow. */
  controlAbort(wValue: number): void {
    this.abortArmed = { slot: wValue & 0xff, seq: wValue >> 8 };
  }

  /**
   * One bulk-OUT transfer. Replies are handed to `reply` in order (time
   * extensions first); the promise settles once the final reply is out.
   */
  async handle(raw: Buffer, reply: Reply): Promise<void> {
    this.counters.commands++;
    if (raw.length < HEADER_LENGTH) {
      // Too short to carry a header: a reader has nothing to answer to.
      this.counters.errors++;
      return;
    }
    const type = raw[0];
    const slotNo = raw[5];
    const seq = raw[6];
    const d = decodeMessage(raw);
    const replyType = replyTypeFor(type);
    const fail = (bError: number, icc?: number): void => {
      this.counters.errors++;
      const s = this.slots[slotNo];
      reply(encodeMessage(replyType, slotNo, seq, [0x40 | (icc ?? (s ? this.iccStatus(s) : ICC.ABSENT)), bError, 0]));
    };
    if (!d.ok) return fail(SLOT_ERROR.BAD_LENGTH);
    const m = d.msg;
    const s = this.slots[slotNo];
    if (!s) return fail(SLOT_ERROR.BAD_SLOT, ICC.ABSENT);
    if (type === PC_TO_RDR.Abort) {
      this.counters.aborts++;
      const armed = this.abortArmed;
      this.abortArmed = undefined;
      if (!armed || armed.slot !== slotNo || armed.seq !== seq) return fail(SLOT_ERROR.CMD_NOT_SUPPORTED);
      this.storm = false;
      if (s.busy) {
        s.busy = false;
        s.promptAbort?.abort();
        reply(encodeMessage(RDR_TO_PC.DataBlock, slotNo, s.currentSeq, [0x40 | this.iccStatus(s), SLOT_ERROR.CMD_ABORTED, 0]));
      }
      reply(encodeMessage(RDR_TO_PC.SlotStatus, slotNo, seq, [this.iccStatus(s), 0, 0]));
      return;
    }
    const busySlots = this.slots.filter((x) => x.busy).length;
    if (s.busy || busySlots >= this.descriptor.maxBusySlots) {
      this.counters.busy++;
      return fail(SLOT_ERROR.CMD_SLOT_BUSY);
    }
    s.busy = true;
    s.currentSeq = seq;
    try {
      await this.run(m.type, slotNo, s, m.seq, m.p, m.data, reply, fail);
    } finally {
      // An aborted command ends after the next one may have started: it must not free the slot under that one.
      if (s.currentSeq === seq) s.busy = false;
    }
  }

  private async run(
    type: number,
    slotNo: number,
    s: EmuSlot,
    seq: number,
    p: [number, number, number],
    data: Buffer,
    reply: Reply,
    fail: (bError: number, icc?: number) => void,
  ): Promise<void> {
    const status = (): number => this.iccStatus(s);
    const dataBlock = (abData: Buffer, chain = 0): void => reply(encodeMessage(RDR_TO_PC.DataBlock, slotNo, seq, [status(), 0, chain], abData));
    const slotStatus = (): void => reply(encodeMessage(RDR_TO_PC.SlotStatus, slotNo, seq, [status(), 0, 0]));
    const params = (): void => reply(encodeMessage(RDR_TO_PC.Parameters, slotNo, seq, [status(), 0, s.protocol], s.params));
    switch (type) {
      case PC_TO_RDR.GetSlotStatus:
        if (data.length !== 0) return fail(SLOT_ERROR.BAD_LENGTH);
        return slotStatus();
      case PC_TO_RDR.IccPowerOn: {
        if (data.length !== 0) return fail(SLOT_ERROR.BAD_LENGTH);
        const sel = p[0];
        this.counters.powerOn++;
        this.powerSelects.push(sel);
        const auto = (this.descriptor.features & (FEATURE_BITS.AUTO_VOLTAGE | FEATURE_BITS.AUTO_ACTIVATION)) !== 0;
        if (sel > 3 || (sel === 0 && !auto) || (sel !== 0 && !(this.descriptor.voltageSupport & (1 << (sel - 1))))) return fail(SLOT_ERROR.BAD_POWERSELECT);
        if (!s.card) return fail(SLOT_ERROR.ICC_MUTE, ICC.ABSENT);
        s.card.reset();
        s.target?.reset();
        s.powered = true;
        s.exchangedSincePowerOn = false;
        s.chainIn = [];
        s.chainOut = undefined;
        const atr = parseAtr(s.card.atr);
        s.protocol = atr.defaultProtocol === 1 ? 1 : 0;
        s.params = s.protocol === 1 ? Buffer.from([0x11, 0x10, 0x00, 0x4d, 0x00, 0x20, 0x00]) : Buffer.from([0x11, 0x00, 0x00, 0x0a, 0x00]);
        this.resetEngines(s);
        return dataBlock(Buffer.from(s.card.atr));
      }
      case PC_TO_RDR.IccPowerOff:
        if (data.length !== 0) return fail(SLOT_ERROR.BAD_LENGTH);
        s.powered = false;
        s.card?.reset();
        return slotStatus();
      case PC_TO_RDR.GetParameters:
      case PC_TO_RDR.ResetParameters:
        if (!s.card) return fail(SLOT_ERROR.ICC_MUTE, ICC.ABSENT);
        return params();
      case PC_TO_RDR.SetParameters: {
        const proto = p[0];
        if (proto > 1) return fail(SLOT_ERROR.BAD_PROTOCOLNUM);
        if (data.length !== (proto === 0 ? 5 : 7)) return fail(SLOT_ERROR.BAD_LENGTH);
        if (!s.card) return fail(SLOT_ERROR.ICC_MUTE, ICC.ABSENT);
        const offered = parseAtr(s.card.atr).protocols;
        if (!offered.includes(proto) && !s.card.info.contactless) return fail(SLOT_ERROR.ICC_PROTOCOL_NOT_SUPPORTED);
        this.counters.setParameters++;
        s.protocol = proto;
        s.params = Buffer.from(data);
        this.resetEngines(s);
        return params();
      }
      case PC_TO_RDR.Escape:
        return this.escape(slotNo, seq, s, data, reply);
      case PC_TO_RDR.XfrBlock:
        return this.xfr(slotNo, seq, s, p, data, reply, fail, dataBlock);
      case PC_TO_RDR.Secure:
        if (!this.pinpad) return fail(SLOT_ERROR.CMD_NOT_SUPPORTED);
        return this.secure(slotNo, seq, s, p, data, reply, fail, dataBlock);
      default:
        // IccClock, T0APDU, Mechanical, SetDataRateAndClockFrequency and unknown codes.
        return fail(SLOT_ERROR.CMD_NOT_SUPPORTED);
    }
  }

  private resetEngines(s: EmuSlot): void {
    s.t1 = undefined;
    s.t1card = undefined;
    const card = s.card;
    if (!card) return;
    const atr = parseAtr(card.atr);
    if (card.interface === 'tpdu-t1' && card.exchangeBlock) {
      const ex = card.exchangeBlock.bind(card);
      s.t1 = new T1Protocol({ ifsc: atr.t1?.ifsc ?? 32, edc: atr.t1?.edc ?? 'lrc' }, (b) => ex(b));
    }
    if (card.interface === 'apdu' && !card.info.contactless) s.t1card = new T1Card((apdu) => card.process(apdu), { ifsc: atr.t1?.ifsc ?? 32, edc: atr.t1?.edc ?? 'lrc' });
  }

  /** Vendor escapes: ACR122U pseudo-APDU FF 00 40 (LED/buzzer), ACR1252U E0 00 00 21/29. Others: not supported. */
  private escape(slotNo: number, seq: number, s: EmuSlot, data: Buffer, reply: Reply): void {
    const out = (b: Buffer): void => reply(encodeMessage(RDR_TO_PC.Escape, slotNo, seq, [this.iccStatus(s), 0, 0], b));
    if (this.profile.escape === 'acr122u' && data.length === 9 && data[0] === 0xff && data[1] === 0x00 && data[2] === 0x40 && data[4] === 0x04) {
      this.feedback.push({ kind: 'led', value: data[3] });
      if (data[8] !== 0) this.feedback.push({ kind: 'buzzer', value: data[5] * 100 });
      return out(Buffer.from([0x90, data[3] & 0x03]));
    }
    if (this.profile.escape === 'acr1252u' && data.length === 6 && data[0] === 0xe0 && data[1] === 0 && data[2] === 0 && data[4] === 0x01 && (data[3] === 0x21 || data[3] === 0x29)) {
      this.feedback.push(data[3] === 0x21 ? { kind: 'buzzer', value: data[5] * 10 } : { kind: 'led', value: data[5] });
      return out(Buffer.from([0xe1, 0x00, 0x00, 0x00, 0x01, data[5]]));
    }
    this.counters.errors++;
    reply(encodeMessage(RDR_TO_PC.Escape, slotNo, seq, [0x40 | this.iccStatus(s), SLOT_ERROR.CMD_NOT_SUPPORTED, 0]));
  }

  private async xfr(
    slotNo: number,
    seq: number,
    s: EmuSlot,
    p: [number, number, number],
    data: Buffer,
    reply: Reply,
    fail: (bError: number, icc?: number) => void,
    dataBlock: (abData: Buffer, chain?: number) => void,
  ): Promise<void> {
    this.counters.xfr++;
    if (!s.card) return fail(SLOT_ERROR.ICC_MUTE, ICC.ABSENT);
    if (!s.powered) return fail(SLOT_ERROR.ICC_MUTE);
    const wLevel = p[1] | (p[2] << 8);
    const room = this.descriptor.maxMessageLength - HEADER_LENGTH;
    if (data.length > room) return fail(SLOT_ERROR.BAD_LENGTH);
    let apdu: Buffer;
    if (this.level === 'extended-apdu') {
      switch (wLevel) {
        case 0x0000:
          s.chainIn = [];
          s.chainOut = undefined;
          apdu = data;
          break;
        case 0x0001:
          s.chainIn = [data];
          return dataBlock(Buffer.alloc(0), 0x10);
        case 0x0003:
          if (s.chainIn.length === 0) return fail(SLOT_ERROR.BAD_LEVEL_PARAMETER);
          s.chainIn.push(data);
          return dataBlock(Buffer.alloc(0), 0x10);
        case 0x0002:
          if (s.chainIn.length === 0) return fail(SLOT_ERROR.BAD_LEVEL_PARAMETER);
          apdu = Buffer.concat([...s.chainIn, data]);
          s.chainIn = [];
          break;
        case 0x0010: {
          if (!s.chainOut || data.length !== 0) return fail(SLOT_ERROR.BAD_LEVEL_PARAMETER);
          return this.sendPiece(s, room, dataBlock, false);
        }
        default:
          return fail(SLOT_ERROR.BAD_LEVEL_PARAMETER);
      }
    } else {
      if (wLevel !== 0) return fail(SLOT_ERROR.BAD_LEVEL_PARAMETER);
      apdu = data;
    }
    await this.extendTime(slotNo, seq, s, reply);
    if (!s.runs(seq)) return; // aborted while extending
    let answer: Buffer;
    try {
      answer = await this.exchange(s, apdu);
    } catch {
      return fail(SLOT_ERROR.ICC_MUTE);
    }
    if (!s.runs(seq)) return;
    if (answer.length === 0) return fail(SLOT_ERROR.ICC_MUTE);
    // A T=1 block from the card larger than the reader's dwMaxIFSD overruns its buffer.
    if (this.level === 'tpdu' && s.protocol === 1 && answer.length >= 3 && answer[2] > this.descriptor.maxIfsd) return fail(SLOT_ERROR.XFR_OVERRUN);
    if (this.level === 'extended-apdu' && answer.length > room) {
      s.chainOut = answer;
      return this.sendPiece(s, room, dataBlock, true);
    }
    if (answer.length > room) return fail(SLOT_ERROR.XFR_OVERRUN);
    dataBlock(answer);
  }

  /**
   * PC_to_RDR_Secure (docs/ccid.md §4.7): the structure checked before any
   * prompt, then one keypad entry per PIN asked for (current, new, new again),
   * each within bTimeOut; Cancel -> PIN_CANCELLED, nothing in time ->
   * PIN_TIMEOUT; entries of the wrong length or a confirmation that differs
   * end with the part 10 status words 64 03 / 64 02 and nothing sent to the card.
   */
  private async secure(
    slotNo: number,
    seq: number,
    s: EmuSlot,
    p: [number, number, number],
    data: Buffer,
    reply: Reply,
    fail: (bError: number, icc?: number) => void,
    dataBlock: (abData: Buffer, chain?: number) => void,
  ): Promise<void> {
    const pad = this.pinpad!;
    this.counters.secure++;
    if (p[1] !== 0 || p[2] !== 0) return fail(SLOT_ERROR.BAD_LEVEL_PARAMETER);
    const parsed = parseSecure(data);
    if (!parsed.ok) return fail(parsed.bError);
    const f = parsed.f;
    const refused = checkSecure(f, this.descriptor.pinSupport);
    if (refused !== undefined) return fail(refused);
    if (!s.card) return fail(SLOT_ERROR.ICC_MUTE, ICC.ABSENT);
    if (!s.powered) return fail(SLOT_ERROR.ICC_MUTE);
    // At TPDU level with T=1 the firmware would build the I-block from bTeoPrologue: not modelled.
    if (this.level === 'tpdu' && s.protocol === 1) return fail(SLOT_ERROR.CMD_NOT_SUPPORTED);
    const seconds = f.timeOut || pad.defaultSeconds;
    const prompts = f.op === 0 ? ['fresh'] : [...(f.confirm & 0x02 ? ['current'] : []), 'fresh', ...(f.confirm & 0x01 ? ['again'] : [])];
    const typed: Record<string, string> = {};
    for (const which of prompts) {
      await this.extendTime(slotNo, seq, s, reply);
      if (!s.runs(seq)) return;
      s.promptAbort = new AbortController();
      const e: PadEntry = await pad.next(seconds, s.promptAbort.signal);
      s.promptAbort = undefined;
      if (!s.runs(seq)) return; // aborted while the user typed
      if (e.kind === 'cancel') return fail(SLOT_ERROR.PIN_CANCELLED);
      if (e.kind === 'timeout') return fail(SLOT_ERROR.PIN_TIMEOUT);
      if (e.digits.length < f.minDigits || e.digits.length > f.maxDigits) return dataBlock(Buffer.from([0x64, 0x03]));
      typed[which] = e.digits;
    }
    if (typed.again !== undefined && typed.again !== typed.fresh) return dataBlock(Buffer.from([0x64, 0x02]));
    const apdu = buildPinApdu(f, { current: typed.current, fresh: typed.fresh });
    if (!apdu) return dataBlock(Buffer.from([0x64, 0x03]));
    let answer: Buffer;
    try {
      answer = await this.exchange(s, apdu);
    } catch {
      return fail(SLOT_ERROR.ICC_MUTE);
    }
    if (!s.runs(seq)) return;
    if (answer.length === 0) return fail(SLOT_ERROR.ICC_MUTE);
    dataBlock(answer);
  }

  private sendPiece(s: EmuSlot, room: number, dataBlock: (abData: Buffer, chain?: number) => void, first: boolean): void {
    const rest = s.chainOut!;
    const piece = rest.subarray(0, room);
    const more = rest.length > room;
    s.chainOut = more ? rest.subarray(room) : undefined;
    dataBlock(Buffer.from(piece), first ? (more ? 0x01 : 0x00) : more ? 0x03 : 0x02);
  }

  private async extendTime(slotNo: number, seq: number, s: EmuSlot, reply: Reply): Promise<void> {
    const te = (): void => reply(encodeMessage(RDR_TO_PC.DataBlock, slotNo, seq, [0x80 | this.iccStatus(s), 1, 0]));
    for (let i = 0; i < this.timeExtensions; i++) te();
    // A storm: one frame per turn of the event loop until Abort clears it.
    while (this.storm && s.runs(seq)) {
      te();
      await new Promise((r) => setImmediate(r));
    }
  }

  /** What the card answers, through the layer this reader's firmware runs at its exchange level. */
  private async exchange(s: EmuSlot, cmd: Buffer): Promise<Buffer> {
    const card = s.card!;
    const first = !s.exchangedSincePowerOn;
    s.exchangedSincePowerOn = true;
    if (s.target) return s.part3.transmit(s.target, cmd);
    if (this.level === 'tpdu') {
      // A PPS request (PPSS = FF) before the first exchange: the card accepts the proposal (echo).
      if (first && cmd[0] === 0xff && cmd.length >= 3 && cmd.length <= 6) {
        this.counters.pps++;
        return Buffer.from(cmd);
      }
      if (s.protocol === 0) return card.process(cmd);
      if (cmd.length >= 4 && cmd[1] === 0xc1) this.ifsRequests.push(cmd[3]);
      if (card.interface === 'tpdu-t1' && card.exchangeBlock) return card.exchangeBlock(cmd);
      if (s.t1card) return s.t1card.handleBlock(cmd);
      return card.process(cmd);
    }
    // APDU levels: the firmware runs the transport protocol.
    if (card.interface === 'tpdu-t0') return transmitT0(cmd, async (tpdu) => card.process(tpdu));
    if (card.interface === 'tpdu-t1' && s.t1) return s.t1.transmit(cmd);
    return card.process(cmd);
  }
}

function replyTypeFor(type: number): number {
  switch (type) {
    case PC_TO_RDR.IccPowerOn:
    case PC_TO_RDR.XfrBlock:
    case PC_TO_RDR.Secure:
      return RDR_TO_PC.DataBlock;
    case PC_TO_RDR.GetParameters:
    case PC_TO_RDR.ResetParameters:
    case PC_TO_RDR.SetParameters:
      return RDR_TO_PC.Parameters;
    case PC_TO_RDR.Escape:
      return RDR_TO_PC.Escape;
    case PC_TO_RDR.SetDataRateAndClockFrequency:
      return RDR_TO_PC.DataRateAndClockFrequency;
    default:
      return RDR_TO_PC.SlotStatus;
  }
}
