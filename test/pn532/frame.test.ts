/**
 * The PN532 frame codec against the datasheet byte strings (docs/pn532.md §1),
 * and a seeded fuzz of the parser: any input, no throw, always progress, no
 * damaged frame accepted as a different one.
 */
import t from 'tap';
import { ACK_FRAME, ERROR_FRAME, NACK_FRAME, TFI_HOST, TFI_PN532, encodeFrame, frameWireLength, parseFrame, type ParseResult } from '../../drivers/pn532/frame.js';
import { rng } from '../helpers/prng.js';

const hex = (s: string): Buffer => Buffer.from(s.replace(/\s+/g, ''), 'hex');

t.test('datasheet frames, byte for byte', async (t) => {
  t.same(ACK_FRAME, hex('00 00 FF 00 FF 00'));
  t.same(NACK_FRAME, hex('00 00 FF FF 00 00'));
  t.same(ERROR_FRAME, hex('00 00 FF 01 FF 7F 81 00'));
  t.same(encodeFrame(TFI_HOST, hex('02')), hex('00 00 FF 02 FE D4 02 2A 00'), 'GetFirmwareVersion');
  t.same(encodeFrame(TFI_PN532, hex('03 32 01 06 07')), hex('00 00 FF 06 FA D5 03 32 01 06 07 E8 00'), 'firmware answer');
  t.same(encodeFrame(TFI_HOST, hex('14 01')), hex('00 00 FF 03 FD D4 14 01 17 00'), 'SAMConfiguration normal');
  t.same(encodeFrame(TFI_PN532, hex('15')), hex('00 00 FF 02 FE D5 15 16 00'));
  t.same(encodeFrame(TFI_HOST, hex('14 01 14 01')), hex('00 00 FF 05 FB D4 14 01 14 01 02 00'), 'SAMConfiguration with IRQ');
  t.same(encodeFrame(TFI_HOST, hex('4A 01 00')), hex('00 00 FF 04 FC D4 4A 01 00 E1 00'));
  t.same(encodeFrame(TFI_PN532, hex('4B 01 01 00 04 08 04 01 02 03 04')), hex('00 00 FF 0C F4 D5 4B 01 01 00 04 08 04 01 02 03 04 C4 00'));
  t.same(encodeFrame(TFI_HOST, hex('40 01 30 04')), hex('00 00 FF 05 FB D4 40 01 30 04 B7 00'));
  t.equal(encodeFrame(TFI_PN532, hex('41 00')).at(-2), 0xea, 'auth ok DCS');
  t.equal(encodeFrame(TFI_PN532, hex('41 14')).at(-2), 0xd6, 'auth fail DCS');
  t.equal(encodeFrame(TFI_PN532, hex('41 01')).at(-2), 0xe9, 'timeout DCS');
  t.same(encodeFrame(TFI_HOST, Buffer.concat([hex('00 00'), Buffer.from('libnfc')])), hex('00 00 FF 09 F7 D4 00 00 6C 69 62 6E 66 63 BE 00'));
  t.same(encodeFrame(TFI_HOST, hex('16 F0')), hex('00 00 FF 03 FD D4 16 F0 26 00'));
  t.same(encodeFrame(TFI_HOST, hex('32 05 FF 01 02')), hex('00 00 FF 06 FA D4 32 05 FF 01 02 F3 00'));
  t.same(encodeFrame(TFI_HOST, hex('02'), true), hex('00 00 FF FF FF 00 02 FE D4 02 2A 00'), 'extended form (libnfc example)');
});

t.test('parse: each kind, with preamble and junk', async (t) => {
  t.match(parseFrame(ACK_FRAME), { status: 'frame', frame: { kind: 'ack' } });
  t.match(parseFrame(NACK_FRAME), { status: 'frame', frame: { kind: 'nack' } });
  t.match(parseFrame(ERROR_FRAME), { status: 'frame', frame: { kind: 'error' } });
  const r = parseFrame(Buffer.concat([hex('55 55 00 00 00 13 00'), hex('00 00 FF 06 FA D5 03 32 01 06 07 E8 00')]));
  t.equal(r.status, 'frame');
  if (r.status === 'frame' && r.frame.kind === 'info') {
    t.equal(r.frame.tfi, TFI_PN532);
    t.same(r.frame.body, hex('03 32 01 06 07'));
    t.equal(r.frame.extended, false);
  } else t.fail('info frame expected');
  const long = Buffer.alloc(260, 0xa5);
  const ext = encodeFrame(TFI_PN532, long);
  t.equal(ext.length, frameWireLength(260));
  t.same(ext.subarray(0, 8), hex('00 00 FF FF FF 01 05 FA'), 'LENM LENL LCS for 261');
  const re = parseFrame(ext);
  t.ok(re.status === 'frame' && re.frame.kind === 'info' && re.frame.extended && re.frame.body.equals(long));
  t.throws(() => encodeFrame(TFI_HOST, Buffer.alloc(265)), /too long/);
  t.match(parseFrame(hex('00 00 FF 03 FC D4 14 01 17 00')), { status: 'bad', reason: /LCS/ }, 'bad LCS named');
  t.match(parseFrame(hex('00 00 FF 03 FD D4 14 01 18 00')), { status: 'bad', reason: /DCS/ }, 'bad DCS named');
  t.match(parseFrame(hex('00 00 FF 03 FD D4 14')), { status: 'partial', started: true });
  t.match(parseFrame(hex('12 34 56')), { status: 'partial', started: false, consumed: 3 });
});

/** Parse everything in a buffer; returns the frames and checks progress. */
function parseAll(t: { fail(msg: string): void }, buf: Buffer): ParseResult[] {
  const out: ParseResult[] = [];
  let b = buf;
  for (let guard = 0; guard < 10000; guard++) {
    const r = parseFrame(b);
    out.push(r);
    if (r.consumed < 0 || r.consumed > b.length) t.fail(`consumed ${r.consumed} of ${b.length}`);
    if (r.status === 'partial') return out;
    if (r.consumed === 0) {
      t.fail('no progress');
      return out;
    }
    b = b.subarray(r.consumed);
  }
  t.fail('parser did not finish');
  return out;
}

t.test('fuzz: random bytes never throw and always progress', async (t) => {
  const rnd = rng(0x5eed);
  let frames = 0;
  for (let i = 0; i < 20000; i++) {
    const len = Math.floor(rnd() * 64);
    // bias towards frame-like bytes so the interesting branches run
    const b = Buffer.from(Array.from({ length: len }, () => (rnd() < 0.3 ? [0x00, 0xff, 0xd5, 0x01][Math.floor(rnd() * 4)] : Math.floor(rnd() * 256))));
    frames += parseAll(t, b).filter((r) => r.status === 'frame').length;
  }
  t.pass(`20000 random buffers parsed (${frames} accidental frames)`);
});

t.test('fuzz: round trip through junk, and damage is never accepted as another frame', async (t) => {
  const rnd = rng(42);
  let damagedRejected = 0;
  let damagedHarmless = 0;
  for (let i = 0; i < 5000; i++) {
    const n = Math.floor(rnd() * 265); // 0..264 data bytes, the firmware's range
    const body = Buffer.from(Array.from({ length: n }, () => Math.floor(rnd() * 256)));
    const frame = encodeFrame(rnd() < 0.5 ? TFI_HOST : TFI_PN532, body, rnd() < 0.1);
    const junk = Buffer.from(Array.from({ length: Math.floor(rnd() * 8) }, () => 1 + Math.floor(rnd() * 255))); // no 00: cannot start a frame
    const rs = parseAll(t, Buffer.concat([junk, frame]));
    const got = rs.find((r) => r.status === 'frame');
    if (!got || got.status !== 'frame' || got.frame.kind !== 'info' || !got.frame.body.equals(body)) {
      t.fail(`round trip ${i} (${n} bytes) failed`);
      break;
    }
    // one byte flipped or dropped anywhere: either the same frame (pre/postamble hit) or nothing accepted
    const d = Buffer.from(frame);
    const at = Math.floor(rnd() * d.length);
    const damaged = rnd() < 0.5 ? ((d[at] ^= 1 << Math.floor(rnd() * 8)), d) : Buffer.concat([d.subarray(0, at), d.subarray(at + 1)]);
    for (const r of parseAll(t, damaged)) {
      if (r.status !== 'frame' || r.frame.kind !== 'info') continue;
      if (!r.frame.body.equals(body)) {
        t.fail(`damaged frame ${i} accepted with another body`);
        return;
      }
      damagedHarmless++;
    }
    damagedRejected++;
  }
  t.pass(`5000 frames round-tripped; damage: ${damagedRejected - damagedHarmless} rejected, ${damagedHarmless} harmless (preamble/postamble)`);
});
