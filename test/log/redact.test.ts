import t from 'tap';
import { createLogger } from '../../src/log/index.js';
import fc from 'fast-check';
import { REDACTED, SECRET_FIELDS, isSecretApdu, redactFields, renderApdu, renderResponse } from '../../src/log/redact.js';
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

t.test('secret fields: in child bindings, arrays, an error\'s own fields, three levels down; the caller\'s objects untouched', async (t) => {
  const cap = new LogCapture();
  const log = createLogger({ level: 'trace', destination: cap.stream });
  const record = { user: 'ana', creds: [{ pin: '9911' }, { note: 'ok' }], a: { b: { c: { secret: 's3cr3t' } } } };
  const before = structuredClone(record);
  log.info(record, 'record');
  t.same(record, before, 'the logged object is not modified');
  log.child({ apiKey: 'k-4242', module: 'm' }).info('from a child');
  const err = Object.assign(new Error('login failed'), { password: 'pw-777' });
  log.error({ err }, 'with an error');
  log.info({ cookie: 'sid=abcd', 'set-cookie': ['sid=efgh'] }, 'cookies');
  // `err` is whatever the caller had: a string and a plain object go through too.
  log.warn({ err: 'just text' }, 'a string as err');
  log.warn({ err: { code: 7, token: 'tk-31' } }, 'an object as err');
  t.equal(cap.lines[4].err, 'just text');
  t.same(cap.lines[5].err, { code: 7, token: REDACTED });
  for (const needle of ['9911', 's3cr3t', 'k-4242', 'pw-777', 'sid=abcd', 'sid=efgh', 'tk-31']) t.notOk(cap.raw.includes(needle), `no ${needle} in the output`);
  t.same(cap.lines[0].creds, [{ pin: REDACTED }, { note: 'ok' }], 'inside an array');
  t.equal(cap.lines[0].user, 'ana', 'other fields kept');
  t.equal(cap.lines[1].apiKey, REDACTED, 'child bindings');
  t.equal(cap.lines[1].module, 'm');
  t.equal((cap.lines[2].err as { message: string; password: string }).password, REDACTED, "an error's own field");
  t.equal((cap.lines[2].err as { message: string }).message, 'login failed');
});

t.test('property: a secret field down to three levels never shows, nothing else changes, the input is not modified', async (t) => {
  const key = fc.string({ minLength: 1, maxLength: 6 }).filter((k) => !SECRET_FIELDS.includes(k) && k !== '__proto__');
  const leaf = fc.oneof(fc.string({ maxLength: 8 }), fc.integer(), fc.boolean(), fc.constant(null));
  const tree = fc.letrec((tie) => ({
    node: fc.oneof({ depthSize: 'small', withCrossShrink: true }, leaf, fc.dictionary(key, tie('node'), { maxKeys: 4 }), fc.array(tie('node'), { maxLength: 3 })),
  })).node;
  // At most two containers below the top, and the one holding the field: the field is at most three levels down.
  const path = fc.array(fc.oneof(key, fc.nat(2)), { maxLength: 2 });
  let runs = 0;
  fc.assert(
    fc.property(fc.dictionary(key, tree, { maxKeys: 4 }), path, fc.constantFrom(...SECRET_FIELDS), (rec, where, field) => {
      // Plant a secret at `where` (made of objects and arrays as the path says), below the top level.
      const secret = `SECRET-${runs++}-VALUE`;
      const root: Record<string, unknown> = structuredClone(rec);
      let at: Record<string, unknown> | unknown[] = root;
      for (const step of where) {
        const next: Record<string, unknown> | unknown[] = typeof step === 'number' ? [] : {};
        if (Array.isArray(at)) at.push(next);
        else at[String(step)] = next;
        at = next;
      }
      if (Array.isArray(at)) at.push({ [field]: secret });
      else at[field] = secret;
      const copy = structuredClone(root);
      const out = redactFields(root);
      if (JSON.stringify(out).includes(secret)) return false;
      if (JSON.stringify(root) !== JSON.stringify(copy)) return false;
      // A record with no secret comes back as the very same object.
      return redactFields(rec) === rec || JSON.stringify(rec).includes('"' + field + '"');
    }),
    { numRuns: 500, seed: 0x51ab },
  );
  t.ok(runs >= 500, `${runs} records checked`);
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
