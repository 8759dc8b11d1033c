import t from 'tap';
import { parseHex, toHex, isHex, HexError, hexByte, hexWord } from '../../src/iso7816/hex.js';

t.test('parseHex accepts spaces, colons, compact and 0x forms', async (t) => {
  t.same([...parseHex('3B 8F 80')], [0x3b, 0x8f, 0x80]);
  t.same([...parseHex('3b:8f:80')], [0x3b, 0x8f, 0x80]);
  t.same([...parseHex('3B8F80')], [0x3b, 0x8f, 0x80]);
  t.same([...parseHex('0x3b8f')], [0x3b, 0x8f]);
  t.same([...parseHex('  00 a4\t04 00\n')], [0x00, 0xa4, 0x04, 0x00]);
  t.equal(parseHex('').length, 0);
  t.equal(parseHex('   ').length, 0);
});

t.test('parseHex refuses odd length and non-hex naming the position', async (t) => {
  t.throws(() => parseHex('3B8'), { name: 'HexError', position: 2, message: /odd number of hex digits.*position 2/ });
  t.throws(() => parseHex('3B 8 F0'), { name: 'HexError', message: /lone digit "8" at position 3/ });
  t.throws(() => parseHex('3B 8G'), { name: 'HexError', position: 4, message: /invalid hex character "G" at position 4/ });
  t.throws(() => parseHex('zz'), { position: 0, message: /"z" at position 0/ });
  t.throws(() => parseHex('0x3Q'), { name: 'HexError', position: 3 });
  t.throws(() => parseHex('3B-8F'), { name: 'HexError', position: 2 });
  const e = (() => {
    try {
      parseHex('AB C');
    } catch (err) {
      return err;
    }
  })();
  t.ok(e instanceof HexError);
  t.equal(isHex('AB C'), false);
  t.equal(isHex('AB:CD'), true);
});

t.test('toHex formats upper case with optional separator', async (t) => {
  t.equal(toHex(Buffer.from([0x3b, 0x0f, 0xa0])), '3B 0F A0');
  t.equal(toHex(Buffer.from([0x3b, 0x0f, 0xa0]), ''), '3B0FA0');
  t.equal(toHex([1, 2], ':'), '01:02');
  t.equal(toHex(Buffer.alloc(0)), '');
  t.equal(hexByte(0x0a), '0A');
  t.equal(hexWord(0x6a82), '6A82');
});

t.test('round trip on random buffers', async (t) => {
  let seed = 7;
  const rnd = () => ((seed = (seed * 1103515245 + 12345) >>> 0) >>> 16) & 0xff;
  for (let n = 0; n < 500; n++) {
    const b = Buffer.from(Array.from({ length: n % 40 }, rnd));
    for (const sep of [' ', '', ':']) t.ok(parseHex(toHex(b, sep)).equals(b));
  }
});
