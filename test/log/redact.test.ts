import t from 'tap';
import { createLogger } from '../../src/log/index.js';
import { isSecretApdu, renderApdu, renderResponse } from '../../src/log/redact.js';
import { parseHex, toHex } from '../../src/iso7816/hex.js';
import { LogCapture } from '../helpers/log-capture.js';
import { lcg } from '../helpers/prng.js';

const h = (s: string): Buffer => parseHex(s);

t.test('VERIFY and friends keep header and lengths, lose their data', async (t) => {
  t.equal(renderApdu(h('00 20 00 81 08 31 32 33 34 FF FF FF FF')), '00 20 00 81 08 <8 bytes redacted>');
  t.equal(renderApdu(h('00 24 00 81 10 31 32 33 34 FF FF FF FF 35 36 37 38 FF FF FF FF')), '00 24 00 81 10 <16 bytes redacted>');
  t.equal(renderApdu(h('00 2C 00 81 10 31 32 33 34 35 36 37 38 31 32 33 34 FF FF FF FF')), '00 2C 00 81 10 <16 bytes redacted>');
  t.equal(renderApdu(h('00 28 00 81 04 31 32 33 34')), '00 28 00 81 04 <4 bytes redacted>');
  t.equal(renderApdu(h('00 26 00 81 04 31 32 33 34')), '00 26 00 81 04 <4 bytes redacted>');
  t.equal(renderApdu(h('00 82 00 00 10 00 11 22 33 44 55 66 77 88 99 AA BB CC DD EE FF')), '00 82 00 00 10 <16 bytes redacted>');
  t.equal(renderApdu(h('00 87 00 9B 04 7C 02 81 00 00')), '00 87 00 9B 04 <4 bytes redacted> 00', 'case 4 keeps Le');
  t.equal(renderApdu(h('00 20 00 81 00 00 04 31 32 33 34')), '00 20 00 81 00 00 04 <4 bytes redacted>', 'extended Lc');
  t.equal(renderApdu(h('00 20 00 81 00 00 04 31 32 33 34 01 00')), '00 20 00 81 00 00 04 <4 bytes redacted> 01 00', 'extended Lc and Le');
  t.equal(renderApdu(h('00 20 00 81 01 31')), '00 20 00 81 01 <1 byte redacted>');
});

t.test('PC/SC part 3 LOAD KEYS and DIRECT TRANSMIT are redacted', async (t) => {
  t.equal(renderApdu(h('FF 82 00 00 06 FF FF FF FF FF FF')), 'FF 82 00 00 06 <6 bytes redacted>');
  t.equal(renderApdu(h('FF 00 00 00 05 D4 40 01 60 04')), 'FF 00 00 00 05 <5 bytes redacted>');
  t.ok(isSecretApdu(h('FF 82 00 00 06 FF FF FF FF FF FF')));
});

t.test('other APDUs are shown in full', async (t) => {
  t.equal(renderApdu(h('00 A4 04 00 07 A0 00 00 00 04 10 10')), '00 A4 04 00 07 A0 00 00 00 04 10 10');
  t.equal(renderApdu(h('FF CA 00 00 00')), 'FF CA 00 00 00');
  t.equal(renderApdu(h('FF B0 00 04 10')), 'FF B0 00 04 10');
  t.equal(renderApdu(h('00 20 00 81')), '00 20 00 81', 'VERIFY without data (retry counter query) has nothing to hide');
  t.notOk(isSecretApdu(h('00 B0 00 00 00')));
});

t.test('a malformed secret-bearing APDU keeps only its header', async (t) => {
  t.equal(renderApdu(h('00 20 00 81 08 31 32 33')), '00 20 00 81 <4 bytes redacted>');
  t.equal(renderApdu(h('00 20 00 81 00 31')), '00 20 00 81 <2 bytes redacted>');
});

t.test('responses to secret-bearing commands lose their data, keep SW', async (t) => {
  t.equal(renderResponse(h('00 87 00 9B 04 7C 02 81 00 00'), h('7C 0A 81 08 01 02 03 04 05 06 07 08 90 00')), '<12 bytes redacted> 90 00');
  t.equal(renderResponse(h('00 20 00 81 04 31 32 33 34'), h('63 C2')), '63 C2');
  t.equal(renderResponse(h('00 B0 00 00 00'), h('01 02 90 00')), '01 02 90 00');
});

t.test('a PIN never appears in log output', async (t) => {
  const cap = new LogCapture();
  const log = createLogger({ level: 'trace', destination: cap.stream });
  const pin = h('31 32 33 34 35 36 FF FF');
  const verify = Buffer.concat([h('00 20 00 81 08'), pin]);
  log.debug({ apdu: verify }, 'transmit');
  log.debug({ exchange: { command: verify, response: h('90 00') }, reader: 'R' }, 'exchange');
  log.child({ module: 'x' }).info({ apdu: verify.toJSON() }, 'as JSON');
  log.info({ pin: '123456', nested: { password: 'hunter2', deeper: { token: 'tok-123', key: 'FFFFFFFFFFFF' } } }, 'fields');
  log.info({ req: { headers: { authorization: 'Bearer abc.def' } } }, 'http');
  const raw = cap.raw;
  for (const needle of ['31 32 33 34', '31323334', '313233343536', '123456', 'hunter2', 'tok-123', 'FFFFFFFFFFFF', 'abc.def']) {
    t.notOk(raw.includes(needle), `log output does not contain ${needle}`);
  }
  t.equal(cap.lines[0].apdu, '00 20 00 81 08 <8 bytes redacted>');
  t.same(cap.lines[1].exchange, { command: '00 20 00 81 08 <8 bytes redacted>', response: '90 00' });
  t.equal(cap.lines[2].apdu, '00 20 00 81 08 <8 bytes redacted>');
  t.equal(cap.lines[3].pin, '[redacted]');
  t.equal((cap.lines[3].nested as { password: string }).password, '[redacted]');
});

t.test('fuzz: any bytes render without throwing, and secret data never shows', async (t) => {
  const rnd = lcg(0x5eed);
  const secretIns = [0x20, 0x24, 0x2c, 0x28, 0x26, 0x82, 0x86, 0x87, 0x2a];
  let checked = 0;
  for (let i = 0; i < 5000; i++) {
    const len = rnd(300);
    const b = Buffer.alloc(len);
    for (let j = 0; j < len; j++) b[j] = rnd(256);
    if (len >= 2 && rnd(2) === 0) b[1] = secretIns[rnd(secretIns.length)];
    const out = renderApdu(b);
    t.equal(typeof out, 'string');
    if (len > 12 && isSecretApdu(b)) {
      // The bytes after the header, as hex, must not be in the output (they may be a PIN).
      const tail = toHex(b.subarray(9, 13));
      if (!toHex(b.subarray(0, 9)).includes(tail)) {
        t.notOk(out.includes(tail), `no data bytes in ${out}`);
        checked++;
      }
    }
  }
  t.ok(checked > 500, `${checked} secret APDUs checked`);
});
