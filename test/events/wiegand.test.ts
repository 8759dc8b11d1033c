import t from 'tap';
import { wiegand26, wiegand34, uidNumber } from '../../src/events/wiegand.js';

t.test('Wiegand 26 H10301: facility 1, card 1 has the textbook frame and parity', async (t) => {
  // UID0..3 little-endian = 0x00010001: facility UID2 = 1, card UID1 UID0 = 0x0001.
  const w = wiegand26(Buffer.from([0x01, 0x00, 0x01, 0x00]))!;
  t.equal(w.facility, 1);
  t.equal(w.card, 1);
  // E=1 (one 1 in the first 12 data bits), data 0x010001, O=0 (one 1 in the last 12): 0b1 00000001 0000000000000001 0
  t.equal(w.frame, '2020002');
  t.match(w.source, /UID2/);
});

t.test('parity bits: even over the first half, odd over the second', async (t) => {
  for (const uid of [
    [0x00, 0x00, 0x00, 0x00],
    [0xff, 0xff, 0xff, 0xff],
    [0x12, 0x34, 0x56, 0x78],
    [0xde, 0xad, 0xbe, 0xef],
  ]) {
    for (const [fn, bits] of [
      [wiegand26, 26],
      [wiegand34, 34],
    ] as const) {
      const frame = BigInt('0x' + fn(Buffer.from(uid))!.frame);
      const b = frame.toString(2).padStart(bits, '0');
      const half = bits / 2;
      const ones = (s: string): number => [...s].filter((c) => c === '1').length;
      t.equal(ones(b.slice(0, half)) % 2, 0, `${bits}-bit leading half even for ${uid}`);
      t.equal(ones(b.slice(half)) % 2, 1, `${bits}-bit trailing half odd for ${uid}`);
    }
  }
});

t.test('byte order is explicit: the two common readings of one UID', async (t) => {
  // The "7186A61E vs 1EA68671" confusion: UID 1E A6 86 71.
  const uid = Buffer.from([0x1e, 0xa6, 0x86, 0x71]);
  t.equal(uidNumber(uid, 'lsb-first'), 0x7186a61e);
  t.equal(uidNumber(uid, 'msb-first'), 0x1ea68671);
  const le = wiegand34(uid, 'lsb-first')!;
  t.equal(le.value, 0x7186a61e);
  t.equal(le.facility, 0x7186);
  t.equal(le.card, 0xa61e);
  const w26 = wiegand26(uid, 'lsb-first')!;
  t.equal(w26.facility, 0x86);
  t.equal(w26.card, 0xa61e);
  const be26 = wiegand26(uid, 'msb-first')!;
  t.equal(be26.facility, 0xa6);
  t.equal(be26.card, 0x8671);
});

t.test('7-byte UIDs use their first four bytes; shorter UIDs give no number', async (t) => {
  const uid = Buffer.from([0x04, 0x11, 0x22, 0x33, 0x44, 0x55, 0x66]);
  t.equal(wiegand34(uid)!.value, 0x33221104);
  t.equal(wiegand26(Buffer.from([1, 2, 3])), undefined);
});
