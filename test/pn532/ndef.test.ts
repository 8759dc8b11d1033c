/** NDEF codec (src/contactless/ndef.ts): records, TLVs, the HA tag id, and bad bytes (fast-check). */
import t from 'tap';
import fc from 'fast-check';
import { NdefError, encodeNdefMessage, findNdefTlv, homeAssistantTagId, madCrc, parseNdefMessage, readClassicNdef } from '../../src/contactless/ndef.js';
import { Part3Reader } from '../../src/contactless/part3.js';
import { createCard } from '../../drivers/sim/cards/index.js';
import { CardTarget } from '../../drivers/sim/contactless-target.js';
import { classicNdefSpec } from '../helpers/classic-ndef.js';

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

t.test('MIFARE Classic 4K, MAD2: any NDEF sectors among 17-39 beside other applications; a bad MAD2 CRC reported, never thrown', async () => {
  const capacity = (sectors: number[]): number => sectors.reduce((n, s) => n + (s < 32 ? 48 : 240), 0);
  await fc.assert(
    fc.asyncProperty(
      fc.uniqueArray(fc.integer({ min: 17, max: 39 }), { minLength: 1, maxLength: 3 }),
      fc.array(fc.tuple(fc.integer({ min: 17, max: 39 }), fc.integer({ min: 0, max: 0xffff }).filter((a) => a !== 0x03e1)), { maxLength: 6 }),
      fc.string({ maxLength: 300 }),
      fc.boolean(),
      async (picked, others, text, corrupt) => {
        const sectors = [...picked].sort((a, b) => a - b);
        const message = encodeNdefMessage([{ text }]);
        fc.pre(message.length + 5 <= capacity(sectors));
        const otherAids = Object.fromEntries(others.filter(([s]) => !sectors.includes(s)));
        const card = createCard(classicNdefSpec({ type: 'mifare-classic-4k', uid: '0A4B00FF', sectors, message, otherAids, corruptMad2Crc: corrupt }));
        const target = CardTarget.for(card) as CardTarget;
        const reader = new Part3Reader();
        const got = await readClassicNdef((apdu) => reader.transmit(target, apdu), true);
        if (corrupt) {
          if (got.message || !/MAD2 CRC mismatch/.test(got.mad2Error ?? '')) throw new Error(`bad MAD2 CRC not reported: ${JSON.stringify(got)}`);
        } else if (!got.message?.equals(message) || got.mad2Error) {
          throw new Error(`sectors ${sectors.join(',')}: got ${JSON.stringify(got)}`);
        }
      },
    ),
    { numRuns: 150, seed: 13 },
  );
});

t.test('MIFARE Classic 4K whose MAD2 refuses the MAD key: reported, never thrown', async (t) => {
  const spec = classicNdefSpec({ type: 'mifare-classic-4k', uid: '0A4B00FE', sectors: [15, 17], message: encodeNdefMessage([{ text: 'y'.repeat(80) }]) });
  (spec.blocks as Record<number, string>)[67] = 'FFFFFFFFFFFF787788C2FFFFFFFFFFFF'; // sector 16 under the transport key
  const target = CardTarget.for(createCard(spec)) as CardTarget;
  const reader = new Part3Reader();
  t.same(await readClassicNdef((apdu) => reader.transmit(target, apdu), true), { mad2Error: 'MAD2 (sector 16) refused the MAD key: sectors 17-39 not read' });
});
