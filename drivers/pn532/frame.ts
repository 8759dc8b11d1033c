/**
 * PN532 frame codec (docs/pn532.md §1): normal and extended information frames,
 * ACK, NACK and the application error frame. Used by the driver and by the
 * test emulator, so the byte layout has one source of truth; tests pin it to
 * the datasheet byte strings.
 */

export const TFI_HOST = 0xd4;
export const TFI_PN532 = 0xd5;

export const ACK_FRAME = Buffer.from([0x00, 0x00, 0xff, 0x00, 0xff, 0x00]);
export const NACK_FRAME = Buffer.from([0x00, 0x00, 0xff, 0xff, 0x00, 0x00]);
export const ERROR_FRAME = Buffer.from([0x00, 0x00, 0xff, 0x01, 0xff, 0x7f, 0x81, 0x00]);

/** TFI + data above this goes in an extended frame (LEN is one byte). */
export const NORMAL_MAX_LEN = 255;
/** The firmware's cap on TFI + packet data (264 data bytes + TFI). */
export const EXTENDED_MAX_LEN = 265;

export type Frame =
  | { kind: 'ack' }
  | { kind: 'nack' }
  /** Application-level error ("syntax error") frame. */
  | { kind: 'error' }
  /** Information frame: `tfi` D4/D5, `body` = PD0..PDn (command or response code first). */
  | { kind: 'info'; tfi: number; body: Buffer; extended: boolean };

export type ParseResult =
  /** A whole frame starting `skipped` bytes in; `consumed` bytes of the buffer are used up. */
  | { status: 'frame'; frame: Frame; consumed: number; skipped: number }
  /** Not enough bytes yet; the caller may drop the first `consumed` bytes (junk before any start code). */
  | { status: 'partial'; consumed: number; started: boolean }
  /** A start code followed by a frame that fails its checks; drop `consumed` bytes and parse again. */
  | { status: 'bad'; reason: string; consumed: number };

const sum = (b: Uint8Array, from: number, to: number): number => {
  let s = 0;
  for (let i = from; i < to; i++) s += b[i];
  return s & 0xff;
};

/** Encode an information frame; extended when TFI + body exceeds 255 bytes (or when forced). */
export function encodeFrame(tfi: number, body: Uint8Array, forceExtended = false): Buffer {
  const len = body.length + 1;
  if (len > EXTENDED_MAX_LEN) throw new RangeError(`PN532 frame data too long: ${body.length} bytes (max ${EXTENDED_MAX_LEN - 1})`);
  const dcs = (0x100 - ((tfi + sum(body, 0, body.length)) & 0xff)) & 0xff;
  if (len <= NORMAL_MAX_LEN && !forceExtended) {
    return Buffer.concat([Buffer.from([0x00, 0x00, 0xff, len, (0x100 - len) & 0xff, tfi]), body, Buffer.from([dcs, 0x00])]);
  }
  const lenm = len >> 8;
  const lenl = len & 0xff;
  const lcs = (0x100 - ((lenm + lenl) & 0xff)) & 0xff;
  return Buffer.concat([Buffer.from([0x00, 0x00, 0xff, 0xff, 0xff, lenm, lenl, lcs, tfi]), body, Buffer.from([dcs, 0x00])]);
}

/** Total bytes on the wire for an information frame carrying `bodyLength` bytes after the TFI. */
export const frameWireLength = (bodyLength: number): number => (bodyLength + 1 > NORMAL_MAX_LEN ? bodyLength + 1 + 10 : bodyLength + 1 + 7);

/**
 * Find and decode the first frame in `buf`. Any number of 0x00 preamble bytes
 * and any junk before the `00 FF` start code are skipped. Information frames
 * need their 00 postamble: without it a dropped 00 data byte would go
 * unnoticed (the DCS would slide into the data and the postamble into the DCS,
 * and the sum still checks), which the fuzz test found.
 */
export function parseFrame(buf: Uint8Array): ParseResult {
  let i = 0;
  for (;;) {
    // hunt for the start code 00 FF
    while (i + 1 < buf.length && !(buf[i] === 0x00 && buf[i + 1] === 0xff)) i++;
    if (i + 1 >= buf.length) {
      // keep a trailing 00: it may be the first half of a start code
      const keep = buf.length > 0 && buf[buf.length - 1] === 0x00 ? 1 : 0;
      return { status: 'partial', consumed: buf.length - keep, started: false };
    }
    const s = i; // index of the 00 of 00 FF
    if (buf.length < s + 4) return { status: 'partial', consumed: s, started: true };
    const len = buf[s + 2];
    const lcs = buf[s + 3];
    if (len === 0x00 && lcs === 0xff) return { status: 'frame', frame: { kind: 'ack' }, consumed: s + 4, skipped: s };
    if (len === 0xff && lcs === 0x00) return { status: 'frame', frame: { kind: 'nack' }, consumed: s + 4, skipped: s };
    if (len === 0xff && lcs === 0xff) {
      if (buf.length < s + 7) return { status: 'partial', consumed: s, started: true };
      const lenm = buf[s + 4];
      const lenl = buf[s + 5];
      const elcs = buf[s + 6];
      if (((lenm + lenl + elcs) & 0xff) !== 0) return { status: 'bad', reason: 'extended frame length checksum (LCS) mismatch', consumed: s + 2 };
      const elen = lenm * 256 + lenl;
      if (elen === 0 || elen > EXTENDED_MAX_LEN) return { status: 'bad', reason: `extended frame length ${elen} out of range`, consumed: s + 2 };
      const end = s + 7 + elen + 1; // TFI..PDn, DCS
      if (buf.length < end + 1) return { status: 'partial', consumed: s, started: true };
      if (sum(buf, s + 7, end) !== 0) return { status: 'bad', reason: 'frame data checksum (DCS) mismatch', consumed: end };
      if (buf[end] !== 0x00) return { status: 'bad', reason: 'postamble missing after the frame', consumed: end };
      return {
        status: 'frame',
        frame: { kind: 'info', tfi: buf[s + 7], body: Buffer.from(buf.subarray(s + 8, end - 1)), extended: true },
        consumed: end + 1,
        skipped: s,
      };
    }
    if (((len + lcs) & 0xff) !== 0 || len === 0) {
      // not a frame after all (a stray 00 FF inside junk, or a corrupted LEN): step past it
      return { status: 'bad', reason: `frame length checksum (LCS) mismatch: LEN ${len} LCS ${lcs}`, consumed: s + 2 };
    }
    const end = s + 4 + len + 1;
    if (buf.length < end + 1) return { status: 'partial', consumed: s, started: true };
    if (sum(buf, s + 4, end) !== 0) return { status: 'bad', reason: 'frame data checksum (DCS) mismatch', consumed: end };
    if (buf[end] !== 0x00) return { status: 'bad', reason: 'postamble missing after the frame', consumed: end };
    if (len === 1 && buf[s + 4] === 0x7f) return { status: 'frame', frame: { kind: 'error' }, consumed: end + 1, skipped: s };
    return {
      status: 'frame',
      frame: { kind: 'info', tfi: buf[s + 4], body: Buffer.from(buf.subarray(s + 5, end - 1)), extended: false },
      consumed: end + 1,
      skipped: s,
    };
  }
}
