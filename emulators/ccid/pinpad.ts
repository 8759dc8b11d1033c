/**
 * The PIN pad of an emulated reader (docs/ccid.md §4.7, §5): a keypad a test
 * "types" on, and the firmware side of PC_to_RDR_Secure: the PIN data
 * structure read as strictly as a reader reads it (a bad field is refused
 * with its message offset as bError), the entered PIN formatted into the APDU
 * template per bmFormatString / bmPINBlockString / bmPINLengthFormat.
 */
import { EventEmitter } from 'node:events';
import { HEADER_LENGTH } from '../../drivers/ccid/messages.js';

/** The keys a pad has: 0-9, at most 16 of them before OK. */
const KEYS = /^[0-9]{1,16}$/;

export type PadEntry = { kind: 'digits'; digits: string } | { kind: 'cancel' } | { kind: 'timeout' };

/** The keypad: entries queued by a test, taken one per PIN prompt. */
export class PinPad extends EventEmitter<{ prompt: [] }> {
  private readonly queue: PadEntry[] = [];
  private wake?: () => void;
  readonly counters = { prompts: 0, entries: 0 };

  /** `defaultSeconds`: the wait when the command says bTimeOut 0. */
  constructor(readonly defaultSeconds = 30) {
    super();
  }

  /** The user types these digits and presses OK. */
  enter(digits: string): void {
    if (!KEYS.test(digits)) throw new Error(`a PIN pad has keys 0-9 only; ${JSON.stringify(digits)} cannot be typed`);
    this.push({ kind: 'digits', digits });
  }

  /** The user presses Cancel. */
  cancel(): void {
    this.push({ kind: 'cancel' });
  }

  /** The user walks away: the reader waits out its whole timeout. */
  noEntry(): void {
    this.push({ kind: 'timeout' });
  }

  get pending(): number {
    return this.queue.length;
  }

  /** The reader shows a PIN prompt and waits for keys. */
  get prompting(): boolean {
    return this.wake !== undefined;
  }

  /**
   * Keys pressed from outside the test (the gateway's simulate/pinpad, docs/ccid.md §5): taken by
   * the prompt showing now, or by the next one within `waitMs`. False when no
   * prompt came: nothing is kept, as a pad ignores keys while it asks for none
   * (a PIN typed ahead would otherwise go to whichever program prompts next).
   */
  press(entry: { pin: string } | { cancel: true }, waitMs: number): Promise<boolean> {
    const e: PadEntry = 'pin' in entry ? { kind: 'digits', digits: entry.pin } : { kind: 'cancel' };
    if (e.kind === 'digits' && !KEYS.test(e.digits)) return Promise.reject(new Error('a PIN pad has keys 0-9 only (1 to 16 of them)'));
    if (this.prompting) {
      this.push(e);
      return Promise.resolve(true);
    }
    return new Promise((resolve) => {
      const timer = setTimeout(() => {
        this.off('prompt', onPrompt);
        resolve(false);
      }, waitMs);
      // 'prompt' comes before the prompt looks at the queue: an entry pushed now is the one it takes.
      const onPrompt = (): void => {
        if (this.queue.length > 0) return; // this prompt has its entry (another press, a test's): wait for the next
        clearTimeout(timer);
        this.off('prompt', onPrompt);
        this.queue.push(e);
        resolve(true);
      };
      this.on('prompt', onPrompt);
    });
  }

  private push(e: PadEntry): void {
    this.queue.push(e);
    this.wake?.();
  }

  /**
   * The next entry within `seconds`; none in time, or a no-entry, is a timeout
   * after the full wait. `signal`: the command was aborted, the prompt ends at once.
   */
  async next(seconds: number, signal?: AbortSignal): Promise<PadEntry> {
    this.counters.prompts++;
    this.emit('prompt');
    const ms = seconds * 1000;
    const first = this.queue[0];
    if (first && first.kind !== 'timeout') {
      this.counters.entries++;
      return this.queue.shift()!;
    }
    return new Promise((resolve) => {
      const done = (e: PadEntry): void => {
        clearTimeout(timer);
        signal?.removeEventListener('abort', aborted);
        this.wake = undefined;
        resolve(e);
      };
      const aborted = (): void => done({ kind: 'timeout' });
      signal?.addEventListener('abort', aborted, { once: true });
      const timer = setTimeout(() => {
        if (this.queue[0]?.kind === 'timeout') this.queue.shift();
        done({ kind: 'timeout' });
      }, ms);
      this.wake = () => {
        const e = this.queue[0];
        if (e && e.kind !== 'timeout') {
          this.queue.shift();
          this.counters.entries++;
          done(e);
        }
      };
    });
  }
}

export interface SecureFields {
  op: number;
  timeOut: number;
  fmt: number;
  blk: number;
  lenFmt: number;
  /** Modify only (0 for verify). */
  offsetOld: number;
  offsetNew: number;
  confirm: number;
  /** wPINMaxExtraDigit: XXYY, XX minimum and YY maximum digits. */
  minDigits: number;
  maxDigits: number;
  entryValidation: number;
  numberMessage: number;
  langId: number;
  msgIndex: number[];
  teoPrologue: Buffer;
  apdu: Buffer;
  /** Message offsets of the fields, for bError. */
  at: Record<'op' | 'fmt' | 'blk' | 'lenFmt' | 'offsetOld' | 'offsetNew' | 'maxExtra' | 'confirm' | 'entryValidation' | 'numberMessage' | 'apdu', number>;
}

export type SecureParse = { ok: true; f: SecureFields } | { ok: false; bError: number };

const LENGTH_FIELD = 1;

/** PC_to_RDR_Secure abData, by layout: bPINOperation, then the verify or modify structure (CCID §6.1.11). */
export function parseSecure(d: Buffer): SecureParse {
  const at = (i: number): number => HEADER_LENGTH + i;
  if (d.length < 1) return { ok: false, bError: LENGTH_FIELD };
  const op = d[0];
  if (op === 0x00) {
    if (d.length < 15) return { ok: false, bError: LENGTH_FIELD };
    const apdu = d.subarray(15);
    const f: SecureFields = {
      op,
      timeOut: d[1],
      fmt: d[2],
      blk: d[3],
      lenFmt: d[4],
      offsetOld: 0,
      offsetNew: 0,
      confirm: 0,
      maxDigits: d[5],
      minDigits: d[6],
      entryValidation: d[7],
      numberMessage: d[8],
      langId: d.readUInt16LE(9),
      msgIndex: [d[11]],
      teoPrologue: Buffer.from(d.subarray(12, 15)),
      apdu: Buffer.from(apdu),
      at: { op: at(0), fmt: at(2), blk: at(3), lenFmt: at(4), offsetOld: at(0), offsetNew: at(0), maxExtra: at(5), confirm: at(0), entryValidation: at(7), numberMessage: at(8), apdu: at(15) },
    };
    return apduShape(f);
  }
  if (op === 0x01) {
    if (d.length < 15) return { ok: false, bError: LENGTH_FIELD };
    const n = d[11];
    if (n > 3 && n !== 0xff) return { ok: false, bError: at(11) };
    let i = 15;
    const msgIndex = [d[14]];
    if (n !== 0) msgIndex.push(d[i++]);
    if (n === 3 || n === 0xff) msgIndex.push(d[i++]);
    if (d.length < i + 3) return { ok: false, bError: LENGTH_FIELD };
    const f: SecureFields = {
      op,
      timeOut: d[1],
      fmt: d[2],
      blk: d[3],
      lenFmt: d[4],
      offsetOld: d[5],
      offsetNew: d[6],
      maxDigits: d[7],
      minDigits: d[8],
      confirm: d[9],
      entryValidation: d[10],
      numberMessage: n,
      langId: d.readUInt16LE(12),
      msgIndex,
      teoPrologue: Buffer.from(d.subarray(i, i + 3)),
      apdu: Buffer.from(d.subarray(i + 3)),
      at: { op: at(0), fmt: at(2), blk: at(3), lenFmt: at(4), offsetOld: at(5), offsetNew: at(6), maxExtra: at(7), confirm: at(9), entryValidation: at(10), numberMessage: at(11), apdu: at(i + 3) },
    };
    return apduShape(f);
  }
  // 02..06 (transfer PIN, wait ICC response, cancel, re-send, send next APDU) are not modelled.
  return { ok: false, bError: at(0) };
}

function apduShape(f: SecureFields): SecureParse {
  if (f.apdu.length < 5) return { ok: false, bError: f.at.apdu };
  if (f.apdu[4] !== f.apdu.length - 5) return { ok: false, bError: f.at.apdu + 4 };
  return { ok: true, f };
}

/** Decoded format bytes. Positions in bits. */
export interface PinFormat {
  coding: 'binary' | 'bcd' | 'ascii';
  right: boolean;
  framePos: number;
  lengthBits: number;
  blockBytes: number;
  lengthPos: number;
}

export function pinFormat(fmt: number, blk: number, lenFmt: number): PinFormat | undefined {
  const coding = (['binary', 'bcd', 'ascii'] as const)[fmt & 0x03];
  if (!coding) return undefined;
  return {
    coding,
    right: (fmt & 0x04) !== 0,
    framePos: ((fmt >> 3) & 0x0f) * (fmt & 0x80 ? 8 : 1),
    lengthBits: blk >> 4,
    blockBytes: blk & 0x0f,
    lengthPos: (lenFmt & 0x0f) * (lenFmt & 0x10 ? 8 : 1),
  };
}

const digitBits = (p: PinFormat): number => (p.coding === 'bcd' ? 4 : 8);

/**
 * What a reader refuses before prompting: the offending field's message offset
 * (its bError), or undefined when the structure can be carried out.
 * `pinSupport`: the descriptor's bPINSupport.
 */
export function checkSecure(f: SecureFields, pinSupport: number): number | undefined {
  if (!(pinSupport & (f.op === 0 ? 0x01 : 0x02))) return f.at.op;
  const p = pinFormat(f.fmt, f.blk, f.lenFmt);
  if (!p) return f.at.fmt;
  if (f.lenFmt & 0xe0) return f.at.lenFmt;
  if (f.maxDigits === 0 || f.minDigits > f.maxDigits || f.maxDigits > 16) return f.at.maxExtra;
  if (f.entryValidation === 0 || f.entryValidation & 0xf8) return f.at.entryValidation;
  if (f.op === 0 && f.numberMessage > 1 && f.numberMessage !== 0xff) return f.at.numberMessage;
  if (f.confirm & 0xfc) return f.at.confirm;
  if (p.lengthBits > 0 && f.maxDigits >= 2 ** p.lengthBits) return f.at.blk;
  const dataLength = f.apdu.length - 5;
  const blocks: Array<[number, number]> = f.op === 0 ? [[0, f.at.op]] : [[f.offsetNew, f.at.offsetNew]];
  if (f.op === 1 && f.confirm & 0x02) blocks.push([f.offsetOld, f.at.offsetOld]);
  for (const [base, offsetField] of blocks) {
    if (base > dataLength) return offsetField;
    if (p.blockBytes === 0) continue;
    if (base + p.blockBytes > dataLength) return f.at.blk;
    const blockBits = p.blockBytes * 8;
    if (p.framePos >= blockBits) return f.at.fmt;
    if (Math.floor((blockBits - p.framePos) / digitBits(p)) < f.maxDigits) return f.at.maxExtra;
    if (p.lengthBits > 0 && p.lengthPos + p.lengthBits > blockBits) return f.at.lenFmt;
  }
  return undefined;
}

function writeBits(buf: Buffer, bit: number, width: number, value: number): void {
  for (let i = 0; i < width; i++) {
    const b = bit + i;
    const mask = 0x80 >> (b & 7);
    if ((value >> (width - 1 - i)) & 1) buf[b >> 3] |= mask;
    else buf[b >> 3] &= ~mask;
  }
}

/**
 * The APDU's data field with a PIN placed in the block at byte `base`: digits
 * coded binary (one byte each), BCD (a nibble each) or ASCII, left- or
 * right-justified in the block's frame, the template's bytes left as fillers
 * around them; the digit count in the length field when it has bits. A block
 * size of 0 means the block is as long as the PIN: the data field grows to
 * take it (new bytes FF until written).
 */
export function insertPin(data: Buffer, base: number, p: PinFormat, digits: string): Buffer {
  const w = digitBits(p);
  const pinBits = digits.length * w;
  const blockStart = base * 8;
  let start: number;
  let needBits: number;
  if (p.blockBytes > 0) {
    const blockEnd = blockStart + p.blockBytes * 8;
    start = p.right ? blockEnd - pinBits : blockStart + p.framePos;
    needBits = blockEnd;
  } else {
    start = blockStart + p.framePos;
    needBits = start + pinBits;
  }
  if (p.lengthBits > 0) needBits = Math.max(needBits, blockStart + p.lengthPos + p.lengthBits);
  const out = Buffer.alloc(Math.max(data.length, Math.ceil(needBits / 8)), 0xff);
  data.copy(out);
  for (let i = 0; i < digits.length; i++) {
    const d = digits.charCodeAt(i) - 0x30;
    writeBits(out, start + i * w, w, p.coding === 'ascii' ? 0x30 + d : d);
  }
  if (p.lengthBits > 0) writeBits(out, blockStart + p.lengthPos, p.lengthBits, digits.length);
  return out;
}

/** The command APDU for the card: the template's header, the data with the PIN(s) placed, Lc recomputed. */
export function buildPinApdu(f: SecureFields, pins: { current?: string; fresh: string }): Buffer | undefined {
  const p = pinFormat(f.fmt, f.blk, f.lenFmt)!;
  let data: Buffer = Buffer.from(f.apdu.subarray(5));
  if (f.op === 0) data = insertPin(data, 0, p, pins.fresh);
  else {
    if (pins.current !== undefined) data = insertPin(data, f.offsetOld, p, pins.current);
    data = insertPin(data, f.offsetNew, p, pins.fresh);
  }
  if (data.length > 255) return undefined;
  return Buffer.concat([f.apdu.subarray(0, 4), Buffer.from([data.length]), data]);
}
