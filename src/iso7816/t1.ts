/**
 * T=1 block protocol, interface-device side (ISO/IEC 7816-3 §11, docs/iso7816.md §4),
 * for readers that exchange TPDUs (CCID TPDU level, raw serial).
 *
 * `exchangeBlock(block, wtxMultiplier)` sends one block and resolves with the
 * card's next block, or with an EMPTY buffer when the block waiting time ran out
 * (wtxMultiplier > 1 means the card asked for m × BWT for this wait). It rejects
 * only for fatal transport faults, which propagate unchanged.
 *
 * Error recovery follows ISO 7816-3 rules 6 and 7: an invalid block or a timeout
 * is answered by R(N(R), error); after an R-block we resend it unchanged; three
 * consecutive failures lead to S(RESYNCH), after which the APDU is sent again
 * from the start (a non-idempotent command may then run twice: that is the
 * standard's behaviour); three failed resynchronisations declare the card mute.
 */
import { SCARD } from '../pcsc/constants.js';
import { PcscError } from '../pcsc/error.js';
import {
  type EdcType,
  type T1Block,
  encodeBlock,
  parseBlock,
  swapNad,
  describeBlock,
  S_ABORT,
  S_IFS,
  S_RESYNCH,
  S_WTX,
  R_EDC_ERROR,
  R_OK,
  R_OTHER_ERROR,
} from './t1-block.js';

export type T1Exchange = (block: Buffer, wtxMultiplier: number) => Promise<Buffer>;

export interface T1Options {
  /** Card's receive size (ATR TA for T=1, default 32). */
  ifsc?: number;
  /** Our receive size, announced with S(IFS req) by negotiateIfsd (default 32, max 254). */
  ifsd?: number;
  edc?: EdcType;
  /** Node address byte we send (default 00). */
  nad?: number;
  /** Consecutive failures tolerated on one block before resynchronising (default 3). */
  maxRetries?: number;
  /** Resynchronisations tolerated per APDU before giving up (default 3). */
  maxResyncs?: number;
  /** Upper bound on blocks exchanged for one APDU, against a card looping on WTX or garbage (default 100000). */
  maxBlocks?: number;
  /** Optional trace hook (block descriptions only, never data). */
  trace?: (dir: 'tx' | 'rx', text: string) => void;
}

export interface T1Stats {
  blocksSent: number;
  blocksReceived: number;
  invalidReceived: number;
  retransmissions: number;
  resyncs: number;
  wtxRequests: number;
}

/** Internal signal: recovery by R-blocks failed, resynchronise. */
class NeedResync extends Error {}

export class T1Protocol {
  ifsc: number;
  ifsd: number;
  readonly edc: EdcType;
  readonly nad: number;
  /** N(S) of our next I-block. */
  ns = 0;
  /** N(S) we expect in the card's next I-block. */
  nr = 0;
  /** True once resynchronisation failed: the card needs a reset. */
  dead = false;
  readonly stats: T1Stats = { blocksSent: 0, blocksReceived: 0, invalidReceived: 0, retransmissions: 0, resyncs: 0, wtxRequests: 0 };
  private readonly maxRetries: number;
  private readonly maxResyncs: number;
  private readonly maxBlocks: number;
  private readonly trace?: T1Options['trace'];
  private initialIfsc: number;
  private blocksThisApdu = 0;
  private wtx = 1;

  constructor(opts: T1Options, private readonly exchangeBlock: T1Exchange) {
    this.ifsc = this.initialIfsc = checkSize('IFSC', opts.ifsc ?? 32);
    this.ifsd = checkSize('IFSD', opts.ifsd ?? 32);
    this.edc = opts.edc ?? 'lrc';
    if (this.edc !== 'lrc' && this.edc !== 'crc') throw new PcscError(SCARD.E_INVALID_PARAMETER, `T=1 EDC must be 'lrc' or 'crc', got ${String(this.edc)}`);
    this.nad = (opts.nad ?? 0) & 0x77;
    this.maxRetries = opts.maxRetries ?? 3;
    this.maxResyncs = opts.maxResyncs ?? 3;
    this.maxBlocks = opts.maxBlocks ?? 100000;
    this.trace = opts.trace;
  }

  /** Send an APDU (any length up to 65544 bytes) and return the card's response APDU. */
  async transmit(apdu: Uint8Array): Promise<Buffer> {
    if (this.dead) throw new PcscError(SCARD.E_NOT_TRANSACTED, 'T=1: card did not resynchronise; reset it first');
    if (apdu.length === 0) throw new PcscError(SCARD.E_INVALID_PARAMETER, 'T=1: empty APDU');
    this.blocksThisApdu = 0;
    for (let resyncs = 0; ; resyncs++) {
      try {
        return await this.exchangeApdu(Buffer.from(apdu));
      } catch (e) {
        if (!(e instanceof NeedResync)) throw e;
      }
      if (resyncs >= this.maxResyncs) {
        this.dead = true;
        throw new PcscError(SCARD.E_NOT_TRANSACTED, `T=1: no valid exchange after ${this.maxResyncs} resynchronisations; card needs a reset`);
      }
      await this.resync();
    }
  }

  /** Forget all block state after a card reset (new ATR): sequence numbers 0, IFSC from the new ATR. */
  reset(ifsc = this.initialIfsc): void {
    this.ifsc = this.initialIfsc = checkSize('IFSC', ifsc);
    this.ns = 0;
    this.nr = 0;
    this.wtx = 1;
    this.dead = false;
  }

  /** Announce our IFSD with S(IFS req) (usually right after the ATR). */
  async negotiateIfsd(ifsd = this.ifsd): Promise<void> {
    checkSize('IFSD', ifsd);
    this.blocksThisApdu = 0;
    const r = await this.sRequest(S_IFS, Buffer.from([ifsd]));
    if (r.inf[0] !== ifsd) throw new PcscError(SCARD.E_NOT_TRANSACTED, `T=1: card answered S(IFS resp ${r.inf[0]}) to S(IFS req ${ifsd})`);
    this.ifsd = ifsd;
  }

  /** S(RESYNCH req): resets both sequence numbers. Throws and marks the card dead if it never answers. */
  async resync(): Promise<void> {
    this.stats.resyncs++;
    try {
      await this.sRequest(S_RESYNCH, Buffer.alloc(0));
    } catch (e) {
      if (e instanceof PcscError) this.dead = true;
      throw e;
    }
    // Resynchronisation returns both sides to their initial parameters; the card
    // then assumes IFSD 32 again, which our receive capacity (this.ifsd) covers.
    this.ns = 0;
    this.nr = 0;
    this.ifsc = this.initialIfsc;
    this.dead = false;
  }

  /** Send an S request, retrying up to maxRetries times, and return the matching S response. */
  private async sRequest(sType: number, inf: Buffer): Promise<Extract<T1Block, { type: 'S' }>> {
    const req: T1Block = { type: 'S', nad: this.nad, response: false, sType, inf };
    for (let attempt = 0; attempt <= this.maxRetries; attempt++) {
      if (attempt > 0) this.stats.retransmissions++;
      const p = await this.send(req);
      if (p.ok && p.block.type === 'S' && p.block.response && p.block.sType === sType) return p.block;
    }
    throw new PcscError(SCARD.E_NOT_TRANSACTED, `T=1: no valid answer to ${describeBlock(req)} after ${this.maxRetries + 1} attempts`);
  }

  /** Exchange one block; returns the parsed (and NAD-checked) reply. */
  private async send(b: T1Block): Promise<ReturnType<typeof parseBlock>> {
    if (++this.blocksThisApdu > this.maxBlocks) {
      throw new PcscError(SCARD.E_NOT_TRANSACTED, `T=1: gave up after ${this.maxBlocks} blocks for one APDU`);
    }
    const wtx = this.wtx;
    this.wtx = 1;
    this.trace?.('tx', describeBlock(b) + (wtx > 1 ? ` (BWT x${wtx})` : ''));
    this.stats.blocksSent++;
    const raw = await this.exchangeBlock(encodeBlock(b, this.edc), wtx);
    let p = parseBlock(raw, this.edc);
    if (p.ok && p.block.nad !== swapNad(this.nad)) {
      p = { ok: false, edc: false, reason: `reply NAD ${p.block.nad.toString(16)} is not our NAD ${this.nad.toString(16)} swapped` };
    }
    if (p.ok) {
      this.stats.blocksReceived++;
      this.trace?.('rx', describeBlock(p.block));
    } else {
      this.stats.invalidReceived++;
      this.trace?.('rx', `invalid: ${p.reason}`);
    }
    return p;
  }

  private async exchangeApdu(apdu: Buffer): Promise<Buffer> {
    let offset = 0;
    const received: Buffer[] = [];
    // Our I-block currently being delivered.
    const chunkAt = (off: number): T1Block => {
      const len = Math.min(this.ifsc, apdu.length - off);
      return { type: 'I', nad: this.nad, ns: this.ns, more: off + len < apdu.length, inf: apdu.subarray(off, off + len) };
    };
    let lastI = chunkAt(0) as Extract<T1Block, { type: 'I' }>;
    let sending = true;
    let last: T1Block = lastI;
    let failures = 0;
    const fail = (): void => {
      if (++failures > this.maxRetries) throw new NeedResync();
      this.stats.retransmissions++;
    };

    let reply = await this.send(last);
    for (;;) {
      if (!reply.ok) {
        fail();
        if (last.type !== 'R') last = { type: 'R', nad: this.nad, nr: this.nr, error: reply.edc ? R_EDC_ERROR : R_OTHER_ERROR };
        reply = await this.send(last);
        continue;
      }
      const b = reply.block;
      if (b.type === 'S') {
        if (b.response) {
          fail();
          last = { type: 'R', nad: this.nad, nr: this.nr, error: R_OTHER_ERROR };
        } else if (b.sType === S_WTX) {
          this.stats.wtxRequests++;
          const m = b.inf[0];
          this.wtx = m === 0 ? 1 : m;
          last = { type: 'S', nad: this.nad, response: true, sType: S_WTX, inf: Buffer.from([m]) };
        } else if (b.sType === S_IFS) {
          const size = b.inf[0];
          if (size === 0 || size === 0xff) {
            fail();
            last = { type: 'R', nad: this.nad, nr: this.nr, error: R_OTHER_ERROR };
          } else {
            this.ifsc = size;
            last = { type: 'S', nad: this.nad, response: true, sType: S_IFS, inf: Buffer.from([size]) };
          }
        } else if (b.sType === S_ABORT) {
          await this.send({ type: 'S', nad: this.nad, response: true, sType: S_ABORT, inf: Buffer.alloc(0) });
          // The chain is abandoned on both sides; sequence state is restored by a resynchronisation.
          await this.resync();
          throw new PcscError(SCARD.E_NOT_TRANSACTED, 'T=1: card aborted the chain (S(ABORT req))');
        } else {
          // S(RESYNCH req) may only come from the interface device.
          fail();
          last = { type: 'R', nad: this.nad, nr: this.nr, error: R_OTHER_ERROR };
        }
        reply = await this.send(last);
        continue;
      }
      if (b.type === 'R') {
        if (sending && b.nr === lastI.ns) {
          // The card asks for our I-block again.
          fail();
          last = lastI;
        } else if (sending && lastI.more && b.nr !== lastI.ns) {
          // Acknowledgement of a chained block: send the next one.
          failures = 0;
          offset += lastI.inf.length;
          this.ns ^= 1;
          lastI = chunkAt(offset) as Extract<T1Block, { type: 'I' }>;
          last = lastI;
        } else {
          fail();
          if (last.type !== 'R') last = { type: 'R', nad: this.nad, nr: this.nr, error: R_OTHER_ERROR };
        }
        reply = await this.send(last);
        continue;
      }
      // I-block from the card.
      if ((sending && lastI.more) || b.ns !== this.nr) {
        fail();
        if (last.type !== 'R') last = { type: 'R', nad: this.nad, nr: this.nr, error: R_OTHER_ERROR };
        reply = await this.send(last);
        continue;
      }
      if (b.inf.length > this.ifsd) {
        fail();
        last = { type: 'R', nad: this.nad, nr: this.nr, error: R_OTHER_ERROR };
        reply = await this.send(last);
        continue;
      }
      if (sending) {
        // The card's I-block acknowledges our last one.
        sending = false;
        this.ns ^= 1;
      }
      failures = 0;
      this.nr ^= 1;
      received.push(b.inf);
      if (!b.more) return Buffer.concat(received);
      last = { type: 'R', nad: this.nad, nr: this.nr, error: R_OK };
      reply = await this.send(last);
    }
  }
}

function checkSize(name: string, v: number): number {
  if (!Number.isInteger(v) || v < 1 || v > 254) throw new PcscError(SCARD.E_INVALID_PARAMETER, `T=1 ${name} must be 1..254, got ${v}`);
  return v;
}
