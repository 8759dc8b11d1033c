import t from 'tap';
import { parseApdu, encodeApdu, parseResponse, encodeResponse, ApduError, describeApdu, apduCase } from '../../src/iso7816/apdu.js';
import { parseHex } from '../../src/iso7816/hex.js';
import { PcscError } from '../../src/pcsc/error.js';
import { SCARD } from '../../src/pcsc/constants.js';

const h = parseHex;

t.test('all seven cases parse and re-encode identically', async (t) => {
  const cases: Array<[string, string, number, number | undefined]> = [
    ['00 A4 04 00', '1', 0, undefined],
    ['00 B0 00 00 10', '2S', 0, 16],
    ['00 B0 00 00 00', '2S', 0, 256],
    ['00 A4 04 00 02 3F 00', '3S', 2, undefined],
    ['00 A4 04 00 02 3F 00 00', '4S', 2, 256],
    ['00 A4 04 0C 07 A0 00 00 02 47 10 01 20', '4S', 7, 0x20],
    ['00 B0 00 00 00 01 00', '2E', 0, 256],
    ['00 B0 00 00 00 00 00', '2E', 0, 65536],
    ['00 D6 00 00 00 00 03 01 02 03', '3E', 3, undefined],
    ['00 2A 9E 9A 00 00 02 AA BB 00 00', '4E', 2, 65536],
    ['00 2A 9E 9A 00 00 02 AA BB 01 00', '4E', 2, 256],
  ];
  for (const [hex, c, nc, le] of cases) {
    const a = parseApdu(h(hex));
    t.equal(a.case, c, `${hex} is case ${c}`);
    t.equal(a.data.length, nc);
    t.equal(a.le, le);
    t.equal(a.extended, c.endsWith('E'));
    t.same([...encodeApdu(a)], [...h(hex)], `${hex} re-encodes`);
  }
  const s = parseApdu(h('80 CA 9F 7F 2D'));
  t.same({ cla: s.cla, ins: s.ins, p1: s.p1, p2: s.p2 }, { cla: 0x80, ins: 0xca, p1: 0x9f, p2: 0x7f });
  t.equal(describeApdu(parseApdu(h('00 20 00 81 04 31 32 33 34'))), '00200081 case 3S Nc=4', 'description never shows data');
});

t.test('encode chooses short or extended form', async (t) => {
  t.same([...encodeApdu({ cla: 0, ins: 0xb0, p1: 0, p2: 0, le: 256 })], [0, 0xb0, 0, 0, 0]);
  t.same([...encodeApdu({ cla: 0, ins: 0xb0, p1: 0, p2: 0, le: 257 })], [0, 0xb0, 0, 0, 0, 1, 1]);
  t.same([...encodeApdu({ cla: 0, ins: 0xb0, p1: 0, p2: 0, le: 65536 })], [0, 0xb0, 0, 0, 0, 0, 0]);
  t.same([...encodeApdu({ cla: 0, ins: 0xb0, p1: 0, p2: 0, le: 5, extended: true })], [0, 0xb0, 0, 0, 0, 0, 5]);
  const big = encodeApdu({ cla: 0, ins: 0xd6, p1: 0, p2: 0, data: Buffer.alloc(300, 1) });
  t.same([...big.subarray(0, 7)], [0, 0xd6, 0, 0, 0, 1, 0x2c]);
  t.equal(big.length, 307);
  t.equal(apduCase({ cla: 0, ins: 0, p1: 0, p2: 0, data: Buffer.alloc(3), le: 300 }), '4E');
  t.throws(() => encodeApdu({ cla: 256, ins: 0, p1: 0, p2: 0 }), { name: 'ApduError', message: /CLA must be a byte/ });
  t.throws(() => encodeApdu({ cla: 0, ins: 0, p1: 0, p2: 0, le: 0 }), { message: /Le \(Ne\) must be 1\.\.65536, got 0/ });
  t.throws(() => encodeApdu({ cla: 0, ins: 0, p1: 0, p2: 0, data: Buffer.alloc(65536) }), { message: /too long/ });
});

t.test('malformed APDUs are refused with ApduError naming the problem', async (t) => {
  const bad: Array<[string, RegExp]> = [
    ['', /too short: 0 bytes/],
    ['00 A4 04', /too short: 3 bytes/],
    ['00 A4 04 00 05 01 02 03', /Lc=5 but 3 data bytes follow/],
    ['00 A4 04 00 02 01 02 03 04', /Lc=2 but 4 data bytes follow/],
    ['00 A4 04 00 00 01', /2 bytes after the header/],
    ['00 A4 04 00 00 00 00 01', /extended Lc=0000 is not allowed/],
    ['00 A4 04 00 00 00 05 01 02', /extended Lc=5 but 2 data bytes follow/],
    ['00 A4 04 00 00 00 02 01 02 00', /extended Lc=2 but 3 data bytes follow/],
  ];
  for (const [hex, re] of bad) {
    try {
      parseApdu(h(hex));
      t.fail(`accepted ${hex}`);
    } catch (e) {
      t.ok(e instanceof ApduError && e instanceof PcscError, `${hex}: ApduError`);
      t.equal((e as PcscError).code, SCARD.E_INVALID_PARAMETER);
      t.match((e as Error).message, re);
    }
  }
});

t.test('response helper', async (t) => {
  const r = parseResponse(h('01 02 03 90 00'));
  t.same([...r.data], [1, 2, 3]);
  t.equal(r.sw, 0x9000);
  t.equal(r.sw1, 0x90);
  t.equal(parseResponse(h('6A 82')).data.length, 0);
  t.throws(() => parseResponse(h('90')), { name: 'ApduError', message: /response APDU too short: 1 bytes/ });
  t.same([...encodeResponse(h('AA'), 0x6282)], [0xaa, 0x62, 0x82]);
});

t.test('fuzz: random bytes either parse and round-trip, or throw ApduError', async (t) => {
  let seed = 0x5eed;
  const rnd = () => {
    seed ^= seed << 13;
    seed ^= seed >>> 17;
    seed ^= seed << 5;
    return seed >>> 0;
  };
  let ok = 0;
  let refused = 0;
  for (let n = 0; n < 100000; n++) {
    const len = rnd() % 24;
    const b = Buffer.alloc(len);
    for (let i = 0; i < len; i++) b[i] = rnd() & 0xff;
    // Bias some inputs towards well-formed length fields to reach the deep branches.
    if (len > 5 && n % 3 === 0) b[4] = len - 5 - (n % 2);
    if (len > 7 && n % 5 === 0) {
      b[4] = 0;
      b[5] = 0;
      b[6] = len - 7 - (n % 2 ? 2 : 0);
    }
    try {
      const a = parseApdu(b);
      if (!encodeApdu(a).equals(b)) t.fail(`round trip failed for ${b.toString('hex')}`);
      ok++;
    } catch (e) {
      if (!(e instanceof ApduError)) t.fail(`unexpected ${String(e)} for ${b.toString('hex')}`);
      refused++;
    }
  }
  t.ok(ok > 1000 && refused > 1000, `parsed ${ok}, refused ${refused}`);
});
