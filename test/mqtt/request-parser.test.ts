import t from 'tap';
import { parseRequest } from '../../src/api/mqtt/requests.js';
import { METHODS, topicSegment, isPublishableTopic, topicsFor } from '../../src/api/mqtt/topics.js';
import { lcg } from '../helpers/prng.js';
import { checkOperation, checkParams } from '../../src/gateway/validate.js';
import { errorBody } from '../../src/gateway/errors.js';
import { SCARD } from '../../src/pcsc/constants.js';

t.test('the transaction is picked out; the parameters go to the gateway as sent', async (t) => {
  const r = parseRequest('transmit', Buffer.from('{"reader":"r","apdus":["00 84 00 00 08"],"transaction":"x"}'), 65536);
  t.ok(r.ok);
  if (r.ok) {
    t.equal(r.transaction, 'x');
    t.same(r.params, { reader: 'r', apdus: ['00 84 00 00 08'] });
  }
  const big = parseRequest('readers', Buffer.alloc(200, 0x20), 100);
  t.match(big, { ok: false, error: { code: SCARD.E_INVALID_PARAMETER, name: 'SCARD_E_INVALID_PARAMETER', message: /payload is 200 bytes, over the 100-byte limit/ } });
  t.ok(parseRequest('readers', Buffer.alloc(0), 100).ok, 'an empty payload means no parameters');
});

t.test('fuzz: random bytes and mutated valid requests never throw and always say why', async (t) => {
  const rnd = lcg(42);
  const valid = [
    '{"reader":"Simulated Reader 00 00","apdus":["00A4040007A0000000031010"],"transaction":1}',
    '{"session":"abc","apdus":["0084000008"]}',
    '{"reader":"r","code":1107299656,"data":"01 02"}',
    '{"reader":"r","led":"green","buzzer":{"ms":100}}',
    '{"reader":"r","card":{"type":"iso7816"}}',
  ];
  let errors = 0;
  for (let i = 0; i < 5000; i++) {
    const method = rnd(10) === 0 ? 'x/' + rnd(100) : METHODS[rnd(METHODS.length)];
    let buf: Buffer;
    if (rnd(2)) {
      buf = Buffer.alloc(rnd(64));
      for (let k = 0; k < buf.length; k++) buf[k] = rnd(256);
    } else {
      buf = Buffer.from(valid[rnd(valid.length)]);
      for (let k = rnd(4); k > 0; k--) buf[rnd(buf.length)] = rnd(128);
    }
    const r = parseRequest(method, buf, 1024);
    let error = r.ok ? undefined : r.error;
    if (r.ok) {
      try {
        await checkParams(checkOperation(r.method), r.params);
      } catch (e) {
        error = errorBody(e);
      }
    }
    if (error) {
      errors++;
      if (error.code !== SCARD.E_INVALID_PARAMETER || error.message.length < 30) t.fail(`no explanation for ${method} ${buf.toString('hex')}: ${JSON.stringify(error)}`);
    }
  }
  t.ok(errors > 0, `${errors} refused with a reason`);
});

t.test('topic segments are always publishable levels', async (t) => {
  const names = ['ACS ACR122U PICC Interface 00 00', 'a/b', '+', '#', '', ' ', '////', 'Lecteur é 00 00', '\u0000x', 'a'.repeat(500)];
  for (const n of names) {
    const seg = topicSegment(n);
    t.ok(isPublishableTopic(topicsFor('scardgate', 'gw').readerState(seg)), `${JSON.stringify(n)} -> ${seg}`);
    t.notMatch(seg, /[+#/\s]/);
  }
  t.notOk(isPublishableTopic('a//b'));
  t.notOk(isPublishableTopic('a/+/b'));
  t.notOk(isPublishableTopic('a/#'));
});
