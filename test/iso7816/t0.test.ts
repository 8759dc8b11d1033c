import t from 'tap';
import { transmitT0, getResponseClaFor, apduToT0Tpdu } from '../../src/iso7816/t0.js';
import { parseApdu } from '../../src/iso7816/apdu.js';
import { parseHex, toHex } from '../../src/iso7816/hex.js';
import { PcscError } from '../../src/pcsc/error.js';
import { SCARD } from '../../src/pcsc/constants.js';

const pattern = (n: number, base = 0): Buffer => Buffer.from(Array.from({ length: n }, (_, i) => (i + base) & 0xff));

/**
 * A T=0 card at TPDU level, as an ISO 7816-3 card behaves once the reader has
 * handled procedure bytes: it answers each TPDU with data + SW, keeps pending
 * response data for GET RESPONSE, and says 6Cxx when P3 is wrong for case 2.
 */
class T0Card {
  log: string[] = [];
  pending: Buffer = Buffer.alloc(0);
  envelope: Buffer[] = [];
  file: Buffer = pattern(20);
  async exchange(tpdu: Buffer): Promise<Buffer> {
    this.log.push(toHex(tpdu, ''));
    const [cla, ins, , , p3] = tpdu;
    const sw = (v: number, data: Buffer = Buffer.alloc(0)) => Buffer.concat([data, Buffer.from([v >> 8, v & 0xff])]);
    const giveOrPend = (resp: Buffer): Buffer => {
      this.pending = resp;
      return sw(0x6100 | (resp.length >= 256 ? 0 : resp.length));
    };
    switch (ins) {
      case 0xc0: {
        if (cla !== 0x00 && cla !== 0x01) return sw(0x6e00);
        if (this.pending.length === 0) return sw(0x6985);
        const want = p3 === 0 ? 256 : p3;
        if (want > this.pending.length) return sw(0x6c00 | this.pending.length);
        const out = this.pending.subarray(0, want);
        this.pending = this.pending.subarray(want);
        return this.pending.length ? sw(0x6100 | (this.pending.length >= 256 ? 0 : this.pending.length), out) : sw(0x9000, out);
      }
      case 0xb0: {
        // case 2: needs the exact length
        const want = p3 === 0 ? 256 : p3;
        if (want !== this.file.length) return sw(0x6c00 | this.file.length);
        return sw(0x9000, this.file);
      }
      case 0xa4:
        // case 3 or 4: data accepted, FCI pending
        if (tpdu.length !== 5 + p3) return sw(0x6700);
        return giveOrPend(pattern(40, 0x80));
      case 0xd6:
        return sw(0x9000);
      case 0xca:
        return giveOrPend(pattern(600));
      case 0x20:
        return sw(0x63c2);
      case 0x62:
        return sw(0x6283);
      case 0xee:
        // broken card: GET RESPONSE never ends
        this.pending = Buffer.alloc(1 << 20);
        return sw(0x6110);
      case 0xc2: {
        this.envelope.push(tpdu.subarray(5));
        const whole = Buffer.concat(this.envelope);
        try {
          const a = parseApdu(whole);
          this.envelope = [];
          return giveOrPend(Buffer.concat([Buffer.from([a.data.length >> 8, a.data.length & 0xff]), a.data.subarray(0, 4)]));
        } catch {
          return sw(0x9000);
        }
      }
      default:
        return sw(0x6d00);
    }
  }
}

const run = (card: T0Card, hex: string | Buffer, opts = {}) =>
  transmitT0(typeof hex === 'string' ? parseHex(hex) : hex, (b) => card.exchange(b), opts);

t.test('TPDU mapping', async (t) => {
  t.equal(toHex(apduToT0Tpdu(parseApdu(parseHex('00 A4 00 00')))), '00 A4 00 00 00');
  t.equal(toHex(apduToT0Tpdu(parseApdu(parseHex('00 B0 00 00 00')))), '00 B0 00 00 00');
  t.equal(toHex(apduToT0Tpdu(parseApdu(parseHex('00 A4 04 00 02 3F 00 00')))), '00 A4 04 00 02 3F 00', 'case 4 drops Le');
  t.equal(toHex(apduToT0Tpdu(parseApdu(parseHex('00 B0 00 00 00 01 00')))), '00 B0 00 00 00', '2E goes as P3=00');
  t.throws(() => apduToT0Tpdu(parseApdu(parseHex('00 D6 00 00 00 00 01 AA'))), PcscError);
  t.equal(getResponseClaFor(0x00), 0x00);
  t.equal(getResponseClaFor(0x13), 0x03, 'logical channel kept, chaining bit dropped');
  t.equal(getResponseClaFor(0x0c), 0x00, 'secure messaging bits dropped');
  t.equal(getResponseClaFor(0x80), 0x00, 'proprietary class uses 00');
  t.equal(getResponseClaFor(0x45), 0x45);
});

t.test('case 1 and 3 return the card answer unchanged', async (t) => {
  const c = new T0Card();
  t.equal(toHex(await run(c, '00 D6 00 00 02 AA BB')), '90 00');
  t.same(c.log, ['00D6000002AABB']);
  const c2 = new T0Card();
  t.equal(toHex(await run(c2, '00 A4 04 00 02 3F 00')), '61 28', 'case 3: 61xx left to the application');
  t.equal(toHex(await run(c2, '00 20 00 81')), '63 C2');
});

t.test('case 2: 6Cxx re-issues the header with the right P3', async (t) => {
  const c = new T0Card();
  const r = await run(c, '00 B0 00 00 00');
  t.same([...r], [...pattern(20), 0x90, 0x00]);
  t.same(c.log, ['00B0000000', '00B0000014']);
});

t.test('case 4: sent as case 3 then GET RESPONSE on 61xx', async (t) => {
  const c = new T0Card();
  const r = await run(c, '00 A4 04 00 02 3F 00 00');
  t.same([...r], [...pattern(40, 0x80), 0x90, 0x00]);
  t.same(c.log, ['00A40400023F00', '00C0000028']);
  // Ne smaller than what is available: only Ne bytes are fetched and 61xx tells the rest
  const c2 = new T0Card();
  const r2 = await run(c2, '00 A4 04 00 02 3F 00 10');
  t.equal(r2.length, 16 + 2);
  t.equal(toHex(r2.subarray(16)), '61 18');
  t.same(c2.log, ['00A40400023F00', '00C0000010']);
  // warning after case 4 is returned without GET RESPONSE
  const c3 = new T0Card();
  t.equal(toHex(await run(c3, '00 62 00 00 01 00 00')), '62 83');
});

t.test('long answers accumulate across chained 61xx', async (t) => {
  const c = new T0Card();
  const r = await run(c, '00 CA 00 00 00 00 00');
  t.equal(r.length, 602);
  t.ok(r.subarray(0, 600).equals(pattern(600)));
  t.equal(toHex(r.subarray(600)), '90 00');
  t.same(c.log, ['00CA000000', '00C0000000', '00C0000000', '00C0000058']);
  // short Le = 256 stops at 256 bytes
  const c2 = new T0Card();
  const r2 = await run(c2, '00 CA 00 00 00');
  t.equal(r2.length, 258);
  t.equal(toHex(r2.subarray(256)), '61 00');
});

t.test('6Cxx after GET RESPONSE re-issues GET RESPONSE', async (t) => {
  const c = new T0Card();
  // Card announces 61 00 (256 or more) but only has 600; last GET RESPONSE asks 256 of the remaining 88 -> 6C58
  const r = await run(c, '00 CA 00 00 00 02 58');
  t.equal(r.length, 602);
  t.same(c.log.slice(-2), ['00C0000000', '00C0000058']);
  const c2 = new T0Card();
  c2.pending = pattern(5);
  const r2 = await transmitT0(parseHex('00 C0 00 00 00'), (b) => c2.exchange(b));
  t.equal(toHex(r2), '00 01 02 03 04 90 00');
});

t.test('GET RESPONSE class follows the command class', async (t) => {
  const c = new T0Card();
  await run(c, '01 A4 04 00 02 3F 00 00');
  t.equal(c.log[1], '01C0000028');
  const c2 = new T0Card();
  await run(c2, '80 A4 04 00 02 3F 00 00');
  t.equal(c2.log[1], '00C0000028');
  const c3 = new T0Card();
  const r = await run(c3, '80 A4 04 00 02 3F 00 00', { getResponseCla: 0x80 });
  t.equal(toHex(r), '6E 00');
});

t.test('extended 3E/4E go through ENVELOPE chunks', async (t) => {
  const c = new T0Card();
  const data = pattern(600);
  const apdu = Buffer.concat([parseHex('00 D6 00 00 00 02 58'), data, parseHex('00 00')]);
  const r = await run(c, apdu);
  t.equal(toHex(r), '02 58 00 01 02 03 90 00');
  t.same(
    c.log.map((l) => l.slice(0, 10)),
    ['00C20000FF', '00C20000FF', '00C2000063', '00C0000006'],
  );
});

t.test('loop bound and bad responses', async (t) => {
  const c = new T0Card();
  await t.rejects(run(c, '00 EE 00 00 00 00 00', { maxExchanges: 20 }), { code: SCARD.E_NOT_TRANSACTED, message: /gave up after 20 TPDU exchanges/ });
  t.equal(c.log.length, 20);
  await t.rejects(transmitT0(parseHex('00 B0 00 00 00'), async () => Buffer.from([0x90])), { code: SCARD.E_NOT_TRANSACTED, message: /no status word/ });
  await t.rejects(transmitT0(parseHex('00 B0 00'), async () => Buffer.from([0x90, 0])), { name: 'ApduError' });
});
