/**
 * T=1 block protocol, card side: lets an emulated card (sim driver, tests) speak
 * ISO/IEC 7816-3 T=1 around an APDU handler. Faults can be injected to exercise a
 * reader's error recovery: corrupt EDC, dropped block, bad LEN/PCB/NAD on the
 * card's next blocks, S(WTX req) or S(IFS req) before the next response, and
 * S(ABORT req) on the next chained command block. Long responses are chained
 * automatically (INF ≤ IFSD, or ≤ `maxInf` to force chaining).
 */
import {
  type EdcType,
  type T1Block,
  encodeBlock,
  parseBlock,
  swapNad,
  lrc,
  crc16,
  S_ABORT,
  S_IFS,
  S_RESYNCH,
  S_WTX,
  R_EDC_ERROR,
  R_OK,
  R_OTHER_ERROR,
} from './t1-block.js';

export type T1ApduHandler = (apdu: Buffer) => Buffer | Promise<Buffer>;

/** Faults applied to the card's next outgoing block(s). */
export type T1CardFault = 'corrupt-edc' | 'drop' | 'bad-len' | 'bad-pcb' | 'bad-nad';

export interface T1CardOptions {
  /** The card's own receive size (what its ATR announces), default 32. */
  ifsc?: number;
  /** Reader's receive size until it sends S(IFS req), default 32. */
  ifsd?: number;
  edc?: EdcType;
  /** Cap on response INF sizes, below IFSD, to force chaining. */
  maxInf?: number;
}

export interface T1CardStats {
  blocksReceived: number;
  invalidReceived: number;
  blocksSent: number;
  retransmissions: number;
  resyncs: number;
  apdus: number;
  /** Largest INF received in one I-block (to check the reader honours IFSC). */
  largestInfReceived: number;
  /** APDU handler exceptions, answered with 6F00. */
  handlerErrors: number;
}

type IBlock = Extract<T1Block, { type: 'I' }>;

export class T1Card {
  ifsc: number;
  ifsd: number;
  readonly edc: EdcType;
  maxInf: number | undefined;
  readonly stats: T1CardStats = { blocksReceived: 0, invalidReceived: 0, blocksSent: 0, retransmissions: 0, resyncs: 0, apdus: 0, largestInfReceived: 0, handlerErrors: 0 };
  /** The last exception thrown by the APDU handler. */
  lastHandlerError: unknown;
  /** WTX multipliers the reader passed with each exchange (for tests). */
  readonly wtxSeen: number[] = [];
  private expectedNs = 0;
  private myNs = 0;
  private rxChain: Buffer[] = [];
  private response: Buffer[] = [];
  private responseIndex = 0;
  /** The I-block the card is currently delivering (sent, or ready but held behind an S request). */
  private current: IBlock | undefined;
  private lastSent: T1Block | undefined;
  private nad = 0;
  private faults: Array<T1CardFault | undefined> = [];
  private wtxQueue: number[] = [];
  private ifsQueue: number[] = [];
  private abortArmed = false;
  private awaiting: number | undefined;

  private readonly initialIfsc: number;
  private readonly initialIfsd: number;

  constructor(private readonly handler: T1ApduHandler, opts: T1CardOptions = {}) {
    this.ifsc = this.initialIfsc = opts.ifsc ?? 32;
    this.ifsd = this.initialIfsd = opts.ifsd ?? 32;
    this.edc = opts.edc ?? 'lrc';
    this.maxInf = opts.maxInf;
  }

  /** Apply `fault` to `count` blocks the card sends, after letting `skip` more blocks through intact. */
  inject(fault: T1CardFault, count = 1, skip = 0): void {
    while (this.faults.length < skip) this.faults.push(undefined);
    for (let i = 0; i < count; i++) this.faults.push(fault);
  }

  /** Drop every queued fault and request. */
  clearFaults(): void {
    this.faults = [];
    this.wtxQueue = [];
    this.ifsQueue = [];
    this.abortArmed = false;
  }

  /** Send S(WTX req, multiplier) before the next response (`times` requests in a row). */
  requestWtx(multiplier: number, times = 1): void {
    for (let i = 0; i < times; i++) this.wtxQueue.push(multiplier & 0xff);
  }

  /** Send S(IFS req, size) before the next response: the card changes its IFSC. */
  requestIfs(size: number): void {
    this.ifsQueue.push(size & 0xff);
  }

  /** Answer the next chained command block with S(ABORT req). */
  abortNextChain(): void {
    this.abortArmed = true;
  }

  /** Reset as after an ATR (and on S(RESYNCH): sequence numbers and sizes back to their initial values). */
  reset(): void {
    this.ifsc = this.initialIfsc;
    this.ifsd = this.initialIfsd;
    this.expectedNs = 0;
    this.myNs = 0;
    this.clearExchange();
    this.lastSent = undefined;
  }

  /** One block in, one block out; an empty buffer means the card stays silent (dropped block). */
  async handleBlock(raw: Buffer, wtxMultiplier = 1): Promise<Buffer> {
    this.wtxSeen.push(wtxMultiplier);
    const p = parseBlock(raw, this.edc);
    if (!p.ok) {
      this.stats.invalidReceived++;
      if (this.lastSent && (this.lastSent.type === 'R' || (this.lastSent.type === 'S' && !this.lastSent.response))) return this.resend();
      return this.emit({ type: 'R', nad: 0, nr: this.expectedNs, error: p.edc ? R_EDC_ERROR : R_OTHER_ERROR });
    }
    this.stats.blocksReceived++;
    const b = p.block;
    this.nad = swapNad(b.nad);
    if (b.type === 'I') return this.onI(b);
    if (b.type === 'R') return this.onR(b);
    return this.onS(b);
  }

  private async onI(b: IBlock): Promise<Buffer> {
    this.stats.largestInfReceived = Math.max(this.stats.largestInfReceived, b.inf.length);
    if (this.awaiting !== undefined || b.inf.length > this.ifsc || b.ns !== this.expectedNs) {
      return this.emit({ type: 'R', nad: 0, nr: this.expectedNs, error: R_OTHER_ERROR });
    }
    this.expectedNs ^= 1;
    if (this.current) {
      // A new command acknowledges our last response block.
      this.myNs ^= 1;
      this.current = undefined;
    }
    this.rxChain.push(b.inf);
    if (b.more) {
      if (this.abortArmed) {
        this.abortArmed = false;
        this.rxChain = [];
        return this.sRequest(S_ABORT, Buffer.alloc(0));
      }
      return this.emit({ type: 'R', nad: 0, nr: this.expectedNs, error: R_OK });
    }
    const apdu = Buffer.concat(this.rxChain);
    this.rxChain = [];
    this.stats.apdus++;
    let resp: Buffer;
    try {
      resp = Buffer.from(await this.handler(apdu));
    } catch (e) {
      // A real card answers an internal failure with 6F00 rather than going mute.
      this.stats.handlerErrors++;
      this.lastHandlerError = e;
      resp = Buffer.from([0x6f, 0x00]);
    }
    const size = Math.max(1, Math.min(this.ifsd, this.maxInf ?? 254));
    this.response = [];
    for (let off = 0; off < resp.length || off === 0; off += size) this.response.push(resp.subarray(off, off + size));
    this.responseIndex = 0;
    this.current = this.blockAt(0);
    return this.nextOrInterrupt();
  }

  private blockAt(i: number): IBlock {
    return { type: 'I', nad: 0, ns: this.myNs, more: i < this.response.length - 1, inf: this.response[i] };
  }

  /** Send queued S requests before the current I-block, else the I-block. */
  private nextOrInterrupt(): Buffer {
    const w = this.wtxQueue.shift();
    if (w !== undefined) return this.sRequest(S_WTX, Buffer.from([w]));
    const f = this.ifsQueue.shift();
    if (f !== undefined) return this.sRequest(S_IFS, Buffer.from([f]));
    return this.emit(this.current as IBlock);
  }

  private sRequest(sType: number, inf: Buffer): Buffer {
    this.awaiting = sType;
    return this.emit({ type: 'S', nad: 0, response: false, sType, inf });
  }

  private onR(b: Extract<T1Block, { type: 'R' }>): Buffer {
    const last = this.lastSent;
    // Our S request went unanswered: repeat it (ISO 7816-3 rule 7.3).
    if (last && last.type === 'S' && !last.response) return this.resend();
    const cur = this.current;
    if (cur && this.awaiting === undefined) {
      if (b.nr === cur.ns) {
        if (last === cur) this.stats.retransmissions++;
        return this.emit(cur);
      }
      if (cur.more) {
        this.myNs ^= 1;
        this.responseIndex++;
        this.current = this.blockAt(this.responseIndex);
        return this.emit(this.current);
      }
    }
    return this.emit({ type: 'R', nad: 0, nr: this.expectedNs, error: R_OK });
  }

  private onS(b: Extract<T1Block, { type: 'S' }>): Buffer {
    if (!b.response) {
      switch (b.sType) {
        case S_RESYNCH:
          this.stats.resyncs++;
          this.reset();
          return this.emit({ type: 'S', nad: 0, response: true, sType: S_RESYNCH, inf: Buffer.alloc(0) });
        case S_IFS:
          if (b.inf[0] === 0 || b.inf[0] === 0xff) break;
          this.ifsd = b.inf[0];
          return this.emit({ type: 'S', nad: 0, response: true, sType: S_IFS, inf: Buffer.from([b.inf[0]]) });
        case S_ABORT:
          this.clearExchange();
          return this.emit({ type: 'S', nad: 0, response: true, sType: S_ABORT, inf: Buffer.alloc(0) });
      }
      return this.emit({ type: 'R', nad: 0, nr: this.expectedNs, error: R_OTHER_ERROR });
    }
    if (this.awaiting === undefined || b.sType !== this.awaiting) {
      return this.emit({ type: 'R', nad: 0, nr: this.expectedNs, error: R_OTHER_ERROR });
    }
    const was = this.awaiting;
    this.awaiting = undefined;
    if (was === S_IFS) this.ifsc = b.inf[0];
    if (was === S_ABORT) {
      this.clearExchange();
      return this.emit({ type: 'R', nad: 0, nr: this.expectedNs, error: R_OK });
    }
    if (this.current) return this.nextOrInterrupt();
    return this.emit({ type: 'R', nad: 0, nr: this.expectedNs, error: R_OK });
  }

  private clearExchange(): void {
    this.rxChain = [];
    this.response = [];
    this.responseIndex = 0;
    this.current = undefined;
    this.awaiting = undefined;
  }

  private resend(): Buffer {
    this.stats.retransmissions++;
    return this.emit(this.lastSent as T1Block);
  }

  private emit(b: T1Block): Buffer {
    this.lastSent = b;
    const out = encodeBlock({ ...b, nad: this.nad }, this.edc);
    this.stats.blocksSent++;
    const fault = this.faults.shift();
    const el = this.edc === 'crc' ? 2 : 1;
    const fixEdc = (): void => {
      const n = out.length - el;
      if (el === 1) out[n] = lrc(out, 0, n);
      else {
        const c = crc16(out, 0, n);
        out[n] = c >> 8;
        out[n + 1] = c & 0xff;
      }
    };
    switch (fault) {
      case 'corrupt-edc':
        out[out.length - 1] ^= 0x5a;
        return out;
      case 'drop':
        return Buffer.alloc(0);
      case 'bad-len':
        out[2] = 0xff;
        fixEdc();
        return out;
      case 'bad-pcb':
        out[1] = 0x9f;
        fixEdc();
        return out;
      case 'bad-nad':
        out[0] = 0x88;
        fixEdc();
        return out;
      default:
        return out;
    }
  }
}
