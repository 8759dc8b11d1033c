import t from 'tap';
import { createCard, decodeAccessBits, encodeAccessBits, MifareClassicCard, MifareUltralightCard, Iso14443Card, sectorOf, trailerOf } from '../../drivers/sim/cards/index.js';
import { CardTarget } from '../../drivers/sim/contactless-target.js';
import { Part3Reader, contactlessAtr, classifyTypeA, atsHistoricalBytes, ContactlessError, type ContactlessTarget } from '../../src/contactless/part3.js';
import { parseAtr } from '../../src/iso7816/atr.js';
import { PcscError } from '../../src/pcsc/error.js';
import { SCARD } from '../../src/pcsc/constants.js';
import { h, hx } from './helpers.js';

/** A part 3 session over a card model, as the sim reader runs it. */
function session(spec: unknown) {
  const card = createCard(spec);
  const target = CardTarget.for(card) as CardTarget;
  const reader = new Part3Reader();
  const x = async (cmd: string): Promise<string> => hx(await reader.transmit(target, h(cmd)));
  return { card, target, reader, x };
}

const FFx6 = 'FFFFFFFFFFFF';

t.test('PC/SC part 3 ATRs (hardware.md §2.2)', async (t) => {
  t.equal(hx(createCard('mifare-classic-1k').atr), '3B8F8001804F0CA000000306030001000000006A');
  t.equal(hx(createCard('mifare-classic-4k').atr), '3B8F8001804F0CA0000003060300020000000069');
  t.equal(hx(createCard('mifare-ultralight').atr), '3B8F8001804F0CA0000003060300030000000068');
  t.equal(hx(createCard('iso14443-4').atr), '3B8180018080', 'DESFire-like ATS, historical byte 80');
  for (const type of ['mifare-classic-1k', 'mifare-classic-4k', 'mifare-ultralight', 'iso14443-4']) {
    const c = createCard(type);
    const p = parseAtr(c.atr);
    t.same(p.errors, [], `${type} ATR parses`);
    t.equal(p.tckValid, true);
    t.ok(c.info.contactless);
    t.same(contactlessAtr({ sak: c.info.sak as number, atqa: c.info.atqa as Buffer, ats: c.info.ats }), c.atr, `${type}: contactlessAtr from SAK/ATQA/ATS agrees`);
    t.equal(classifyTypeA(c.info.sak as number, c.info.atqa as Buffer, c.info.ats !== undefined), type);
  }
  t.same(parseAtr(createCard('mifare-classic-1k').atr).historicalInfo?.contactless?.cardName, 0x0001);
  t.equal(hx(atsHistoricalBytes(h('787780028031'))), '8031', 'TA TB TC skipped');
  t.equal(hx(atsHistoricalBytes(h('05'))), '', 'no interface bytes, no history');
});

t.test('card info: UID, ATQA, SAK per type and UID length', async (t) => {
  const c1 = createCard({ type: 'mifare-classic-1k', uid: '01020304' });
  t.same(c1.info, { contactless: true, uid: h('01020304'), atqa: h('0004'), sak: 0x08, type: 'mifare-classic-1k' });
  const c7 = createCard({ type: 'mifare-classic-1k', uid: '04112233445566' });
  t.same(c7.info.atqa, h('0044'));
  const c4k = createCard('mifare-classic-4k');
  t.same(c4k.info.atqa, h('0002'));
  t.equal(c4k.info.sak, 0x18);
  const ul = createCard('mifare-ultralight');
  t.equal(ul.info.sak, 0);
  t.same(ul.info.atqa, h('0044'));
  t.equal(ul.info.uid?.length, 7);
  const iso = createCard({ type: 'iso14443-4', uid: '01020304' });
  t.same(iso.info.atqa, h('0004'));
  t.equal(iso.info.sak, 0x20);
  t.same(iso.info.ats, h('7577810280'));
});

t.test('access bits codec (MF1S50 §8.7)', async (t) => {
  t.same(decodeAccessBits(0xff, 0x07, 0x80), [0, 0, 0, 1], 'transport configuration FF 07 80');
  t.same(encodeAccessBits([0, 0, 0, 1]), h('FF0780'));
  for (let g = 0; g < 4096; g += 37) {
    const groups = [g & 7, (g >> 3) & 7, (g >> 6) & 7, (g >> 9) & 7];
    const b = encodeAccessBits(groups);
    t.same(decodeAccessBits(b[0], b[1], b[2]), groups);
  }
  t.equal(decodeAccessBits(0xff, 0x07, 0x81), undefined, 'inverted copy disagrees');
});

t.test('MIFARE Classic native operations', async (t) => {
  const c = createCard({ type: 'mifare-classic-1k', uid: '01020304' }) as MifareClassicCard;
  t.equal(hx(c.memory.subarray(0, 8)), '0102030404080400', 'block 0: UID, BCC, SAK, ATQA LSB first');
  t.same(c.read(4), { ok: false, failure: 'not-authenticated' });
  t.same(c.read(4), { ok: false, failure: 'halted' }, 'halted after a NAK until selected again');
  c.select();
  t.same(c.authenticate(4, 'A', h('000000000000')), { ok: false, failure: 'auth-failed' });
  t.ok(c.isHalted);
  c.select();
  t.ok(c.authenticate(4, 'A', h(FFx6)).ok);
  t.same(c.read(5), { ok: true, value: Buffer.alloc(16) });
  t.ok(c.write(5, h('00112233445566778899AABBCCDDEEFF')).ok);
  t.equal(hx((c.read(5) as { value: Buffer }).value), '00112233445566778899AABBCCDDEEFF');
  const tr = c.read(7);
  t.equal(hx((tr as { value: Buffer }).value), '000000000000FF078069FFFFFFFFFFFF', 'trailer: key A hidden, key B readable in transport config');
  t.same(c.read(8), { ok: false, failure: 'not-authenticated' }, 'other sector');
  c.select();
  t.ok(c.authenticate(0, 'A', h(FFx6)).ok);
  t.same(c.write(0, Buffer.alloc(16)), { ok: false, failure: 'access-denied' }, 'block 0 is read-only');
  c.select();
  t.same(c.authenticate(64, 'A', h(FFx6)), { ok: false, failure: 'no-such-block' });
  c.select();
  t.ok(c.authenticate(63, 'A', h(FFx6)).ok, 'last sector of a 1K');
  t.same(c.write(5, Buffer.alloc(15)), { ok: false, failure: 'bad-value' }, 'short write');
  t.equal(sectorOf(200), 36);
  t.equal(trailerOf(36), 207);
});

t.test('MIFARE Classic access conditions: keys A/B, read-only sectors, trailer rights', async (t) => {
  const keyA = 'A0A1A2A3A4A5';
  const keyB = 'B0B1B2B3B4B5';
  // Sector 1: data blocks 100 (read A|B, write B), trailer 011 (key B writes keys and access bits; key B not readable).
  const access = hx(encodeAccessBits([4, 4, 4, 3]));
  // Sector 2: data 010 (read-only), trailer 110 (nothing writable).
  const ro = hx(encodeAccessBits([2, 2, 2, 6]));
  const c = createCard({
    type: 'mifare-classic-1k',
    blocks: { 7: `${keyA}${access}69${keyB}`, 11: `${keyA}${ro}00${keyB}`, 12: '11'.repeat(16) },
  }) as MifareClassicCard;
  t.ok(c.authenticate(4, 'A', h(keyA)).ok);
  t.ok(c.read(4).ok, 'key A reads');
  t.same(c.write(4, Buffer.alloc(16, 1)), { ok: false, failure: 'access-denied' }, 'key A may not write');
  c.select();
  t.ok(c.authenticate(4, 'B', h(keyB)).ok);
  t.ok(c.write(4, Buffer.alloc(16, 1)).ok, 'key B writes');
  const tr = (c.read(7) as { value: Buffer }).value;
  t.equal(hx(tr), `000000000000${access}69000000000000`, 'key B not readable: zeros');
  // Key B rewrites the keys: both change.
  t.ok(c.write(7, h(`C0C1C2C3C4C5${access}69D0D1D2D3D4D5`)).ok);
  c.select();
  t.same(c.authenticate(4, 'A', h(keyA)), { ok: false, failure: 'auth-failed' }, 'old key A gone');
  c.select();
  t.ok(c.authenticate(4, 'A', h('C0C1C2C3C4C5')).ok, 'new key A');
  t.same(c.write(7, h(`000000000000${access}69000000000000`)), { ok: false, failure: 'access-denied' }, 'key A cannot write this trailer');
  c.select();
  t.ok(c.authenticate(8, 'A', h(keyA)).ok);
  t.ok(c.read(8).ok);
  t.same(c.write(8, Buffer.alloc(16)), { ok: false, failure: 'access-denied' }, 'read-only sector');
  c.select();
  t.ok(c.authenticate(8, 'B', h(keyB)).ok);
  t.same(c.write(11, h(`${FFx6}FF078069${FFx6}`)), { ok: false, failure: 'access-denied' }, 'trailer 110: nothing writable');
  // Transport sector: key B is readable, so authenticating with it makes the card refuse access.
  c.select();
  t.ok(c.authenticate(16, 'B', h(FFx6)).ok);
  t.same(c.read(16), { ok: false, failure: 'access-denied' }, 'readable key B is no key');
  // Corrupt access bits block the sector for good.
  c.select();
  t.ok(c.authenticate(20, 'A', h(FFx6)).ok);
  t.ok(c.write(23, h(`${FFx6}FF078169${FFx6}`)).ok, 'the card accepts a corrupt trailer');
  c.select();
  t.ok(c.authenticate(20, 'A', h(FFx6)).ok);
  t.same(c.read(20), { ok: false, failure: 'access-denied' }, 'sector blocked');
});

t.test('MIFARE Classic value blocks', async (t) => {
  const c = createCard({ type: 'mifare-classic-1k', blocks: { 4: hx(MifareClassicCard.encodeValue(100, 4)) } }) as MifareClassicCard;
  t.ok(c.authenticate(4, 'A', h(FFx6)).ok);
  t.ok(c.increment(4, 5).ok);
  t.ok(c.transfer(4).ok);
  t.equal(MifareClassicCard.decodeValue((c.read(4) as { value: Buffer }).value), 105);
  t.ok(c.decrement(4, 10).ok);
  t.ok(c.transfer(5).ok);
  t.equal(MifareClassicCard.decodeValue((c.read(5) as { value: Buffer }).value), 95);
  t.same(c.increment(6, 1), { ok: false, failure: 'bad-value' }, 'not a value block');
});

t.test('MIFARE Classic 4K geometry: 16-block sectors', async (t) => {
  const c = createCard('mifare-classic-4k') as MifareClassicCard;
  t.equal(c.memory.length, 4096);
  t.ok(c.authenticate(200, 'A', h(FFx6)).ok);
  t.ok(c.write(206, Buffer.alloc(16, 6)).ok, 'block 206 is data in sector 36');
  t.equal(hx((c.read(207) as { value: Buffer }).value).slice(12, 20), 'FF078069', 'block 207 is its trailer');
  t.same(c.read(208), { ok: false, failure: 'not-authenticated' });
});

t.test('MIFARE Ultralight pages, lock and OTP bits', async (t) => {
  const c = createCard({ type: 'mifare-ultralight', uid: '04112233445566', pages: { 4: 'DEADBEEF' } }) as MifareUltralightCard;
  const p0 = (c.read(0) as { value: Buffer }).value;
  t.equal(hx(p0.subarray(0, 9)), `041122${(0x88 ^ 0x04 ^ 0x11 ^ 0x22).toString(16).toUpperCase()}33445566${(0x33 ^ 0x44 ^ 0x55 ^ 0x66).toString(16).toUpperCase().padStart(2, '0')}`);
  t.equal(hx((c.read(4) as { value: Buffer }).value.subarray(0, 4)), 'DEADBEEF');
  t.equal(hx((c.read(15) as { value: Buffer }).value.subarray(4, 8)), hx(p0.subarray(0, 4)), 'read rolls over to page 0');
  t.same(c.write(0, Buffer.alloc(4)), { ok: false, failure: 'access-denied' });
  t.same(c.read(16), { ok: false, failure: 'no-such-block' });
  t.ok(c.write(3, h('01000000')).ok);
  t.ok(c.write(3, h('02000000')).ok);
  t.equal(hx((c.read(3) as { value: Buffer }).value.subarray(0, 4)), '03000000', 'OTP bits only set');
  t.ok(c.write(2, h('0000F000')).ok, 'lock pages 4-7');
  t.same(c.write(5, Buffer.alloc(4)), { ok: false, failure: 'access-denied' });
  t.ok(c.write(8, h('01020304')).ok, 'page 8 still open');
});

t.test('part 3 over MIFARE Classic: FF CA, FF 82, FF 86, FF 88, FF B0, FF D6 with status words', async (t) => {
  const { x } = session({ type: 'mifare-classic-1k', uid: '01020304' });
  t.equal(await x('FFCA000000'), '010203049000', 'UID, Le 00 = full length');
  t.equal(await x('FFCA000004'), '010203049000');
  t.equal(await x('FFCA000002'), '6C04', 'Le too short: 6C with the length');
  t.equal(await x('FFCA000008'), '010203046282', 'Le too long: data + 62 82');
  t.equal(await x('FFCA010000'), '6A81', 'no ATS on a MIFARE Classic');
  t.equal(await x('FFCA000100'), '6A86');
  t.equal(await x('FFCA020000'), '6A86');
  t.equal(await x('FFB0000410'), '6982', 'read before authentication');
  t.equal(await x('FF860000050100046000'), '6988', 'key slot never loaded');
  t.equal(await x(`FF82000006${FFx6}`), '9000');
  t.equal(await x('FF82000005FFFFFFFFFF'), '6989', 'key of 5 bytes');
  t.equal(await x(`FF82800006${FFx6}`), '6983', 'reader keys not supported');
  t.equal(await x(`FF82400006${FFx6}`), '6985', 'secured transmission not supported');
  t.equal(await x(`FF82010006${FFx6}`), '6A86');
  t.equal(await x(`FF82006006${'000000000000'}`), '9000', 'any slot number (SCM style 60)');
  t.equal(await x('FF860000050100046060'), '6300', 'wrong key');
  t.equal(await x('FF860000050100046200'), '6986', 'key type 62');
  t.equal(await x('FF860000050200046000'), '6A80', 'version 02');
  t.equal(await x('FF8600000401000460'), '6700', 'short data');
  t.equal(await x('FF860000050100046000'), '9000', 'key A from slot 0');
  t.equal(await x('FFB0000410'), '000000000000000000000000000000009000');
  t.equal(await x('FFB0000400'), '000000000000000000000000000000009000', 'Le 00: the whole block');
  t.equal(await x('FFB0000408'), '6C10', 'Le 8');
  t.equal(await x('FFB00004'), '6700', 'no Le');
  t.equal(await x('FFD6000410 00112233445566778899AABBCCDDEEFF'.replace(/ /g, '')), '9000');
  t.equal(await x('FFB0000410'), '00112233445566778899AABBCCDDEEFF9000');
  t.equal(await x('FFD600040F 00112233445566778899AABBCCDDEE'.replace(/ /g, '')), '6700', '15 bytes');
  t.equal(await x('FFB0000810'), '6982', 'sector 2 not authenticated');
  t.equal(await x('FF880008 6000'.replace(/ /g, '')), '9000', 'legacy FF 88 authenticate');
  t.equal(await x('FFB0000810'), '000000000000000000000000000000009000');
  t.equal(await x('FF860000050100406000'), '6A82', 'block 64 does not exist on a 1K');
  t.equal(await x('FF00000002D402'), '6A81', 'direct transmit is not for the sim reader');
  t.equal(await x('00A4040000'), '6E00', 'no APDUs for a storage card');
  t.equal(await x('FFCA'), '6700', 'malformed');
});

t.test('part 3 over MIFARE Ultralight', async (t) => {
  const { x } = session({ type: 'mifare-ultralight', uid: '04112233445566', pages: { 4: 'DEADBEEF' } });
  t.equal(await x('FFCA000000'), '041122334455669000');
  t.equal((await x('FFB0000410')).slice(0, 8), 'DEADBEEF');
  t.equal(await x('FFB0000404'), 'DEADBEEF9000', 'one page');
  t.equal(await x('FFD6000504 01020304'.replace(/ /g, '')), '9000');
  t.equal(await x('FFB0000504'), '010203049000');
  t.equal(await x('FFD6000510 '.trim() + '00'.repeat(16)), '6700', 'Ultralight pages are 4 bytes');
  t.equal(await x('FFD6000004 00000000'.replace(/ /g, '')), '6982', 'UID pages');
  t.equal(await x('FFB0001010'), '6A82', 'page 16');
  t.equal(await x(`FF82000006${FFx6}`), '9000');
  t.equal(await x('FF860000050100046000'), '6981', 'Ultralight has no authentication');
});

t.test('part 3 over ISO 14443-4: FF CA 01 gives the ATS historical bytes, APDUs reach the card', async (t) => {
  const { x } = session({ type: 'iso14443-4', uid: '04112233445566', ats: '787780028031B8' });
  t.equal(await x('FFCA000000'), '041122334455669000');
  t.equal(await x('FFCA010000'), '8031B89000');
  t.equal(await x('00A4040C0AF0736361726467617465'), '9000', 'the ISO 7816-4 application answers');
  t.equal(await x('00B0810005'), '48656C6C6F9000');
  t.equal(await x('FFB0000410'), '6981', 'no storage commands on an ISO 14443-4 card');
  const c = createCard({ type: 'iso14443-4', ats: '787780028031B8' }) as Iso14443Card;
  t.equal(hx(c.atr), hx(Buffer.from([0x3b, 0x83, 0x80, 0x01, 0x80, 0x31, 0xb8, 0x3b ^ 0x3b ^ 0x83 ^ 0x80 ^ 0x01 ^ 0x80 ^ 0x31 ^ 0xb8])));
});

t.test('part 3 passes transport errors through and maps target refusals', async (t) => {
  const gone: ContactlessTarget = {
    uid: h('01020304'),
    storage: { blockSize: 16, readSize: 16, needsAuth: true },
    authenticate: async () => {
      throw new ContactlessError('no-response');
    },
    readBlock: async () => {
      throw new PcscError(SCARD.E_NO_SMARTCARD);
    },
    writeBlock: async () => {
      throw new ContactlessError('access-denied');
    },
  };
  const r = new Part3Reader();
  await r.transmit(gone, h(`FF82000006${FFx6}`));
  t.equal(hx(await r.transmit(gone, h('FF860000050100046000'))), '6300', 'no answer: 63 00');
  await t.rejects(r.transmit(gone, h('FFB0000410')), { code: SCARD.E_NO_SMARTCARD }, 'card gone: the PcscError reaches the caller');
  t.equal(hx(await r.transmit(gone, h(`FFD6000410${'00'.repeat(16)}`))), '6982');
  t.equal(r.loadedKeyCount(), 1);
  r.clearKeys();
  t.equal(r.loadedKeyCount(), 0);
});

t.test('contactless spec validation', async (t) => {
  t.throws(() => createCard({ type: 'mifare-classic-1k', uid: '010203' }), /uid must be 4 or 7 bytes, got 3/);
  t.throws(() => createCard({ type: 'mifare-classic-1k', blocks: { 0: '00'.repeat(16) } }), /blocks\.0 is the manufacturer block/);
  t.throws(() => createCard({ type: 'mifare-classic-1k', blocks: { 64: '00'.repeat(16) } }), /block number 0\.\.63/);
  t.throws(() => createCard({ type: 'mifare-classic-1k', blocks: { 4: '00' } }), /blocks\.4 must be 16 bytes, got 1/);
  t.throws(() => createCard({ type: 'mifare-classic-1k', keyA: '00' }), /keyA must be 6 bytes/);
  t.throws(() => createCard({ type: 'mifare-ultralight', uid: '01020304' }), /uid must be 7 bytes/);
  t.throws(() => createCard({ type: 'mifare-ultralight', pages: { 1: '00000000' } }), /page number 2\.\.15/);
  t.throws(() => createCard({ type: 'mifare-classic-1k', pin: '1' }), /unknown key "pin"/);
  const c = createCard({ type: 'mifare-classic-1k', keyA: 'A0A1A2A3A4A5' }) as MifareClassicCard;
  t.notOk(c.authenticate(4, 'A', h(FFx6)).ok);
  c.select();
  t.ok(c.authenticate(4, 'A', h('A0A1A2A3A4A5')).ok, 'keyA applies to every sector');
  t.same(JSON.parse(JSON.stringify(c.spec)), { type: 'mifare-classic-1k', keyA: 'A0A1A2A3A4A5', uid: '5CA7D601' });
});

t.test('contactless cards take either protocol their part 3 ATR offers', async (t) => {
  for (const type of ['mifare-classic-1k', 'mifare-ultralight', 'iso14443-4']) {
    const c = createCard(type);
    t.same(parseAtr(c.atr).protocols, [0, 1], `${type} ATR offers T=0 and T=1`);
    t.equal(c.protocols, 3);
  }
});

t.test('every card spec round-trips through JSON to an equal card', async (t) => {
  const { CARD_TYPES } = await import('../../drivers/sim/cards/index.js');
  for (const type of CARD_TYPES) {
    const a = createCard(type);
    const b = createCard(JSON.parse(JSON.stringify(a.spec)));
    t.same(b.atr, a.atr, `${type}: same ATR`);
    t.same(b.info, a.info, `${type}: same card info`);
    t.same(b.spec, a.spec, `${type}: same spec`);
  }
});
