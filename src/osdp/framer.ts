/**
 * Finds packets in a byte stream (docs/osdp.md §2.3): skip to SOM (an
 * optional 0xFF mark before it is dropped), read the length, wait for the
 * whole packet, check CRC/checksum. A packet that fails its check gives up
 * only its SOM byte: scanning resumes right after it, and a packet whose
 * (corrupted) length runs past a later complete, valid packet is given up for
 * it, so a bad length cannot swallow the next good packet. A partial packet older than the gap
 * bound is dropped (a lost byte would otherwise stall the stream).
 */
import { EventEmitter } from 'node:events';
import { MARK, SOM } from './codes.js';
import { decodePacket, MAX_PACKET, MIN_PACKET, OsdpFrameError, type Decoded } from './packet.js';

export interface FramerEvents {
  packet: [decoded: Decoded, raw: Buffer];
  /** Bytes thrown away, with the reason (bad check, stray bytes, stale partial packet). */
  discard: [reason: string, bytes: number];
}

export class Framer extends EventEmitter<FramerEvents> {
  private buf: Buffer = Buffer.alloc(0);
  private lastAt = 0;

  constructor(
    /** A silent gap inside a packet longer than this drops what was gathered. */
    readonly gapMs = 50,
    readonly maxPacket = MAX_PACKET,
  ) {
    super();
  }

  reset(): void {
    if (this.buf.length) this.emit('discard', 'reset', this.buf.length);
    this.buf = Buffer.alloc(0);
  }

  push(chunk: Buffer, now = Date.now()): void {
    if (this.buf.length && now - this.lastAt > this.gapMs) {
      this.emit('discard', 'stale partial packet', this.buf.length);
      this.buf = Buffer.alloc(0);
    }
    this.lastAt = now;
    this.buf = this.buf.length ? Buffer.concat([this.buf, chunk]) : chunk;
    this.scan();
  }

  private drop(n: number, reason: string): void {
    if (n <= 0) return;
    this.emit('discard', reason, n);
    this.buf = this.buf.subarray(n);
  }

  private scan(): void {
    for (;;) {
      const s = this.buf.indexOf(SOM);
      if (s < 0) {
        // stray bytes (marks, line noise): keep nothing
        if (this.buf.length) this.drop(this.buf.length, this.buf.every((x) => x === MARK) ? 'mark' : 'no SOM');
        return;
      }
      if (s > 0) this.drop(s, this.buf.subarray(0, s).every((x) => x === MARK) ? 'mark' : 'no SOM');
      if (this.buf.length < 4) return;
      const len = this.buf.readUInt16LE(2);
      if (len < MIN_PACKET || len > this.maxPacket) {
        this.drop(1, `length ${len} out of range`);
        continue;
      }
      if (this.buf.length < len) {
        // A corrupted length can promise hundreds of bytes; a complete, valid packet starting later wins over it.
        const later = this.laterPacket();
        if (later > 0) {
          this.drop(later, `length ${len} overtaken by a valid packet`);
          continue;
        }
        return;
      }
      const raw = Buffer.from(this.buf.subarray(0, len));
      let decoded: Decoded;
      try {
        decoded = decodePacket(raw);
      } catch (e) {
        this.drop(1, e instanceof OsdpFrameError ? e.message : String(e));
        continue;
      }
      this.buf = this.buf.subarray(len);
      this.emit('packet', decoded, raw);
    }
  }

  /** Offset of the first complete packet with a valid check starting after offset 0, or -1. */
  private laterPacket(): number {
    for (let j = this.buf.indexOf(SOM, 1); j > 0; j = this.buf.indexOf(SOM, j + 1)) {
      if (this.buf.length - j < MIN_PACKET) return -1;
      const len = this.buf.readUInt16LE(j + 2);
      if (len < MIN_PACKET || len > this.buf.length - j) continue;
      try {
        decodePacket(this.buf.subarray(j, j + len));
        return j;
      } catch {
        /* not one */
      }
    }
    return -1;
  }

  /** Bytes gathered towards an incomplete packet. */
  pending(): number {
    return this.buf.length;
  }
}
