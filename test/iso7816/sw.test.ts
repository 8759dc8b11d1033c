import t from 'tap';
import { decodeSw, swText, isSwSuccess, isSw1 } from '../../src/iso7816/status-words.js';

t.test('well-known status words', async (t) => {
  t.equal(swText(0x9000), '9000 success');
  t.equal(swText(0x6a, 0x82), '6A82 file or application not found');
  t.equal(swText(Buffer.from([0x01, 0x02, 0x69, 0x82])), '6982 security status not satisfied');
  t.equal(swText(0x6700), '6700 wrong length (Lc or Le)');
  t.equal(swText(0x6d00), '6D00 instruction code not supported or invalid');
  t.equal(swText(0x6e00), '6E00 class not supported');
  t.equal(swText(0x6a86), '6A86 incorrect parameters P1-P2');
  t.equal(decodeSw(0x9000).kind, 'success');
  t.equal(decodeSw(0x6282).kind, 'warning');
  t.equal(decodeSw(0x6a82).kind, 'error');
});

t.test('parametrised status words carry their value', async (t) => {
  const c = decodeSw(0x63c2);
  t.equal(c.value, 2);
  t.match(c.text, /verification failed, 2 retries left/);
  t.match(swText(0x63c1), /1 retry left/);
  t.match(swText(0x63c0), /0 retries left/);
  const m = decodeSw(0x6110);
  t.equal(m.value, 16);
  t.equal(m.kind, 'info');
  t.match(m.text, /more data available \(16 bytes/);
  t.equal(decodeSw(0x6100).value, 256);
  const l = decodeSw(0x6c08);
  t.equal(l.value, 8);
  t.equal(swText(0x6c08), '6C08 wrong Le, 8 expected (re-issue with Le=8)');
  t.equal(decodeSw(0x6c00).value, 256);
});

t.test('every status word decodes to a non-empty text without throwing', async (t) => {
  for (let sw = 0; sw <= 0xffff; sw++) {
    const d = decodeSw(sw);
    if (d.sw !== sw || !d.text || d.hex.length !== 4) t.fail(`bad decode for ${sw.toString(16)}`);
  }
  t.match(swText(0x6a99), /^6A99 wrong parameters P1-P2 \(qualifier 99\)/);
  t.match(swText(0x9100), /proprietary/);
  t.match(swText(0x1234), /unknown/);
  t.throws(() => decodeSw(Buffer.from([0x90])), RangeError);
});

t.test('helpers', async (t) => {
  t.ok(isSwSuccess(0x9000));
  t.ok(isSwSuccess(0x6105));
  t.notOk(isSwSuccess(0x6a82));
  t.ok(isSw1(0x61));
  t.ok(isSw1(0x90));
  t.notOk(isSw1(0x60));
  t.notOk(isSw1(0xa4));
});
