import t from 'tap';
import { createCard, CardSpecError, DEFAULT_T1_ATR, DEFAULT_T0_ATR, DEMO_AID } from '../../drivers/sim/cards/index.js';
import { parseAtr } from '../../src/iso7816/atr.js';
import { PROTOCOL, SCARD } from '../../src/pcsc/constants.js';
import { ex, swOf, dataOf } from './helpers.js';

const AID = DEMO_AID.replace(/ /g, '');
const selectApp = `00A4040C0A${AID}`;

t.test('ATRs parse cleanly and offer the right protocol', async (t) => {
  const t1 = parseAtr(DEFAULT_T1_ATR);
  t.same(t1.errors, []);
  t.same(t1.protocols, [1]);
  t.equal(t1.tckValid, true);
  t.equal(t1.t1?.ifsc, 254);
  const t0 = parseAtr(DEFAULT_T0_ATR);
  t.same(t0.errors, []);
  t.same(t0.protocols, [0]);
  const c1 = createCard('iso7816');
  t.equal(c1.protocols, PROTOCOL.T1);
  t.equal(c1.interface, 'apdu');
  t.same(c1.atr, DEFAULT_T1_ATR);
  const c0 = createCard({ type: 'iso7816-t0' });
  t.equal(c0.protocols, PROTOCOL.T0);
  t.equal(c0.interface, 'tpdu-t0');
  t.equal(c0.info.contactless, false);
});

t.test('SELECT by AID, FID and path; FCP/FCI', async (t) => {
  const c = createCard('iso7816');
  t.equal(ex(c, selectApp), '9000', 'select by DF name, no response data');
  const fci = ex(c, `00A404000A${AID}00`);
  t.equal(swOf(fci), '9000');
  t.match(dataOf(fci), new RegExp(`^6F..82013883025000840A${AID}8A0105$`), 'FCI template 6F with DF descriptor, FID, name');
  t.equal(ex(c, '00A4040C05F073636172'), '9000', 'right-truncated DF name');
  t.equal(ex(c, '00A4040C05A000000001'), '6A82', 'unknown AID');
  t.equal(ex(c, '00A4040E05F073636172'), '6A82', 'next occurrence: none after the only match');
  const fcp = ex(c, '00A4000402500100');
  t.equal(fcp, '621180020040820101830250018801088A01059000', 'FCP of EF 5001: size 64, transparent, FID, SFI 1');
  t.equal(ex(c, '00A4000C023F00'), '9000', 'MF by FID');
  t.equal(ex(c, '00A4000C00'), '9000', 'MF with empty data');
  t.equal(ex(c, '00A4080C0450005002'), '9000', 'path from MF');
  t.equal(ex(c, '00A4080C06 3F00 5000 5003'.replace(/ /g, '')), '9000', 'path from MF, with 3F00 included');
  t.equal(ex(c, '00A4080C045000 9999'.replace(/ /g, '')), '6A82', 'path to a missing file');
  t.equal(ex(c, '00A4080C0450015000'), '6A82', 'path through an EF');
  t.equal(ex(c, '00A4000C025000'), '9000', 'DF by FID');
  t.equal(ex(c, '00A4090C025001'), '9000', 'path from current DF');
  t.equal(ex(c, '00A4030C'), '9000', 'parent DF');
  t.equal(ex(c, '00A4030C'), '6A82', 'MF has no parent');
  t.equal(ex(c, '00A4010C025000'), '9000', 'child DF');
  t.equal(ex(c, '00A4010C025001'), '6A82', '5001 is an EF, not a DF');
  t.equal(ex(c, '00A4020C025002'), '9000', 'EF under current DF');
  t.equal(ex(c, '00A4070C025002'), '6A86', 'unknown P1');
  t.equal(ex(c, '00A400FC025002'), '6A86', 'P2 with RFU bits');
  t.equal(ex(c, '00A4000C03500100'), '6700', 'FID of 3 bytes');
  t.equal(ex(c, '00A4000802500100'), '64009000', 'FMD requested');
});

t.test('READ BINARY: offsets, short reads, SFI, access', async (t) => {
  const c = createCard('iso7816');
  t.equal(ex(c, '00B0000010'), '6986', 'no current EF');
  ex(c, selectApp);
  t.equal(ex(c, '00A4020C025001'), '9000');
  t.equal(ex(c, '00B0000005'), '48656C6C6F9000', '"Hello"');
  t.equal(ex(c, '00B0000605'), '66726F6D209000', 'offset 6');
  const tail = ex(c, '00B0003C10');
  t.equal(tail, '000000006282', 'fewer bytes than Le: data + 62 82');
  t.equal(ex(c, '00B0004001'), '6B00', 'offset = size');
  t.equal(ex(c, '00B07FFF01'), '6B00', 'offset far beyond');
  t.equal(ex(c, '00B00000'), '6700', 'no Le');
  const sfi3 = ex(c, '00B0830010');
  t.equal(sfi3, '000102030405060708090A0B0C0D0E0F9000', 'SFI 3 selects 5003 and reads');
  t.equal(ex(c, '00B0000210'), '02030405060708090A0B0C0D0E0F10119000', 'SFI read made 5003 current');
  t.equal(ex(c, '00B09F0001'), '6A82', 'unknown SFI');
  t.equal(ex(c, '00B0E00001'), '6A86', 'SFI with RFU bits');
  t.equal(ex(c, '00A4020C025002'), '9000');
  t.equal(ex(c, '00B0000004'), '6982', 'secret EF needs the PIN');
  t.equal(ex(c, '00200081 04 31323334'.replace(/ /g, '')), '9000');
  t.equal(ex(c, '00B000000A'), '746F70207365637265749000', '"top secret" after VERIFY');
  // extended Le: the whole 300-byte file in one response
  ex(c, '00A4020C025003');
  const big = ex(c, '00B00000000000');
  t.equal(dataOf(big).length, 600);
  t.equal(swOf(big), '6282', 'Ne 65536 > 300 bytes: 62 82');
});

t.test('UPDATE BINARY: access, bounds, persistence across reset', async (t) => {
  const c = createCard('iso7816');
  ex(c, selectApp);
  ex(c, '00A4020C025001');
  t.equal(ex(c, '00D6000002AABB'), '6982', 'update needs the PIN');
  ex(c, '002000810431323334');
  t.equal(ex(c, '00D6000002AABB'), '9000');
  t.equal(ex(c, '00B0000003'), 'AABB6C9000');
  t.equal(ex(c, '00D6003F02AABB'), '6700', 'write past the end');
  t.equal(ex(c, '00D6004001AA'), '6B00', 'offset beyond');
  t.equal(ex(c, '00D60000'), '6700', 'no data');
  ex(c, '00A4020C025003');
  t.equal(ex(c, '00D6000001AA'), '6982', 'never-writable EF');
  c.reset();
  ex(c, selectApp);
  ex(c, '00A4020C025001');
  t.equal(ex(c, '00B0000002'), 'AABB9000', 'data survives a reset');
  t.equal(ex(c, '00D6000001CC'), '6982', 'PIN status does not survive a reset');
});

t.test('VERIFY retry counter, blocking, CHANGE REFERENCE DATA, RESET RETRY COUNTER', async (t) => {
  const c = createCard('iso7816');
  t.equal(ex(c, '00200081'), '63C3', 'case 1 VERIFY returns the counter');
  t.equal(ex(c, '0020008104 30303030'.replace(/ /g, '')), '63C2', 'wrong PIN');
  t.equal(ex(c, '0020008104 31323334'.replace(/ /g, '')), '9000', 'right PIN resets the counter');
  t.equal(ex(c, '00200081'), '9000', 'case 1 after success: verified');
  t.equal(ex(c, '0020FF81'), '9000', 'P1=FF resets the verification status');
  t.equal(ex(c, '00200081'), '63C3');
  t.equal(ex(c, '00200082'), '6A88', 'unknown reference');
  t.equal(ex(c, '0020018104 31323334'.replace(/ /g, '')), '6A86', 'P1 must be 00');
  t.equal(ex(c, `00200081 11 ${'31'.repeat(17)}`.replace(/ /g, '')), '6A80', 'PIN too long: format error, no try used');
  t.equal(ex(c, '00200081'), '63C3');
  ex(c, '002000810131');
  ex(c, '002000810131');
  t.equal(ex(c, '002000810131'), '63C0', 'third wrong try: counter 0');
  t.equal(ex(c, '002000810431323334'), '6983', 'blocked, even with the right PIN');
  t.equal(ex(c, '00200081'), '6983');
  t.equal(ex(c, '002C0181 08 3030303030303030'.replace(/ /g, '')), '63C9', 'wrong PUK (P1=01: PUK only)');
  t.equal(ex(c, '002C0081 08 3030303030303030'.replace(/ /g, '')), '6A80', 'P1=00 needs PUK and new PIN');
  t.equal(ex(c, '002C0081 0C 3132333435363738 35353535'.replace(/ /g, '')), '9000', 'PUK + new PIN');
  t.equal(ex(c, '002000810431323334'), '63C2', 'old PIN no longer valid');
  t.equal(ex(c, '002000810435353535'), '9000', 'new PIN');
  t.equal(ex(c, '00240081 08 35353535 36363636'.replace(/ /g, '')), '9000', 'change: old + new');
  t.equal(ex(c, '00240081 08 35353535 37373737'.replace(/ /g, '')), '63C2', 'change with a wrong old PIN');
  t.equal(ex(c, '002000810436363636'), '9000');
  t.equal(ex(c, '00240181 04 38383838'.replace(/ /g, '')), '9000', 'P1=01: new value after VERIFY');
  c.reset();
  t.equal(ex(c, '00240181 04 39393939'.replace(/ /g, '')), '6982', 'P1=01 without VERIFY');
  t.equal(ex(c, '002000810438383838'), '9000');
  t.equal(ex(c, '002C0281 08 3132333435363738'.replace(/ /g, '')), '6A86');
  const np = createCard({ type: 'iso7816', pins: [{ ref: 1, pin: '0000', tries: 5 }] });
  t.equal(ex(np, '00200001'), '63C5', 'custom PIN and tries');
  t.equal(ex(np, '002C0001 04 30303030'.replace(/ /g, '')), '6984', 'no PUK configured');
});

t.test('GET CHALLENGE, GET DATA, CLA and INS checks, malformed APDUs', async (t) => {
  const c = createCard('iso7816');
  const a = ex(c, '0084000008');
  const b = ex(c, '0084000008');
  t.equal(a.length, 20);
  t.equal(swOf(a), '9000');
  t.not(a, b, 'fresh random bytes');
  t.equal(ex(c, '0084000100'), '6A86');
  t.equal(ex(c, '00840000'), '6700');
  t.equal(ex(c, '00CA005A00'), '5343474100000001' + '9000', 'serial number data object');
  t.equal(ex(c, '00CA010100'), '6A88');
  t.equal(ex(c, 'FFCA000000'), '6E00', 'CLA FF is not an ISO class');
  t.equal(ex(c, '80CA005A00'), '6E00', 'proprietary class');
  t.equal(ex(c, '01CA005A00'), '6881', 'logical channel 1');
  t.equal(ex(c, '0CCA005A00'), '6882', 'secure messaging');
  t.equal(ex(c, '10CA005A00'), '6884', 'chaining');
  t.equal(ex(c, '00EE000000'), '6D00', 'unknown INS');
  t.equal(ex(c, '00A4'), '6700', 'too short');
  t.equal(ex(c, '00A4040C0AF0'), '6700', 'Lc larger than the data');
  const custom = createCard({ type: 'iso7816', dataObjects: { '5F20': '414243' }, serial: '0102' });
  t.equal(ex(custom, '00CA5F2000'), '4142439000');
  t.equal(ex(custom, '00CA005A00'), '01029000');
});

t.test('T=1 card: data beyond Le is announced by 61xx and fetched with GET RESPONSE', async (t) => {
  const c = createCard('iso7816');
  ex(c, selectApp);
  t.equal(ex(c, '00A4000402500108'), '6211800200408201' + '610B', 'first 8 bytes of the 19-byte FCP, 61 0B');
  t.equal(ex(c, '00C0000000'), '01830250018801088A0105' + '9000', 'GET RESPONSE returns the rest');
  t.equal(ex(c, '00C0000000'), '6985', 'nothing pending');
  ex(c, '00A4000402500108');
  t.equal(ex(c, '00C0010000'), '6A86');
  t.equal(ex(c, '00C0000004'), '01830250' + '6107', 'GET RESPONSE in pieces');
  ex(c, '00B0000001');
  t.equal(ex(c, '00C0000000'), '6985', 'another command drops the pending data');
  const rec = createCard('iso7816');
  ex(rec, selectApp);
  ex(rec, '00A4020C025003');
  const first = ex(rec, '00B0000000');
  t.equal(dataOf(first).length, 512, 'Le 00: 256 bytes');
  t.equal(swOf(first), '9000');
});

t.test('T=0 card: 61xx for case 4, 6Cxx for a wrong Le, GET RESPONSE rules', async (t) => {
  const c = createCard('iso7816-t0');
  t.equal(ex(c, `00A4040C0A${AID}`), '9000', 'no response data asked: 90 00');
  t.equal(ex(c, `00A404000A${AID}`), '6118', 'case 3/4 TPDU with response data: 61 18 (24-byte FCI)');
  t.equal(ex(c, '00C0000030'), '6C18', 'GET RESPONSE asking too much: 6C 18, data kept');
  const fci = ex(c, '00C0000018');
  t.equal(fci, `6F16820138830250008 40A${AID}8A0105`.replace(/ /g, '') + '9000');
  t.equal(ex(c, '00C0000018'), '6985', 'consumed');
  ex(c, '00A4020C025001');
  t.equal(ex(c, '00B0003C10'), '6C04', 'read past the end: 6C 04 (no 62 82 over T=0)');
  t.equal(ex(c, '00B0003C04'), '000000009000', 're-issued with the exact length');
  t.equal(ex(c, '00B0000000'), '6C40', 'P3=00 means 256: the file has 64');
  t.equal(ex(c, '0020008100'), '63C3', 'VERIFY as a 5-byte header: no data to send');
  t.equal(ex(c, '002000810431323334'), '9000');
  t.equal(ex(c, '0084000008').length, 20, 'case 2 with the right P3: data + 90 00');
  t.equal(ex(c, '00A40004023F00'), '610C', 'FCP of the MF: 12 bytes');
  t.equal(ex(c, '00C0000005'), '620A820138' + '6107', 'GET RESPONSE in pieces: 61 07 left');
  t.equal(ex(c, '00C0000010'), '6C07');
  t.equal(ex(c, '00C0000007'), '83023F008A0105' + '9000');
  t.equal(ex(c, '00C0000000'), '6985');
  t.equal(ex(c, '00A4080C0450005003'), '9000');
  const full = ex(c, '00B0000000');
  t.equal(dataOf(full).length, 512, 'P3=00 reads 256 bytes');
  t.equal(swOf(full), '9000');
});

t.test('TPDU malformed: short header, P3 mismatch', async (t) => {
  const c = createCard('iso7816-t0');
  t.equal(ex(c, '00A400'), '6700');
  t.equal(ex(c, '00A4000C0550'), '6700', 'P3=5 but 1 data byte');
});

t.test('spec validation names the field', async (t) => {
  const bad: Array<[unknown, RegExp]> = [
    [null, /expected an object/],
    [42, /expected an object/],
    [{}, /type must be one of/],
    [{ type: 'iso7817' }, /type must be one of/],
    [{ type: 'iso7816', foo: 1 }, /unknown key "foo"/],
    [{ type: 'iso7816', atr: 'zz' }, /atr: invalid hex/],
    [{ type: 'iso7816', atr: '3B' }, /atr must be 2\.\.33 bytes/],
    [{ type: 'iso7816-t0', atr: '3B8B8131FE45805973636172646761746529' }, /atr must offer T=0/],
    [{ type: 'iso7816', pins: [{ ref: 0x81 }] }, /pins\[0\]\.pin must be a string/],
    [{ type: 'iso7816', pins: [{ ref: 300, pin: '1' }] }, /pins\[0\]\.ref must be a byte/],
    [{ type: 'iso7816', pins: [{ ref: 1, pin: '1', tries: 0 }] }, /pins\[0\]\.tries must be an integer 1\.\.15/],
    [{ type: 'iso7816', files: { fid: '5000' } }, /root must be the MF 3F00/],
    [{ type: 'iso7816', files: { fid: '3F00', children: [{ fid: '12' }] } }, /files\.children\[0\]\.fid must be 4 hex digits/],
    [{ type: 'iso7816', files: { fid: '3F00', children: [{ fid: '1234', read: 'maybe' }] } }, /files\.children\[0\]\.read must be/],
    [{ type: 'iso7816', files: { fid: '3F00', children: [{ fid: '1234' }, { fid: '1234' }] } }, /used twice/],
    [{ type: 'iso7816', dataObjects: { '5F': '00' } }, /4 hex digits/],
    [{ type: 'iso14443-4', uid: '0102' }, /uid must be 4 or 7 or 10 bytes/],
    [{ type: 'iso14443-4', sak: 0x08 }, /sak must be a byte with bit 0x20/],
  ];
  for (const [spec, re] of bad) {
    t.throws(() => createCard(spec), re, JSON.stringify(spec));
    try {
      createCard(spec);
    } catch (e) {
      t.ok(e instanceof CardSpecError);
      t.equal((e as CardSpecError).code, SCARD.E_INVALID_PARAMETER);
    }
  }
  const custom = createCard({
    type: 'iso7816',
    files: { fid: '3F00', children: [{ fid: '0001', data: '0102', size: 4, read: 'always', update: 'never' }] },
    atr: '3B 8B 81 31 FE 45 80 59 73 63 61 72 64 67 61 74 65 29',
  });
  t.equal(ex(custom, '00A4000C020001'), '9000');
  t.equal(ex(custom, '00B0000004'), '010200009000');
  t.same(JSON.parse(JSON.stringify(custom.spec)).type, 'iso7816', 'spec is serialisable');
});

t.test('an ATR override offering T=0 and T=1 makes the APDU-level card take both', async (t) => {
  const c = createCard({ type: 'iso7816', atr: '3B 80 80 01 01' });
  t.equal(c.protocols, PROTOCOL.T0 | PROTOCOL.T1);
  t.equal(createCard({ type: 'iso7816-t0', atr: '3B 80 80 01 01' }).protocols, PROTOCOL.T0, 'the T=0 variant stays T=0');
});
