/** NDEF codec (src/contactless/ndef.ts): records, TLVs, the HA tag id, and bad bytes (fast-check). */
import t from 'tap';
import fc from 'fast-check';
import { NdefError, encodeNdefMessage, findNdefTlv, homeAssistantTagId, madCrc, parseNdefMessage } from '../../src/contactless/ndef.js';

t.test('text and URI records round-trip, with their decoded payloads', async (t) => {
  const msg = encodeNdefMessage([{ text: 'Grüße', lang: 'de' }, { uri: 'https://www.home-assistant.io/tag/abc-123' }, { tnf: 2, type: 'application/x-door', payload: Buffer.from([1, 2, 3]), id: 'k' }]);
  const recs = parseNdefMessage(msg);
  t.match(recs, [
    { tnf: 'well-known', type: 'T', lang: 'de', text: 'Grüße' },
    { tnf: 'well-known', type: 'U', uri: 'https://www.home-assistant.io/tag/abc-123', payloadHex: '02686F6D652D617373697374616E742E696F2F7461672F6162632D313233' },
    { tnf: 'media', type: 'application/x-door', id: 'k', payloadHex: '010203' },
  ]);
  t.equal(homeAssistantTagId(recs), 'abc-123');
  t.equal(homeAssistantTagId(parseNdefMessage(encodeNdefMessage([{ uri: 'https://example.org/tag/x' }]))), undefined);
  const long = 'x'.repeat(400);
  t.equal(parseNdefMessage(encodeNdefMessage([{ text: long }]))[0].text, long, 'long record (4-byte payload length)');
});

t.test('TLV walk: NULL and Lock Control skipped, 3-byte length, terminator, a TLV cut short', async (t) => {
  const m = Buffer.from('D1010355046162', 'hex');
  t.same(findNdefTlv(Buffer.concat([Buffer.from('000103A00C34', 'hex'), Buffer.from([0x03, m.length]), m, Buffer.from([0xfe])])).message, m);
  t.same(findNdefTlv(Buffer.concat([Buffer.from([0x03, 0xff, 0x00, m.length]), m])).message, m);
  t.same(findNdefTlv(Buffer.from('FE0307', 'hex')), {});
  t.same(findNdefTlv(Buffer.from([0x03, 10, 1, 2])), { more: 8 });
});

t.test('MAD CRC: the example sector of AN10787 style (CRC over bytes 1..31)', async (t) => {
  const mad = Buffer.alloc(31);
  mad[0] = 0x01;
  mad[1] = 0xe1;
  mad[2] = 0x03;
  const c = madCrc(mad);
  t.ok(c >= 0 && c <= 255);
  mad[5] ^= 1;
  t.not(madCrc(mad), c, 'a changed byte changes the CRC');
});

t.test('bad bytes: NdefError or records, never another exception', async () => {
  fc.assert(
    fc.property(fc.uint8Array({ maxLength: 64 }), (bytes) => {
      try {
        parseNdefMessage(bytes);
      } catch (e) {
        if (!(e instanceof NdefError)) throw e;
      }
      findNdefTlv(bytes);
    }),
    { numRuns: 3000, seed: 13 },
  );
});
