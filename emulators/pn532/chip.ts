/**
 * An emulated NXP PN532, frame for frame (docs/pn532.md): LowVbat start
 * (only SAMConfiguration accepted, unless told otherwise), HSU wake-up on the
 * 5th rising edge of any bytes with the oscillator start-up guard (whatever
 * arrives before it is over is lost), power-down woken per WakeUpEnable, ACK
 * before every response, NACK = send the last response again, host ACK =
 * abort, application error frame for bad commands, the P70_IRQ line,
 * target-gone answers only after 3 x FWT x (MaxRtyCOM + 1), SetSerialBaudRate,
 * several damaged bytes per faulty frame (so the 8-bit DCS sometimes passes),
 * and the 106 kbps type A commands a reader driver uses, with cards from
 * drivers/sim/cards placed in its field.
 *
 * Transport-neutral: `hostBytes()` takes what the host wrote; the chip emits
 * 'output' (HSU) or queues frames for `i2cRead` (I2C status byte first).
 */
import { EventEmitter } from 'node:events';
import { ACK_FRAME, ERROR_FRAME, TFI_HOST, TFI_PN532, encodeFrame, parseFrame } from '../../drivers/pn532/frame.js';
import { HSU_BAUD, atsFwi, fwtMs } from '../../drivers/pn532/protocol.js';
import type { FieldCard } from './field.js';
import { rng } from './prng.js';

export type Bus = 'hsu' | 'i2c';

/** One-shot faults, applied to the next command or frame. */
export type Fault =
  /** Flip bits in one to four bytes of the next response frame (what a noisy line does). */
  | { kind: 'corrupt' }
  /** Damage the next response frame so that it still passes LCS/DCS with different data (two compensating bytes). */
  | { kind: 'corrupt-silent' }
  /** Drop one byte of the next response frame. */
  | { kind: 'drop' }
  /** Random bytes before the next frame the chip sends. */
  | { kind: 'garbage'; bytes?: number }
  /** Send the next ACK `ms` late. */
  | { kind: 'late-ack'; ms: number }
  /** The module resets itself after ACKing the next command (no response; back to LowVbat). */
  | { kind: 'reset' }
  /** The next command is lost entirely: no ACK, no response. */
  | { kind: 'silent' }
  /** ACK the next command, then never answer it. */
  | { kind: 'no-response' }
  /** Wedged: ignore everything until a reset (RSTPDN pulse or reset()). */
  | { kind: 'hang' };

export interface ChipCounters {
  framesIn: number;
  framesOut: number;
  badFramesIn: number;
  acksIn: number;
  nacksIn: number;
  commands: number;
  errorFrames: number;
  resets: number;
  faultsInjected: number;
  bytesIgnoredAsleep: number;
  /** Bytes lost in the oscillator start-up guard after a wake-up. */
  bytesLostWaking: number;
  /** Commands ignored in LowVbat (only SAMConfiguration is accepted there). */
  ignoredLowVbat: number;
  /** Damaged frames that still pass every frame check with different content (the host cannot see them). */
  silentCorruptions: number;
  /** SAMConfiguration commands executed. */
  samConfigurations: number;
}

export interface ChipEvents {
  /** Bytes the chip puts on the HSU line. */
  output: [bytes: Buffer];
  /** P70_IRQ level (0 = frame ready). */
  irq: [level: 0 | 1];
  /** Human-readable trace (CLI). */
  trace: [line: string];
  /** SetSerialBaudRate took effect (after the host's ACK): the line runs at `baud` from now on. */
  baud: [baud: number];
}

/** Options of the emulated chip. */
export interface ChipOptions {
  seed?: number;
  /**
   * What the chip accepts in LowVbat (after power-on or a reset): 'sam-only'
   * (default; the strict reading: only SAMConfiguration, everything else is
   * ignored without ACK) or 'any' (commands are answered with power-on
   * defaults, as many modules do; SAMConfiguration is still never implied).
   */
  lowVbat?: 'sam-only' | 'any';
  /** Oscillator start-up time after an HSU wake-up, during which received bytes are lost (worst case 2 ms). */
  wakeGuardMs?: number;
}

const FW = Buffer.from([0x32, 0x01, 0x06, 0x07]);
/** PowerDown WakeUpEnable bits (docs/pn532.md §5). */
const WAKE_HSU = 0x10;
const WAKE_I2C = 0x80;
/** PN532 DataIn per frame (its internal buffer). */
const DATA_IN_MAX = 262;
/** Rising edges on RX that wake a sleeping HSU (docs/pn532.md §3). */
const WAKE_EDGES = 5;

/** Rising edges of one 8N1 character on the line: start bit (0), 8 data bits LSB first, stop bit (1). */
export function risingEdges(byte: number): number {
  let n = 0;
  let prev = 0; // the start bit
  for (let i = 0; i <= 8; i++) {
    const bit = i < 8 ? (byte >> i) & 1 : 1;
    if (bit && !prev) n++;
    prev = bit;
  }
  return n;
}

/** RFConfiguration item 02 timeout coding: 00 none, 01 100 us, doubling per step. */
const timeoutCodeMs = (c: number): number => (c === 0 ? 0 : 0.1 * 2 ** (c - 1));

interface Pending {
  kind: 'list' | 'autopoll';
  code: number;
  params: Buffer;
  timer?: NodeJS.Timeout;
  /** InAutoPoll: when its first polling round ran (rounds repeat every Period x 150 ms). */
  since?: number;
  /** InAutoPoll: the round that will find the card that came in between rounds. */
  round?: NodeJS.Timeout;
}

export class Pn532Chip extends EventEmitter<ChipEvents> {
  readonly counters: ChipCounters = {
    framesIn: 0, framesOut: 0, badFramesIn: 0, acksIn: 0, nacksIn: 0, commands: 0, errorFrames: 0, resets: 0, faultsInjected: 0, bytesIgnoredAsleep: 0,
    bytesLostWaking: 0, ignoredLowVbat: 0, silentCorruptions: 0, samConfigurations: 0,
  };
  /** Probability that a damaged frame is damaged so that its checksums still pass (on top of what random flips produce). */
  silentShare = 0;
  /** Probability that a frame (either direction) carries one byte fault. */
  faultRate = 0;
  private random: () => number;
  private faults: Fault[] = [];

  // --- chip state (reset() restores power-on values)
  private awake = false;
  private lowVbat = true;
  private irqEnabled = false;
  private irqLevel: 0 | 1 = 1;
  private params = 0x14;
  private maxRtyCom = 0;
  private passiveRetries = 0xff;
  /** RFConfiguration item 02 fRetryTimeout code (51.2 ms): the MIFARE / raw exchange timeout. */
  private retryTimeoutCode = 0x0a;
  /** HSU line speed (SetSerialBaudRate switches it after the host's ACK). */
  private baud = 115200;
  private pendingBaud?: number;
  /** HSU wake-up: rising edges counted while asleep, and the end of the start-up guard. */
  private edges = 0;
  private guardUntil = 0;
  /** The virtual wire clock: when the last received byte finished (ms, performance.now() scale). */
  private wireClock = 0;
  private readonly lowVbatMode: 'sam-only' | 'any';
  private readonly wakeGuardMs: number;
  private fieldOn = true;
  /** PowerDown entered; WakeUpEnable says which host interface may wake it (§1.6: b4 HSU, b7 I2C). */
  private poweredDown = false;
  private wakeUpEnable = 0;
  private registers = new Map<number, number>();
  private inBuf: Buffer = Buffer.alloc(0);
  private lastResponse?: Buffer;
  private pending?: Pending;
  private busy?: NodeJS.Timeout;
  private heldInReset = false;
  private hung = false;

  // --- RF side
  private card?: FieldCard;
  /** Logical target 1 when a card is activated. */
  private target?: { card: FieldCard; rxChain: Buffer[]; txRest?: Buffer; block: number };

  // --- I2C side: frames waiting to be read, head first
  private i2cQueue: Buffer[] = [];

  constructor(
    readonly bus: Bus,
    opts: ChipOptions = {},
  ) {
    super();
    this.random = rng(opts.seed ?? 1);
    this.awake = bus === 'i2c';
    this.lowVbatMode = opts.lowVbat ?? 'sam-only';
    this.wakeGuardMs = opts.wakeGuardMs ?? 2;
  }

  /** The HSU speed the chip listens and talks at. */
  get baudRate(): number {
    return this.baud;
  }

  /** What the host configured, as the chip holds it (tests check a re-initialisation against it). */
  get configuration(): { samConfigured: boolean; irq: boolean; maxRtyCom: number; passiveRetries: number; params: number; field: boolean } {
    return { samConfigured: !this.lowVbat, irq: this.irqEnabled, maxRtyCom: this.maxRtyCom, passiveRetries: this.passiveRetries, params: this.params, field: this.fieldOn };
  }

  // ------------------------------------------------------------ field

  /** Put a card in the field (a tap). */
  tap(card: FieldCard): void {
    this.card = card;
    this.emit('trace', `card in field: uid ${card.uid.toString('hex')} sak ${card.sak.toString(16)}`);
    if (this.pending) this.completePending();
  }

  /** Take the card away. */
  remove(): void {
    this.card = undefined;
    this.emit('trace', 'field empty');
  }

  get cardInField(): FieldCard | undefined {
    return this.card;
  }

  // ------------------------------------------------------------ faults

  inject(f: Fault): void {
    this.faults.push(f);
  }

  setSeed(seed: number): void {
    this.random = rng(seed);
  }

  private takeFault<K extends Fault['kind']>(...kinds: K[]): Extract<Fault, { kind: K }> | undefined {
    const i = this.faults.findIndex((f) => (kinds as string[]).includes(f.kind));
    if (i < 0) return undefined;
    this.counters.faultsInjected++;
    return this.faults.splice(i, 1)[0] as Extract<Fault, { kind: K }>;
  }

  // ------------------------------------------------------------ power

  /** Power-on state: LowVbat, no SAM configuration, no targets, defaults (RSTPDN pulse or self-reset). */
  reset(): void {
    this.counters.resets++;
    this.hung = false;
    this.awake = this.bus === 'i2c';
    this.lowVbat = true;
    this.irqEnabled = false;
    this.params = 0x14;
    this.maxRtyCom = 0;
    this.passiveRetries = 0xff;
    this.retryTimeoutCode = 0x0a;
    this.fieldOn = true;
    this.poweredDown = false;
    this.wakeUpEnable = 0;
    this.edges = 0;
    this.pendingBaud = undefined;
    if (this.baud !== 115200) {
      this.baud = 115200;
      this.emit('baud', 115200);
    }
    this.registers.clear();
    this.inBuf = Buffer.alloc(0);
    this.lastResponse = undefined;
    this.cancelPending();
    clearTimeout(this.busy);
    this.target = undefined;
    this.i2cQueue = [];
    this.setIrq(1);
    this.emit('trace', 'reset: LowVbat');
  }

  /** RSTPDN level from the host (active low: held low = in reset). */
  setResetLine(level: 0 | 1): void {
    if (level === 0) {
      this.heldInReset = true;
      this.reset();
    } else if (this.heldInReset) {
      this.heldInReset = false;
    }
  }

  get irq(): 0 | 1 {
    return this.irqLevel;
  }

  /** LowVbat until SAMConfiguration, power-down after PowerDown until a wake-up on an enabled interface. */
  get powerMode(): 'low-vbat' | 'normal' | 'power-down' {
    return this.poweredDown ? 'power-down' : this.lowVbat ? 'low-vbat' : 'normal';
  }

  /** Whether the antenna radiates: RFConfiguration item 01 bit 0, and nothing radiates in power-down. */
  get rfField(): boolean {
    return this.fieldOn && !this.poweredDown;
  }

  /** Interface wake-up (HSU 0x55, I2C addressing): allowed by WakeUpEnable when powered down. */
  private wake(bit: number): boolean {
    if (!this.poweredDown) return true;
    if (!(this.wakeUpEnable & bit)) return false;
    this.poweredDown = false;
    this.emit('trace', 'woken from power-down');
    return true;
  }

  private setIrq(level: 0 | 1): void {
    if (this.irqLevel === level) return;
    this.irqLevel = level;
    this.emit('irq', level);
  }

  /** HSU: the attachment finished putting the chip's bytes on the line. */
  outputDrained(): void {
    if (this.bus === 'hsu') this.setIrq(1);
  }

  // ------------------------------------------------------------ host -> chip

  /** Bytes from the host; `byteMs` is one character time on the line (the attachment's baud rate). */
  hostBytes(data: Buffer, byteMs = 10000 / this.baud / 1000): void {
    if (this.heldInReset || this.hung) return;
    if (this.takeFault('hang')) {
      this.hung = true;
      this.emit('trace', 'fault: wedged until reset');
      return;
    }
    // each byte finished on the wire one character time after the previous one, and no later than now
    const now = performance.now();
    const times = new Array<number>(data.length);
    let clock = Math.max(this.wireClock, now - data.length * byteMs);
    for (let i = 0; i < data.length; i++) times[i] = clock = Math.max(clock + byteMs, now - (data.length - 1 - i) * byteMs);
    if (data.length) this.wireClock = clock;
    let from = 0;
    if (!this.awake && this.bus === 'hsu') {
      // asleep (LowVbat or power-down): any character wakes the HSU on its 5th rising edge (docs/pn532.md §3);
      // in power-down only when WakeUpEnable allows HSU. The frame that woke it is lost.
      if (this.poweredDown && !(this.wakeUpEnable & WAKE_HSU)) {
        this.counters.bytesIgnoredAsleep += data.length;
        return;
      }
      for (; from < data.length && !this.awake; from++) {
        this.edges += risingEdges(data[from]);
        if (this.edges >= WAKE_EDGES) {
          this.edges = 0;
          this.awake = true;
          this.poweredDown = false;
          this.guardUntil = times[from] + this.wakeGuardMs;
          this.inBuf = Buffer.alloc(0);
          this.emit('trace', 'woken by rising edges on RX');
        }
      }
      this.counters.bytesIgnoredAsleep += from;
      if (!this.awake) return;
    }
    // the oscillator is still starting: characters in the guard time are not received
    while (from < data.length && times[from] < this.guardUntil) {
      from++;
      this.counters.bytesLostWaking++;
    }
    data = data.subarray(from);
    if (data.length === 0) return;
    if (this.faultRate > 0 && this.random() < this.faultRate) {
      // bytes damaged on their way to the chip: most such frames fail their checksums and are ignored
      this.counters.faultsInjected++;
      data = this.damage(data, this.silentShare > 0 && this.random() < this.silentShare ? 'silent' : 'corrupt', 0);
    }
    this.inBuf = this.inBuf.length ? Buffer.concat([this.inBuf, data]) : data;
    for (;;) {
      const r = parseFrame(this.inBuf);
      if (r.status === 'partial') {
        this.inBuf = this.inBuf.subarray(r.consumed);
        return;
      }
      this.inBuf = this.inBuf.subarray(r.consumed);
      if (r.status === 'bad') {
        // the datasheet's chip drops frames that fail LCS/DCS without answering
        this.counters.badFramesIn++;
        continue;
      }
      const f = r.frame;
      if (f.kind === 'ack') {
        this.counters.acksIn++;
        if (this.pendingBaud !== undefined) {
          // SetSerialBaudRate: the new speed applies once the host has acknowledged the answer (docs/pn532.md §6)
          this.baud = this.pendingBaud;
          this.pendingBaud = undefined;
          this.emit('trace', `HSU now at ${this.baud} baud`);
          this.emit('baud', this.baud);
          continue;
        }
        if (this.pending || this.busy) {
          this.emit('trace', 'host ACK: command aborted');
          this.cancelPending();
          clearTimeout(this.busy);
          this.busy = undefined;
        }
        continue;
      }
      if (f.kind === 'nack') {
        this.counters.nacksIn++;
        if (this.lastResponse) this.sendFrame(this.lastResponse, false);
        continue;
      }
      if (f.kind === 'error' || f.tfi !== TFI_HOST || f.body.length === 0) {
        this.counters.badFramesIn++;
        continue;
      }
      this.counters.framesIn++;
      this.command(f.body);
    }
  }

  // ------------------------------------------------------------ chip -> host

  private sendFrame(frame: Buffer, canFault = true): void {
    let out = frame;
    if (canFault) {
      const g = this.takeFault('garbage');
      if (g) out = Buffer.concat([Buffer.from(Array.from({ length: g.bytes ?? 5 }, () => Math.floor(this.random() * 256))), out]);
      const c = this.takeFault('corrupt', 'drop', 'corrupt-silent');
      if (c) out = this.damage(out, c.kind === 'corrupt-silent' ? 'silent' : c.kind);
      else if (this.faultRate > 0 && this.random() < this.faultRate) {
        this.counters.faultsInjected++;
        const r = this.random();
        out =
          this.silentShare > 0 && this.random() < this.silentShare
            ? this.damage(out, 'silent')
            : r < 0.45
              ? this.damage(out, 'corrupt')
              : r < 0.9
                ? this.damage(out, 'drop')
                : Buffer.concat([Buffer.from([0x13, 0x00, 0xff, 0x07]), out]);
      }
    }
    this.counters.framesOut++;
    if (this.bus === 'hsu') {
      this.setIrq(this.irqEnabled ? 0 : 1);
      this.emit('output', out);
    } else {
      this.i2cQueue.push(out);
      if (this.irqEnabled) this.setIrq(0);
    }
  }

  /**
   * Damage a frame as a noisy line does: 'corrupt' flips one bit in each of
   * one to four bytes, 'drop' loses a byte, 'silent' changes two bytes by +d
   * and -d so that LCS/DCS still pass. Bytes before `keep` stay intact (3: the
   * host still sees a frame start). Frames that still parse with different
   * content are counted: the host cannot tell them from good ones.
   */
  private damage(frame: Buffer, kind: 'corrupt' | 'drop' | 'silent', keep = 3): Buffer {
    const b = Buffer.from(frame);
    const span = Math.max(1, b.length - keep - 1);
    const at = (): number => keep + Math.floor(this.random() * span);
    let out: Buffer;
    if (kind === 'drop') {
      const i = at();
      out = Buffer.concat([b.subarray(0, i), b.subarray(i + 1)]);
    } else if (kind === 'silent' && b.length >= 10 && b[0] === 0x00 && b[1] === 0x00 && b[2] === 0xff) {
      // two data bytes (after TFI, before DCS) moved in opposite directions: the sum is unchanged
      const lo = b[3] === 0xff && b[4] === 0xff ? 9 : 6;
      const hi = b.length - 2;
      if (hi - lo < 2) return this.damage(frame, 'corrupt', keep);
      const i = lo + Math.floor(this.random() * (hi - lo));
      let j = lo + Math.floor(this.random() * (hi - lo));
      if (j === i) j = i + 1 < hi ? i + 1 : i - 1;
      const d = 1 + Math.floor(this.random() * 255);
      b[i] = (b[i] + d) & 0xff;
      b[j] = (b[j] - d) & 0xff;
      out = b;
    } else if (kind === 'silent') {
      return this.damage(frame, 'corrupt', keep);
    } else {
      const r = this.random();
      const n = r < 0.4 ? 1 : r < 0.7 ? 2 : r < 0.9 ? 3 : 4;
      for (let k = 0; k < n; k++) b[at()] ^= 1 << Math.floor(this.random() * 8);
      out = b;
    }
    const before = parseFrame(frame);
    const after = parseFrame(out);
    if (
      after.status === 'frame' && after.frame.kind === 'info' && before.status === 'frame' && before.frame.kind === 'info' &&
      !(after.frame.tfi === before.frame.tfi && after.frame.body.equals(before.frame.body))
    ) {
      this.counters.silentCorruptions++;
    }
    return out;
  }

  private respond(body: Buffer): void {
    const frame = encodeFrame(TFI_PN532, body);
    this.lastResponse = frame;
    this.sendFrame(frame);
  }

  private errorFrame(why: string): void {
    this.counters.errorFrames++;
    this.emit('trace', `error frame: ${why}`);
    this.lastResponse = ERROR_FRAME;
    this.sendFrame(ERROR_FRAME);
  }

  // ------------------------------------------------------------ I2C face

  /** One I2C read transaction of `length` bytes: status byte (RDY) first, then the frame (§1.4). */
  i2cRead(length: number): Buffer {
    const out = Buffer.alloc(length);
    if (this.heldInReset || this.hung) return out;
    const head = this.i2cQueue[0];
    if (!head) return out; // 0x00: not ready
    out[0] = 0x01;
    // a status-only poll leaves the frame in place; a longer read takes it
    if (length > 1) {
      head.copy(out, 1, 0, Math.min(head.length, length - 1));
      this.i2cQueue.shift();
      if (this.i2cQueue.length === 0) this.setIrq(1);
    }
    return out;
  }

  /** One I2C write transaction. Addressing the chip wakes it (clock stretching, §1.4). */
  i2cWrite(data: Buffer): void {
    if (!this.heldInReset && !this.hung && !this.wake(WAKE_I2C)) {
      this.counters.bytesIgnoredAsleep += data.length;
      return;
    }
    this.awake = true;
    this.hostBytes(data);
  }

  // ------------------------------------------------------------ commands

  private command(body: Buffer): void {
    this.counters.commands++;
    this.pendingBaud = undefined;
    if (this.lowVbat && this.lowVbatMode === 'sam-only' && body[0] !== 0x14) {
      // LowVbat: the first command must be SAMConfiguration; anything else is ignored, not even ACKed
      this.counters.ignoredLowVbat++;
      this.emit('trace', `LowVbat: command 0x${body[0].toString(16)} ignored`);
      return;
    }
    if (this.takeFault('silent')) {
      this.emit('trace', 'fault: command lost');
      return;
    }
    const late = this.takeFault('late-ack');
    const reset = this.takeFault('reset');
    const mute = this.takeFault('no-response');
    const run = (): void => {
      this.lastResponse = undefined;
      this.sendFrame(ACK_FRAME, false);
      if (reset) {
        this.emit('trace', 'fault: module reset mid-exchange');
        this.reset();
        return;
      }
      if (mute) {
        this.emit('trace', 'fault: no response');
        return;
      }
      this.execute(body[0], body.subarray(1));
    };
    this.cancelPending();
    clearTimeout(this.busy);
    if (late) {
      this.busy = setTimeout(() => {
        this.busy = undefined;
        run();
      }, late.ms);
    } else run();
  }

  private execute(code: number, p: Buffer): void {
    const r = (bytes: number[] | Buffer): void => this.respond(Buffer.concat([Buffer.from([code + 1]), Buffer.from(bytes)]));
    this.emit('trace', `cmd ${code.toString(16).padStart(2, '0')} ${p.toString('hex')}`);
    switch (code) {
      case 0x00: // Diagnose
        if (p.length < 1) return this.errorFrame('Diagnose without NumTst');
        if (p[0] === 0x00) return r(p); // communication test: echo NumTst + InParam
        if (p[0] === 0x06) return r([this.presence() ? 0x00 : 0x01]);
        return this.errorFrame(`Diagnose test ${p[0]} not emulated`);
      case 0x02: // GetFirmwareVersion
        return r(FW);
      case 0x04: // GetGeneralStatus
        return r(this.target ? [0x00, this.fieldOn ? 1 : 0, 0x01, 0x01, 0x00, 0x00, 0x00, 0x00] : [0x00, this.fieldOn ? 1 : 0, 0x00, 0x00]);
      case 0x06: {
        // ReadRegister: pairs of AdrH AdrL
        if (p.length === 0 || p.length % 2) return this.errorFrame('ReadRegister needs address pairs');
        const vals: number[] = [];
        for (let i = 0; i < p.length; i += 2) {
          const adr = (p[i] << 8) | p[i + 1];
          // CIU_TxControl (6302): Tx1RFEn/Tx2RFEn follow the RF field (docs/pn532.md §7)
          vals.push(adr === 0x6302 ? 0x80 | (this.rfField ? 0x03 : 0x00) : (this.registers.get(adr) ?? 0));
        }
        return r(vals);
      }
      case 0x08: // WriteRegister: AdrH AdrL Val triples
        if (p.length === 0 || p.length % 3) return this.errorFrame('WriteRegister needs address/value triples');
        for (let i = 0; i < p.length; i += 3) this.registers.set((p[i] << 8) | p[i + 1], p[i + 2]);
        return r([]);
      case 0x10: // SetSerialBaudRate: answered at the old speed, switched after the host's ACK
        if (p.length !== 1 || p[0] >= HSU_BAUD.length) return this.errorFrame('SetSerialBaudRate code');
        if (this.bus !== 'hsu') return this.errorFrame('SetSerialBaudRate on I2C');
        r([]);
        this.pendingBaud = HSU_BAUD[p[0]];
        return;
      case 0x12: // SetParameters
        if (p.length !== 1) return this.errorFrame('SetParameters takes one byte');
        this.params = p[0];
        return r([]);
      case 0x14: // SAMConfiguration
        if (p.length < 1 || p.length > 3 || p[0] < 1 || p[0] > 4) return this.errorFrame('SAMConfiguration mode');
        this.lowVbat = false;
        this.counters.samConfigurations++;
        this.irqEnabled = p.length < 3 ? true : p[2] === 0x01; // omitted IRQ byte taken as 'on' (the UM's default as far as known; uncertain)
        return r([]);
      case 0x16: // PowerDown
        // `16 WakeUpEnable [GenerateIRQ]`, answered `17 00` before the chip sleeps (§1.6)
        if (p.length < 1 || p.length > 2) return this.errorFrame('PowerDown takes WakeUpEnable [GenerateIRQ]');
        r([0x00]);
        // asleep once the answer is out (an I2C host still reads it); HSU then needs the 0x55 wake-up again
        if (this.bus === 'hsu') this.awake = false;
        this.poweredDown = true;
        this.wakeUpEnable = p[0];
        this.target = undefined;
        this.emit('trace', `power-down, wake-up enable 0x${p[0].toString(16).padStart(2, '0')}`);
        return;
      case 0x32: // RFConfiguration
        return this.rfConfiguration(p, r);
      case 0x4a: // InListPassiveTarget
        if (p.length < 2 || p[0] < 1 || p[0] > 2) return this.errorFrame('InListPassiveTarget MaxTg');
        if (p[1] !== 0x00) {
          // only type A cards are emulated: other modulations find nothing
          return this.passiveRetries === 0xff ? this.hold({ kind: 'list', code, params: p }) : r([0x00]);
        }
        return this.listPassive(code, p);
      case 0x40:
        return this.inDataExchange(p, r);
      case 0x42:
        return this.inCommunicateThru(p, r);
      case 0x44: // InDeselect
      case 0x52: // InRelease
      case 0x54: // InSelect
        if (p.length !== 1) return this.errorFrame('Tg expected');
        if (code === 0x52 && (p[0] === 0 || p[0] === 1)) this.target = undefined;
        if (code === 0x54) return r([this.target && p[0] === 1 ? 0x00 : 0x27]);
        return r([0x00]);
      case 0x60: // InAutoPoll
        if (p.length < 3 || p.length > 17 || p[1] < 1 || p[1] > 0x0f || p[0] === 0) return this.errorFrame('InAutoPoll parameters');
        return this.autoPoll(code, p);
      default:
        return this.errorFrame(`command 0x${code.toString(16)} not emulated`);
    }
  }

  private rfConfiguration(p: Buffer, r: (b: number[]) => void): void {
    const sizes: Record<number, number> = { 0x01: 1, 0x02: 3, 0x04: 1, 0x05: 3, 0x0a: 11, 0x0b: 8, 0x0c: 3, 0x0d: 9 };
    if (p.length < 1 || sizes[p[0]] === undefined || p.length !== 1 + sizes[p[0]]) return this.errorFrame('RFConfiguration item/length');
    if (p[0] === 0x01) this.fieldOn = (p[1] & 1) === 1;
    if (p[0] === 0x02) this.retryTimeoutCode = p[3];
    if (p[0] === 0x04) this.maxRtyCom = p[1];
    if (p[0] === 0x05) this.passiveRetries = p[3];
    r([]);
  }

  private presence(): boolean {
    return !!this.target && this.card === this.target.card && this.fieldOn;
  }

  /** TargetData for type A: Tg ATQA SAK len UID [ATS with TL]. */
  private targetData(card: FieldCard, withAts: boolean): Buffer {
    const parts = [Buffer.from([0x01]), card.atqa, Buffer.from([card.sak, card.uid.length]), card.uid];
    if (withAts && card.ats) parts.push(Buffer.from([card.ats.length + 1]), card.ats);
    return Buffer.concat(parts);
  }

  private activate(card: FieldCard): void {
    card.activate();
    this.target = { card, rxChain: [], block: 0 };
  }

  private uidMatches(card: FieldCard, init: Buffer): boolean {
    if (init.length === 0) return true;
    const plain = card.uid.length === 4 ? init : init.length === 8 ? init.subarray(1) : Buffer.concat([init.subarray(1, 4), init.subarray(5)]);
    return plain.equals(card.uid);
  }

  private listPassive(code: number, p: Buffer): void {
    const card = this.card;
    this.target = undefined;
    if (card && this.fieldOn && this.uidMatches(card, p.subarray(2))) {
      const ats = (card.sak & 0x20) !== 0 && (this.params & 0x10) !== 0;
      this.activate(card);
      return this.respond(Buffer.concat([Buffer.from([code + 1, 0x01]), this.targetData(card, ats)]));
    }
    if (this.passiveRetries === 0xff) return this.hold({ kind: 'list', code, params: p });
    this.respond(Buffer.from([code + 1, 0x00]));
  }

  private autoPoll(code: number, p: Buffer, since = performance.now()): void {
    const card = this.card;
    const types = [...p.subarray(2)];
    if (card && this.fieldOn) {
      for (const t of types) {
        const ok = t === 0x00 || (t === 0x10 && (card.sak & 0x08) !== 0) || (t === 0x20 && (card.sak & 0x20) !== 0);
        if (!ok) continue;
        this.activate(card);
        const td = this.targetData(card, t === 0x20 || (t === 0x00 && (card.sak & 0x20) !== 0 && (this.params & 0x10) !== 0));
        return this.respond(Buffer.concat([Buffer.from([code + 1, 0x01, t, td.length]), td]));
      }
    }
    const pending: Pending = { kind: 'autopoll', code, params: p, since };
    if (p[0] !== 0xff) {
      // PollNr rounds of Period x 150 ms, then "nothing found"
      pending.timer = setTimeout(() => {
        this.pending = undefined;
        this.respond(Buffer.from([code + 1, 0x00]));
      }, Math.max(0, since + p[0] * p[1] * 150 - performance.now()));
    }
    this.hold(pending);
  }

  private hold(p: Pending): void {
    this.pending = p;
  }

  private cancelPending(): void {
    if (this.pending?.timer) clearTimeout(this.pending.timer);
    if (this.pending?.round) clearTimeout(this.pending.round);
    this.pending = undefined;
  }

  private completePending(): void {
    const p = this.pending;
    if (!p || !this.card) return;
    if (p.kind === 'list') {
      if (p.params[1] !== 0x00 || !this.uidMatches(this.card, p.params.subarray(2))) return;
      this.cancelPending();
      this.listPassive(p.code, p.params);
    } else {
      // InAutoPoll polls in rounds Period x 150 ms apart: a card that comes between rounds is found by the next one
      if (p.round) return;
      const period = p.params[1] * 150;
      const wait = period - ((performance.now() - (p.since ?? 0)) % period);
      p.round = setTimeout(() => {
        p.round = undefined;
        if (this.pending !== p || !this.card) return;
        this.cancelPending();
        this.autoPoll(p.code, p.params, p.since);
      }, wait);
    }
  }

  private inDataExchange(p: Buffer, r: (b: number[] | Buffer) => void): void {
    if (p.length < 1) return this.errorFrame('InDataExchange without Tg');
    const tg = p[0] & 0x3f;
    const more = (p[0] & 0x40) !== 0;
    const data = p.subarray(1);
    const t = this.target;
    if (!t || tg !== 1) return r([0x27]);
    if (!this.presence()) return this.goneLater(t.card, r);
    if (t.card.iso14443_4) {
      // continuation request for a chained answer: `40 Tg` with no data
      if (data.length === 0 && !more && t.txRest) return this.sendChunk(t, r);
      t.txRest = undefined;
      t.rxChain.push(Buffer.from(data));
      if (more) return r([0x00]);
      const apdu = Buffer.concat(t.rxChain);
      t.rxChain = [];
      t.block ^= 1;
      t.txRest = t.card.apdu(apdu);
      return this.sendChunk(t, r);
    }
    if (more) return r([0x10]); // chaining exists only for ISO 14443-4
    const res = t.card.native(data);
    r(Buffer.concat([Buffer.from([res.status]), res.data ?? Buffer.alloc(0)]));
  }

  /**
   * The card does not answer: the chip says so (status 01) only after it has
   * waited out every try: 3 x FWT x (MaxRtyCOM + 1) for an ISO 14443-4 card
   * (the frame plus two retransmissions per try), fRetryTimeout x (MaxRtyCOM + 1)
   * for a MIFARE card; MaxRtyCOM FF waits for ever (docs/pn532.md §8).
   * A host ACK or a new command aborts the wait.
   */
  private goneLater(card: FieldCard | undefined, r: (b: number[]) => void): void {
    if (this.maxRtyCom === 0xff) return;
    const perTry = card?.iso14443_4 ? 3 * fwtMs(atsFwi(card.ats)) : timeoutCodeMs(this.retryTimeoutCode);
    const ms = perTry * (this.maxRtyCom + 1);
    this.busy = setTimeout(() => {
      this.busy = undefined;
      r([0x01]);
    }, ms);
  }

  private sendChunk(t: NonNullable<Pn532Chip['target']>, r: (b: Buffer) => void): void {
    const rest = t.txRest ?? Buffer.alloc(0);
    const chunk = rest.subarray(0, DATA_IN_MAX);
    const left = rest.subarray(chunk.length);
    t.txRest = left.length ? left : undefined;
    r(Buffer.concat([Buffer.from([left.length ? 0x40 : 0x00]), chunk]));
  }

  private inCommunicateThru(p: Buffer, r: (b: number[] | Buffer) => void): void {
    if (p.length < 1) return this.errorFrame('InCommunicateThru without data');
    const t = this.target;
    // raw bytes go on the air whether or not a target is active; nobody answers a card that is not there
    if (!t || !this.presence()) return this.goneLater(t?.card, r);
    if (t.card.iso14443_4) {
      // raw R(NAK) (libnfc's presence ping): the card answers R(ACK) with its current block number
      if ((p[0] & 0xf6) === 0xb2 && p.length === 1) return r([0x00, 0xa2 | t.block]);
      return r([0x01]);
    }
    const res = t.card.native(p);
    r(Buffer.concat([Buffer.from([res.status]), res.data ?? Buffer.alloc(0)]));
  }
}
