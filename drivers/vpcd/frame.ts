/**
 * vpcd <-> vicc framing (docs/vpcd.md §2): every message is a 2-byte
 * big-endian length and the payload. A 1-byte payload from vpcd is a control
 * code; anything else an APDU. The decoder is incremental (TCP delivers any
 * split) and bounded: it never holds more than one frame.
 */

export const VPCD_CTRL = { OFF: 0x00, ON: 0x01, RESET: 0x02, ATR: 0x04 } as const;
export const MAX_PAYLOAD = 0xffff;

/** One message as a single buffer, so it goes out in one write. */
export function encodeFrame(payload: Uint8Array): Buffer {
  if (payload.length > MAX_PAYLOAD) throw new RangeError(`vpcd frame payload of ${payload.length} bytes exceeds ${MAX_PAYLOAD}`);
  const out = Buffer.allocUnsafe(payload.length + 2);
  out.writeUInt16BE(payload.length, 0);
  out.set(payload, 2);
  return out;
}

/** Several messages concatenated, for one write (power on + get ATR). */
export function encodeFrames(...payloads: Uint8Array[]): Buffer {
  return Buffer.concat(payloads.map(encodeFrame));
}

export const controlFrame = (code: number): Buffer => Buffer.from([0x00, 0x01, code]);

const EMPTY = Buffer.alloc(0);

export class FrameDecoder {
  private buf: Buffer = EMPTY;

  /** Bytes received but not yet a whole frame. */
  get buffered(): number {
    return this.buf.length;
  }

  /** Feed received bytes (valid only during the call: what is kept is copied); returns the complete payloads, in order. */
  push(chunk: Buffer): Buffer[] {
    this.buf = this.buf.length === 0 ? chunk : Buffer.concat([this.buf, chunk]);
    const out: Buffer[] = [];
    let p = 0;
    while (this.buf.length - p >= 2) {
      const n = this.buf.readUInt16BE(p);
      if (this.buf.length - p - 2 < n) break;
      out.push(Buffer.from(this.buf.subarray(p + 2, p + 2 + n)));
      p += 2 + n;
    }
    this.buf = p === this.buf.length ? EMPTY : Buffer.from(this.buf.subarray(p));
    return out;
  }

  /** Length announced by the header of the incomplete frame being received, if its header has arrived. */
  announced(): number | undefined {
    return this.buf.length >= 2 ? this.buf.readUInt16BE(0) : undefined;
  }

  reset(): void {
    this.buf = EMPTY;
  }
}
