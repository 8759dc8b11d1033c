/**
 * Card formats in osdp_RAW (docs/osdp.md §7). Expected bit strings were
 * computed bit position by bit position (H10304 from its definition: bit 1
 * even over bits 2..19, bit 37 odd over bits 19..36), not with this code.
 */
import t from 'tap';
import { credentialFromUid, decodeCredential } from '../../src/osdp/formats.js';
import { wiegand26, wiegand34 } from '../../src/events/wiegand.js';

const uid = Buffer.from('04a1b2c3', 'hex'); // N = 0xC3B2A104 (lsb-first)

t.test('26, 34, 37, 40 and raw UID', async (t) => {
  t.same(credentialFromUid(uid, 'wiegand26'), { formatCode: 1, bitCount: 26, data: Buffer.from('59508240', 'hex') });
  t.same(credentialFromUid(uid, 'wiegand34'), { formatCode: 1, bitCount: 34, data: Buffer.from('61d9508240', 'hex') });
  t.same(credentialFromUid(uid, 'wiegand37'), { formatCode: 1, bitCount: 37, data: Buffer.from('0c3b2a1040', 'hex') });
  t.same(credentialFromUid(uid, 'wiegand40'), { formatCode: 1, bitCount: 40, data: Buffer.from('8187654208', 'hex') });
  t.same(credentialFromUid(uid, 'uid'), { formatCode: 0, bitCount: 32, data: uid });
  t.equal(credentialFromUid(Buffer.from('0102', 'hex'), 'wiegand26'), undefined, 'too short for a number');
});

t.test('the same numbers as the events of the MQTT/HTTP frontends', async (t) => {
  const w26 = wiegand26(uid)!;
  const d26 = decodeCredential(26, credentialFromUid(uid, 'wiegand26')!.data);
  t.match(d26, { format: 'H10301', facility: w26.facility, card: w26.card, parityOk: true });
  t.equal(parseInt(w26.frame, 16), 0x1654209);
  const w34 = wiegand34(uid)!;
  t.match(decodeCredential(34, credentialFromUid(uid, 'wiegand34')!.data), { format: 'wiegand34', facility: w34.facility, card: w34.card });
  t.match(decodeCredential(37, credentialFromUid(uid, 'wiegand37')!.data), { format: 'H10304', facility: 6262, card: 172292 });
  t.match(decodeCredential(40, credentialFromUid(uid, 'wiegand40')!.data), { format: 'wiegand40', facility: 0, card: 0xc3b2a104 });
  t.match(decodeCredential(32, uid), { format: 'raw', bits: 32, hex: '04A1B2C3' });
});

t.test('a flipped bit never yields a card number', async (t) => {
  for (const [fmt, bits] of [['wiegand26', 26], ['wiegand34', 34], ['wiegand37', 37], ['wiegand40', 40]] as const) {
    const c = credentialFromUid(uid, fmt)!;
    for (let i = 0; i < bits; i++) {
      const d = Buffer.from(c.data);
      d[i >> 3] ^= 0x80 >> (i & 7);
      const r = decodeCredential(bits, d);
      t.equal(r.card, undefined, `${fmt} bit ${i}`);
      if (r.card !== undefined) break;
    }
  }
});
