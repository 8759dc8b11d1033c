import t from 'tap';
import { existsSync, readFileSync } from 'node:fs';
import {
  parseAtr,
  AtrError,
  buildContactlessAtr,
  buildIso14443Atr,
  buildIso14443bAtr,
  buildPps,
  parsePps,
  checkPpsResponse,
  parseHistoricalBytes,
  atrTiming,
} from '../../src/iso7816/atr.js';
import { parseHex, toHex } from '../../src/iso7816/hex.js';

const LIST = '/usr/share/pcsc/smartcard_list.txt';

t.test('contactless PC/SC part 3 MIFARE 1K', async (t) => {
  const a = parseAtr('3B 8F 80 01 80 4F 0C A0 00 00 03 06 03 00 01 00 00 00 00 6A');
  t.same(a.errors, []);
  t.same(a.warnings, []);
  t.equal(a.convention, 'direct');
  t.equal(a.historicalCount, 15);
  t.equal(a.tckRequired, true);
  t.equal(a.tck, 0x6a);
  t.equal(a.tckValid, true);
  t.same(a.protocols, [0, 1]);
  t.equal(a.defaultProtocol, 0);
  t.equal(a.historicalInfo?.category, 0x80);
  t.equal(a.historicalInfo?.contactless?.standard, 3);
  t.equal(a.historicalInfo?.contactless?.standardName, 'ISO 14443 A, part 3');
  t.equal(a.historicalInfo?.contactless?.cardName, 0x0001);
  t.equal(a.historicalInfo?.contactless?.cardNameText, 'MIFARE Classic 1K');
  // The commonly mis-copied 68 TCK is caught.
  const bad = parseAtr('3B 8F 80 01 80 4F 0C A0 00 00 03 06 03 00 01 00 00 00 00 68');
  t.equal(bad.tckValid, false);
  t.match(bad.errors[0], /TCK mismatch: ATR has 68, XOR of T0\.\.last historical byte gives 6A/);
});

t.test('contact T=0 ATR with TA1, TC1, specific fields', async (t) => {
  // Gemalto/Schlumberger-style T=0: 3B 3F 94 00 80 69 AF 03 07 01 36 00 00 0A 0E 83 3E 9F 16
  const a = parseAtr('3B 3F 94 00 80 69 AF 03 07 01 36 00 00 0A 0E 83 3E 9F 16');
  t.same(a.errors, []);
  t.equal(a.groups.length, 1);
  t.equal(a.groups[0].ta, 0x94);
  t.equal(a.groups[0].tb, 0x00);
  t.equal(a.fi, 9);
  t.equal(a.di, 4);
  t.equal(a.Fi, 512);
  t.equal(a.Di, 8);
  t.equal(a.fmaxMHz, 5);
  t.equal(a.n, 0, 'no TC1 (T0 = 3F announces TA1 and TB1 only)');
  t.equal(a.historical[0], 0x80);
  t.equal(a.tckRequired, false);
  t.equal(a.tck, undefined);
  t.same(a.protocols, [0]);
  t.equal(a.defaultProtocol, 0);
  t.equal(a.ppsUseful, true);
  t.equal(a.historical.length, 15);
  t.equal(a.t1, undefined);
});

t.test('T=1 ATR with IFSC, BWI/CWI, CRC and T=15 global bytes', async (t) => {
  // 3B DB 96 00 80 B1 FE 45 1F 83 00 31 C0 64 C7 FC 10 00 01 90 00 74 (JavaCard J3A-style)
  const a = parseAtr('3B DB 96 00 80 B1 FE 45 1F 83 00 31 C0 64 C7 FC 10 00 01 90 00 74');
  t.same(a.errors, []);
  t.equal(a.Fi, 512);
  t.equal(a.Di, 32);
  t.same(a.protocols, [0, 1]);
  t.equal(a.defaultProtocol, 0, 'TD1 names T=0, so T=0 is the default');
  t.same(a.t1, { ifsc: 0xfe, bwi: 4, cwi: 5, edc: 'lrc' });
  t.equal(a.clockStop, 2);
  t.equal(a.classIndicator, 3);
  t.equal(a.historicalInfo?.category, 0);
  t.same(a.historicalInfo?.status, { lcs: 1, sw: 0x9000 });
  t.equal(a.tckValid, true);

  const c = parseAtr(withTck('3B 9A 95 81 71 FE 5D 01 00 11 22 33 44 55 66 77 88 99'));
  t.same(c.errors, []);
  t.same(c.protocols, [1]);
  t.equal(c.defaultProtocol, 1);
  t.same(c.t1, { ifsc: 0xfe, bwi: 5, cwi: 0xd, edc: 'crc' });
});

t.test('T=1-only JavaCard with default T=1 parameters', async (t) => {
  // Typical JCOP: 3B F8 13 00 00 81 31 FE 45 4A 43 4F 50 76 32 34 31 B7
  const a = parseAtr('3B F8 13 00 00 81 31 FE 45 4A 43 4F 50 76 32 34 31 B7');
  t.same(a.errors, []);
  t.equal(a.tckValid, true);
  t.same(a.protocols, [1]);
  t.equal(a.defaultProtocol, 1);
  t.equal(a.t1?.ifsc, 0xfe);
  t.equal(a.t1?.edc, 'lrc');
  t.equal(a.historical.toString('latin1'), 'JCOPv241');
  t.equal(a.historicalInfo?.categoryName, 'proprietary');
  t.equal(a.n, 0);
  t.equal(a.fi, 1);
  t.equal(a.di, 3);
});

t.test('Belgian eID: TC2 (WI) after a TD1 naming T=0', async (t) => {
  const a = parseAtr('3B 98 13 40 0A A5 03 01 01 01 AD 13 11');
  t.same(a.errors, []);
  t.equal(a.groups[0].ta, 0x13);
  t.equal(a.groups[0].td, 0x40);
  t.equal(a.groups[1].tc, 0x0a);
  t.equal(a.wi, 10);
  t.equal(a.Fi, 372);
  t.equal(a.Di, 4);
  t.equal(a.tckRequired, false);
  t.same(a.protocols, [0]);
  t.equal(a.historical.length, 8);
});

t.test('YubiKey 5 NFC: T=1, BWI/CWI from TB3, COMPACT-TLV historical bytes', async (t) => {
  const a = parseAtr('3B FD 13 00 00 81 31 FE 15 80 73 C0 21 C0 57 59 75 62 69 4B 65 79 40');
  t.same(a.errors, []);
  t.equal(a.tckValid, true);
  t.same(a.protocols, [1]);
  t.equal(a.defaultProtocol, 1);
  t.same(a.t1, { ifsc: 254, bwi: 1, cwi: 5, edc: 'lrc' });
  t.equal(a.n, 0);
  t.equal(a.historicalInfo?.category, 0x80);
  const caps = a.historicalInfo?.objects.find((o) => o.tag === 7);
  t.equal(caps?.name, 'card capabilities');
  t.equal(toHex(caps?.value ?? Buffer.alloc(0)), 'C0 21 C0');
  const tail = a.historicalInfo?.objects.find((o) => o.tag === 5);
  t.equal(tail?.value.toString('latin1'), 'YubiKey', "tag 5 (card issuer's data), 7 bytes");
});

t.test('inverse convention 3F', async (t) => {
  const a = parseAtr('3F 65 25 00 2C 09 69 90 00');
  t.equal(a.convention, 'inverse');
  t.same(a.errors, []);
  t.equal(a.groups[0].tb, 0x25);
  t.equal(a.groups[0].tc, 0x00);
  t.equal(a.historical.length, 5);
  t.match(a.warnings.join(), /TB1=25/);
  t.throws(() => parseAtr('03 65'), { name: 'AtrError', message: /03 is an inverse-convention TS read without decoding/ });
});

t.test('specific mode TA2', async (t) => {
  // TA1=11, TD1=11 (TA2 follows, T=1), TA2=81 (cannot change mode, T=1), 2 historical bytes
  const a = parseAtr(withTck('3B 92 11 11 81 AA BB'));
  t.same(a.errors, []);
  t.same(a.protocols, [1]);
  t.equal(a.specificMode, true);
  t.equal(a.specificProtocol, 1);
  t.equal(a.canChangeMode, false);
  t.equal(a.implicitParameters, false);
  t.equal(a.defaultProtocol, 1);
  t.equal(a.ppsUseful, false);
  t.equal(a.groups[1].ta, 0x81);
  // TA2=11: b5 set (implicit parameters), b8 clear (can change mode)
  const b = parseAtr(withTck('3B 90 11 11 11'));
  t.same(b.errors, []);
  t.equal(b.specificMode, true);
  t.equal(b.implicitParameters, true);
  t.equal(b.canChangeMode, true);
});

t.test('defects are reported, not thrown', async (t) => {
  const trunc = parseAtr('3B 8F 80 01 80 4F 0C A0 00');
  t.match(trunc.errors.join(), /truncated: T0 announces 15 historical bytes, only 5 present/);
  const trunc2 = parseAtr('3B F0 11 00');
  t.match(trunc2.errors.join(), /truncated in interface bytes of group 1/);
  const tsOnly = parseAtr(Buffer.from([0x3b]));
  t.match(tsOnly.errors.join(), /T0 missing/);
  const missingTck = parseAtr('3B 81 80 01 80');
  t.match(missingTck.errors.join(), /TCK missing/);
  const extra = parseAtr('3B 02 14 50 FF EE');
  t.match(extra.warnings.join(), /2 unexpected byte\(s\) after the end of the ATR: FF EE/);
  const optionalTck = parseAtr('3B 02 14 50 46');
  t.equal(optionalTck.tckValid, true);
  t.match(optionalTck.warnings.join(), /does not need/);
  const rfu = parseAtr('3B 10 7E');
  t.match(rfu.errors.join(), /FI=7 is RFU/);
  t.match(rfu.errors.join(), /DI=14 is RFU/);
  const long = parseAtr(withTck('3B 8F 81 ' + '81 '.repeat(20) + '01 ' + '00 '.repeat(15)));
  t.match(long.warnings.join(), /longer than the 33-byte maximum/);
  t.throws(() => parseAtr(''), AtrError);
  t.throws(() => parseAtr('3B 8'), { name: 'AtrError', message: /not valid hex/ });
  t.throws(() => parseAtr('12 34'), { name: 'AtrError', message: /invalid TS 12/ });
});

t.test('timing from the ATR', async (t) => {
  const a = parseAtr('3B DB 96 00 80 B1 FE 45 1F 83 00 31 C0 64 C7 FC 10 00 01 90 00 74');
  const d = atrTiming(a, { clockHz: 3_720_000 });
  t.equal(d.etuUs, 100, 'default 372/1 at 3.72 MHz: 100 µs per etu');
  t.equal(d.wwtMs, 960 * 10 * 372 / 3720, 'WWT = 960 × WI × Fi / f');
  t.ok(Math.abs(d.bwtMs - (1.1 + 16 * 96)) < 1e-9, 'BWT = 11 etu + 2^BWI × 960 × 372 / f');
  t.equal(Math.round(d.cwtMs * 1000), (11 + 32) * 100, 'CWT = (11 + 2^CWI) etu');
  t.equal(Math.round(d.bgtMs * 1000), 2200);
  const fast = atrTiming(a, { clockHz: 4_000_000, useTa1: true });
  t.equal(fast.etuUs, 512 / 32 / 4, 'TA1 96: Fi 512, Di 32 at 4 MHz');
});

t.test('PC/SC part 3 builders', async (t) => {
  t.equal(toHex(buildContactlessAtr(0x03, 0x0001)), '3B 8F 80 01 80 4F 0C A0 00 00 03 06 03 00 01 00 00 00 00 6A');
  t.equal(toHex(buildContactlessAtr(0x03, 0x0002)).slice(-2), '69');
  t.equal(toHex(buildContactlessAtr(0x03, 0x0003)).slice(-2), '68');
  t.equal(toHex(buildContactlessAtr(0x03, 0x0026)).slice(-2), '4D');
  t.equal(parseAtr(buildContactlessAtr(0x03, 0x0003)).historicalInfo?.contactless?.cardNameText, 'MIFARE Ultralight');
  t.equal(toHex(buildIso14443Atr(Buffer.from([0x80]))), '3B 81 80 01 80 80');
  const ats = buildIso14443Atr(parseHex('80 73 C0 21 C0 57 59 75 62 69 4B 65 79'));
  t.same(parseAtr(ats).errors, []);
  t.equal(parseAtr(ats).historical.length, 13);
  t.equal(buildIso14443Atr(Buffer.alloc(20, 0x41)).length, 4 + 15 + 1, 'more than 15 historical bytes are cut to 15');
  const b = buildIso14443bAtr(parseHex('00 00 00 00'), parseHex('81 81 71'), 0x5);
  t.equal(toHex(b.subarray(0, 4)), '3B 88 80 01');
  t.equal(b[b.length - 2], 0x50);
  t.same(parseAtr(b).errors, []);
  t.throws(() => buildContactlessAtr(0x100, 1), RangeError);
  t.throws(() => buildIso14443bAtr(Buffer.alloc(3), Buffer.alloc(3)), RangeError);
});

t.test('historical bytes COMPACT-TLV', async (t) => {
  const w: string[] = [];
  const h = parseHistoricalBytes(parseHex('80 31 80 65 B0 85 03 00 EF 12 0F FF 82 90 00'), w);
  t.same(h?.objects.map((o) => o.tag), [3, 6, 1, 8]);
  t.same(h?.status, { sw: 0x9000 });
  t.same(w, []);
  const w2: string[] = [];
  parseHistoricalBytes(parseHex('80 45 01'), w2);
  t.match(w2.join(), /overruns/);
  t.equal(parseHistoricalBytes(parseHex('10 2A'))?.dirDataReference, 0x2a);
  t.equal(parseHistoricalBytes(Buffer.alloc(0)), undefined);
});

t.test('PPS build and check', async (t) => {
  t.equal(toHex(buildPps({ protocol: 1, fidi: 0x96 })), 'FF 11 96 78');
  t.equal(toHex(buildPps({ protocol: 1, fidi: 0x11 })), 'FF 11 11 FF');
  t.equal(toHex(buildPps({ protocol: 1 })), 'FF 01 FE');
  t.equal(toHex(buildPps({ protocol: 0, fidi: 0x18, spu: 0 })), 'FF 30 18 00 D7');
  const req = buildPps({ protocol: 1, fidi: 0x96 });
  t.same(checkPpsResponse(req, req), { ok: true, protocol: 1, fidi: 0x96 });
  t.same(checkPpsResponse(req, buildPps({ protocol: 1 })), { ok: true, protocol: 1, fidi: 0x11 });
  t.match(checkPpsResponse(req, buildPps({ protocol: 1, fidi: 0x95 })).reason, /PPS1 95 differs from requested 96/);
  t.match(checkPpsResponse(req, buildPps({ protocol: 0, fidi: 0x96 })).reason, /selects T=0, request asked T=1/);
  t.match(checkPpsResponse(req, parseHex('FF 11 96 77')).reason, /PCK mismatch/);
  t.match(checkPpsResponse(req, parseHex('FF 11')).reason, /too short/);
  t.match(parsePps(parseHex('FF 11 96 00 00')).error, /announces 4/);
  t.throws(() => buildPps({ protocol: 15 }), RangeError);
});

/** Append the right TCK to an ATR written without one. */
function withTck(hex: string): Buffer {
  const b = parseHex(hex);
  let x = 0;
  for (let i = 1; i < b.length; i++) x ^= b[i];
  return Buffer.concat([b, Buffer.from([x])]);
}

/** Turn a smartcard_list.txt regex ATR into bytes: ".*" -> nothing, ".." -> 00, "X." -> X0, "[ab]" -> first choice. */
function concretise(line: string): { hex: string; wildcard: boolean } {
  const wildcard = /[.[\]*]/.test(line);
  const hex = line
    .replace(/\.\*/g, ' ')
    .replace(/\[([0-9A-Fa-f])[^\]]*\]/g, '$1')
    .replace(/\./g, '0');
  return { hex, wildcard };
}

t.test('every ATR in pcsc-tools smartcard_list.txt parses without crashing', async (t) => {
  if (!existsSync(LIST)) {
    t.fail(`${LIST} is missing: install it with "apt-get install pcsc-tools"`);
    return;
  }
  const lines = readFileSync(LIST, 'latin1').split('\n').filter((l) => /^3[BF]/.test(l));
  let total = 0;
  let wildcards = 0;
  let clean = 0;
  let withErrors = 0;
  let withWarnings = 0;
  let unparseableHex = 0;
  const tally = { t0: 0, t1: 0, both: 0, specific: 0, contactless: 0, inverse: 0 };
  for (const raw of lines) {
    const { hex, wildcard } = concretise(raw.trim());
    total++;
    if (wildcard) wildcards++;
    let bytes: Buffer;
    try {
      bytes = parseHex(hex);
    } catch {
      unparseableHex++;
      continue;
    }
    const a = parseAtr(bytes);
    if (a.errors.length) withErrors++;
    else clean++;
    if (a.warnings.length) withWarnings++;
    if (a.protocols.includes(0) && a.protocols.includes(1)) tally.both++;
    else if (a.protocols.includes(1)) tally.t1++;
    else if (a.protocols.includes(0)) tally.t0++;
    if (a.specificMode) tally.specific++;
    if (a.historicalInfo?.contactless) tally.contactless++;
    if (a.convention === 'inverse') tally.inverse++;
    if (!wildcard && a.hex !== toHex(bytes)) t.fail(`hex mismatch for ${raw}`);
  }
  t.comment(
    `smartcard_list.txt: ${total} ATR lines, ${wildcards} with wildcards (substituted), ${unparseableHex} not hex after substitution; ` +
      `${clean} without errors, ${withErrors} with errors, ${withWarnings} with warnings; ` +
      `T=0 only ${tally.t0}, T=1 only ${tally.t1}, both ${tally.both}, specific mode ${tally.specific}, ` +
      `PC/SC contactless ${tally.contactless}, inverse ${tally.inverse}`,
  );
  t.ok(total > 1000, `read ${total} ATR lines`);
  t.equal(unparseableHex, 0, 'every line is hex after wildcard substitution');
  t.ok(clean > total * 0.8, `most ATRs parse without error (${clean}/${total})`);
  t.ok(tally.contactless > 10, 'PC/SC contactless ATRs are recognised');
});

t.test('fuzz: 100k random byte strings never throw anything but AtrError', async (t) => {
  let seed = 0xa7a7;
  const rnd = () => {
    seed ^= seed << 13;
    seed ^= seed >>> 17;
    seed ^= seed << 5;
    return seed >>> 0;
  };
  let parsed = 0;
  let refused = 0;
  for (let n = 0; n < 100000; n++) {
    const len = rnd() % 40;
    const b = Buffer.alloc(len);
    for (let i = 0; i < len; i++) b[i] = rnd() & 0xff;
    // Most inputs get a valid TS so the deep paths are exercised.
    if (len > 0 && n % 8 !== 0) b[0] = n % 2 ? 0x3b : 0x3f;
    try {
      const a = parseAtr(b);
      if (!Array.isArray(a.errors) || !Array.isArray(a.protocols) || a.protocols.length === 0) t.fail(`incomplete result for ${b.toString('hex')}`);
      parsed++;
    } catch (e) {
      if (!(e instanceof AtrError)) {
        t.fail(`unexpected ${String(e)} for ${b.toString('hex')}`);
        break;
      }
      refused++;
    }
  }
  t.ok(parsed > 50000, `parsed ${parsed}, refused ${refused}`);
});

t.test('fuzz: PPS parsing and checking never throw', async (t) => {
  let seed = 0x9955;
  const rnd = () => {
    seed ^= seed << 13;
    seed ^= seed >>> 17;
    seed ^= seed << 5;
    return seed >>> 0;
  };
  const req = buildPps({ protocol: 1, fidi: 0x96 });
  let ok = 0;
  for (let n = 0; n < 20000; n++) {
    const len = rnd() % 7;
    const b = Buffer.alloc(len);
    for (let i = 0; i < len; i++) b[i] = rnd() & 0xff;
    if (len > 0 && n % 2) b[0] = 0xff;
    const r = checkPpsResponse(req, b);
    if (r.ok) ok++;
    else if (!r.reason) t.fail('failure without a reason');
  }
  t.pass(`${ok} random PPS responses accepted`);
});
