/**
 * PIN pads (docs/ccid.md §4.7): the part 10 feature list through pyscard on
 * our pcsc socket, VERIFY/MODIFY_PIN_DIRECT typed on an emulated Gemalto Ezio
 * Shield PinPad, the structure conversion (fast-check against the emulator's
 * parser) and the emulator's PIN formatting.
 */
import t from 'tap';
import fc from 'fast-check';
import { spawn } from 'node:child_process';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { FEATURE, PROTOCOL, SCARD, SHARE } from '../../src/pcsc/constants.js';
import { PcscError } from '../../src/pcsc/error.js';
import { featureIoctl } from '../../drivers/ccid/slot.js';
import { part10ToSecure, PIN_MODIFY_HEADER, PIN_VERIFY_HEADER } from '../../drivers/ccid/pin.js';
import { EmulatedUsbBinding } from '../../emulators/ccid/binding.js';
import { decodeMessage, encodeMessage, PC_TO_RDR, RDR_TO_PC, SLOT_ERROR } from '../../drivers/ccid/messages.js';
import { buildPinApdu, checkSecure, insertPin, parseSecure, pinFormat, type SecureFields } from '../../emulators/ccid/pinpad.js';
import { requireTool } from '../pcsc/helpers/clients.js';
import { hex, modifyStructure, rig, socketRig, until, verifyStructure, waitFor, type SocketRig } from './helpers.js';

const PY = join(dirname(fileURLToPath(import.meta.url)), 'clients', 'ccid_pinpad.py');

type Gateway = SocketRig;
const gateway = socketRig;

type Answer = { features?: Record<string, number>; rv?: number; out?: string; missing?: boolean; error?: string };

async function pyscard(g: Gateway, ops: object[]): Promise<Answer[]> {
  const proc = spawn('/usr/bin/python3', [PY], { env: g.env });
  let out = '';
  let err = '';
  proc.stdout.on('data', (d) => (out += String(d)));
  proc.stderr.on('data', (d) => (err += String(d)));
  proc.stdin.end(ops.map((o) => JSON.stringify(o)).join('\n') + '\n');
  const code = await new Promise<number>((resolve) => proc.on('close', (c) => resolve(c ?? -1)));
  if (code !== 0) throw new Error(`pyscard script exited ${code}: ${out} ${err}`);
  return out.trim().split('\n').map((l) => JSON.parse(l) as Answer);
}

t.test('pyscard: the feature list, and VERIFY/MODIFY through the pad of an emulated Ezio Shield PinPad', async (t) => {
  requireTool('/usr/bin/python3', 'python3');
  requireTool('/usr/lib/python3/dist-packages/smartcard/scard', 'python3-pyscard');
  const g = await gateway(t);
  const ezio = g.bus.add('ezio-pinpad');
  ezio.insert('iso7816');
  await until(() => g.core.readers().length === 1 && g.core.readers()[0].atr.length > 0, 'Ezio Shield with its card');
  g.bus.add('cherry-st-xx44').insert('iso7816');
  await until(() => g.core.readers().length === 2 && g.core.readers()[1].atr.length > 0, 'Cherry ST xx44 with its card');
  g.bus.add('omnikey-class').insert('iso7816');
  await until(() => g.core.readers().length === 3 && g.core.readers()[2].atr.length > 0, 'OMNIKEY-class reader with its card');
  const [pad, cherry, omnikey] = g.core.readers().map((r) => r.name);
  t.match(pad, /^Gemalto Ezio Shield \(EZIOEMU1\) 00 00$/);

  // What the user will do, prompt after prompt.
  ezio.pinpad.enter('1234'); // right PIN
  ezio.pinpad.enter('9999'); // wrong PIN
  ezio.pinpad.cancel();
  ezio.pinpad.noEntry(); // walks away: the reader waits out bTimeOut
  ezio.pinpad.enter('1234'); // after the malformed structure: the reader still works
  ezio.pinpad.enter('1234'); // MODIFY: current
  ezio.pinpad.enter('5678'); // new
  ezio.pinpad.enter('5678'); // new again
  ezio.pinpad.enter('5678'); // VERIFY with the new PIN
  ezio.pinpad.enter('1234'); // VERIFY with the old one

  const malformed = verifyStructure(5);
  malformed.writeUInt32LE(6, 15); // ulDataLength one more than the APDU has
  const V = FEATURE.VERIFY_PIN_DIRECT;
  const answers = await pyscard(g, [
    { reader: pad, features: true },
    { reader: cherry, features: true },
    { reader: omnikey, features: true },
    { reader: pad, feature: FEATURE.GET_TLV_PROPERTIES },
    { reader: pad, feature: FEATURE.IFD_PIN_PROPERTIES },
    { reader: pad, feature: V, data: verifyStructure(5).toString('hex') },
    { reader: pad, feature: V, data: verifyStructure(5).toString('hex') },
    { reader: pad, feature: V, data: verifyStructure(5).toString('hex') },
    { reader: pad, feature: V, data: verifyStructure(1).toString('hex') },
    { reader: pad, feature: V, data: malformed.toString('hex') },
    { reader: pad, feature: V, data: verifyStructure(5).toString('hex') },
    { reader: pad, feature: FEATURE.MODIFY_PIN_DIRECT, data: modifyStructure(5).toString('hex') },
    { reader: pad, feature: V, data: verifyStructure(5).toString('hex') },
    { reader: pad, feature: V, data: verifyStructure(5).toString('hex') },
    { reader: cherry, feature: V, data: verifyStructure(5).toString('hex') },
  ]);
  const [fPad, fCherry, fOmni, tlv, pinProps, right, wrong, cancelled, timedOut, bad, after, modify, newPin, oldPin, cherryVerify] = answers;
  t.same(fPad.features, {
    [FEATURE.VERIFY_PIN_DIRECT]: featureIoctl(FEATURE.VERIFY_PIN_DIRECT),
    [FEATURE.MODIFY_PIN_DIRECT]: featureIoctl(FEATURE.MODIFY_PIN_DIRECT),
    [FEATURE.IFD_PIN_PROPERTIES]: featureIoctl(FEATURE.IFD_PIN_PROPERTIES),
    [FEATURE.GET_TLV_PROPERTIES]: featureIoctl(FEATURE.GET_TLV_PROPERTIES),
  }, 'PIN pad reader: VERIFY_PIN_DIRECT, MODIFY_PIN_DIRECT and IFD_PIN_PROPERTIES with their ioctls');
  t.same(fCherry.features, { [FEATURE.GET_TLV_PROPERTIES]: featureIoctl(FEATURE.GET_TLV_PROPERTIES) }, 'Cherry ST xx44 claims a PIN pad; the noPinPad quirk keeps it off the list');
  t.same(fOmni.features, { [FEATURE.GET_TLV_PROPERTIES]: featureIoctl(FEATURE.GET_TLV_PROPERTIES) }, 'a reader without PIN pad lists none');
  t.match(tlv.out, /^01021102/, 'GET_TLV_PROPERTIES: wLcdLayout 0x0211');
  t.match(tlv.out, /020107/, 'GET_TLV_PROPERTIES: bEntryValidationCondition');
  t.same(pinProps, { rv: 0, out: '11020700' }, 'IFD_PIN_PROPERTIES: wLcdLayout, bEntryValidationCondition, bTimeOut2');
  t.same(right, { rv: 0, out: '9000' }, 'right PIN typed on the pad: 90 00');
  t.same(wrong, { rv: 0, out: '63c2' }, 'wrong PIN: 63 C2, two tries left');
  t.same(cancelled, { rv: 0, out: '6401' }, 'Cancel on the pad: 64 01, as libccid answers');
  t.same(timedOut, { rv: 0, out: '6400' }, 'nothing typed within bTimeOut: 64 00, as libccid answers');
  t.same(bad, { rv: SCARD.E_INVALID_PARAMETER, out: '' }, 'ulDataLength beyond the APDU: SCARD_E_INVALID_PARAMETER');
  t.same(after, { rv: 0, out: '9000' }, 'the reader keeps working after the malformed structure');
  t.same(modify, { rv: 0, out: '9000' }, 'MODIFY: current, new and confirmation typed: CHANGE REFERENCE DATA 90 00');
  t.same(newPin, { rv: 0, out: '9000' }, 'the new PIN verifies');
  t.same(oldPin, { rv: 0, out: '63c2' }, 'the old one no longer does');
  t.same(cherryVerify, { missing: true }, 'no VERIFY_PIN_DIRECT ioctl on the Cherry');
  const fn = ezio.fn(0);
  t.equal(fn.counters.secure, 8, 'eight PC_to_RDR_Secure reached the reader: not the malformed one');
  t.equal(ezio.pinpad.pending, 0, 'every entry was taken');
});

t.test('through the core: time extensions while the user types; a field the reader refuses is named', async (t) => {
  const r = await rig();
  t.teardown(() => r.close());
  const dev = r.bus.add('ezio-pinpad', { timeExtensions: 3 });
  dev.insert('iso7816');
  await until(() => r.core.readers().length === 1 && r.core.readers()[0].atr.length > 0, 'Ezio Shield with its card');
  const ctx = r.core.establishContext('t');
  const c = await r.core.connect(ctx, r.core.readers()[0].name, SHARE.SHARED, PROTOCOL.ANY);
  const V = featureIoctl(FEATURE.VERIFY_PIN_DIRECT);
  dev.pinpad.enter('1234');
  t.same(await r.core.control(c.handle, V, verifyStructure(5)), hex('9000'), 'three time extensions, then the card\'s 90 00');
  const rfu = verifyStructure(5);
  rfu[2] = 0x83; // PIN coding 3: RFU
  const before = dev.pinpad.counters.prompts;
  await t.rejects(r.core.control(c.handle, V, rfu), { code: SCARD.E_INVALID_PARAMETER, message: /the reader refused bmFormatString \(message offset 12\)/ });
  t.equal(dev.pinpad.counters.prompts, before, 'refused before any prompt');
  const prompted = waitFor(dev.pinpad, 'prompt', 5000, 'PIN prompt');
  const pending = r.core.control(c.handle, V, verifyStructure(5));
  await prompted;
  dev.pinpad.enter('1234'); // typed while the reader waits
  t.same(await pending, hex('9000'), 'an entry made after the prompt');
});

t.test('emulator: an Abort ends the PIN prompt at once, as a reader drops its prompt', async (t) => {
  const bus = new EmulatedUsbBinding(false);
  const dev = bus.add('ezio-pinpad');
  dev.insert('iso7816');
  const h = await bus.open(dev.info.id);
  t.teardown(() => h.close());
  await h.claimInterface(0);
  const reply = async () => {
    const d = decodeMessage(await h.bulkIn(0x82, 1024, 2000));
    if (!d.ok) throw new Error(d.reason);
    return d.msg;
  };
  await h.bulkOut(0x01, encodeMessage(PC_TO_RDR.IccPowerOn, 0, 1, [1, 0, 0]), 1000);
  const atr = await reply();
  t.same([atr.type, atr.p[0] >> 6], [RDR_TO_PC.DataBlock, 0], 'powered at 5 V');
  const prompted = waitFor(dev.pinpad, 'prompt', 5000, 'PIN prompt');
  await h.bulkOut(0x01, encodeMessage(PC_TO_RDR.Secure, 0, 2, [0, 0, 0], part10ToSecure('verify', verifyStructure(60), 271).abData), 1000);
  await prompted;
  await h.controlTransfer({ bmRequestType: 0x21, bRequest: 0x01, wValue: (2 << 8) | 0, wIndex: 0 }, Buffer.alloc(0), 1000);
  await h.bulkOut(0x01, encodeMessage(PC_TO_RDR.Abort, 0, 2, [0, 0, 0]), 1000);
  const aborted = await reply();
  t.same([aborted.type, aborted.seq, aborted.p[0] >> 6, aborted.p[1]], [RDR_TO_PC.DataBlock, 2, 1, SLOT_ERROR.CMD_ABORTED], 'the Secure answered CMD_ABORTED');
  const status = await reply();
  t.same([status.type, status.seq], [RDR_TO_PC.SlotStatus, 2], 'then the Abort its SlotStatus');
  dev.pinpad.enter('1234');
  await h.bulkOut(0x01, encodeMessage(PC_TO_RDR.Secure, 0, 3, [0, 0, 0], part10ToSecure('verify', verifyStructure(60), 271).abData), 1000);
  const next = await reply();
  t.same([next.type, next.seq, next.data.toString('hex')], [RDR_TO_PC.DataBlock, 3, '9000'], 'the aborted prompt took nothing: the next Secure gets the next entry');
});

t.test('driver: malformed structures are refused naming the field, before the reader sees them', async (t) => {
  const cases: Array<[string, Buffer, RegExp]> = [
    ['short', Buffer.alloc(10), /shorter than its 19-byte header/],
    ['ulDataLength', (() => { const b = verifyStructure(5); b.writeUInt32LE(9, 15); return b; })(), /ulDataLength is 9 but 5 byte\(s\)/],
    ['no Lc', verifyStructure(5, hex('00200081')), /needs at least CLA INS P1 P2 Lc/],
    ['Lc', verifyStructure(5, hex('002000810431')), /Lc is 4 but 1 byte\(s\) follow/],
    ['too long', verifyStructure(5, Buffer.concat([hex('00200081FA'), Buffer.alloc(250)])), /-byte PC_to_RDR_Secure; the reader takes 271/],
  ];
  for (const [name, s, re] of cases) {
    const e = (() => { try { part10ToSecure('verify', s, 271); return undefined; } catch (err) { return err; } })();
    t.ok(e instanceof PcscError && e.code === SCARD.E_INVALID_PARAMETER, `${name}: SCARD_E_INVALID_PARAMETER`);
    t.match((e as Error).message, re, `${name}: names the field`);
  }
  const m = modifyStructure(5);
  m[11] = 4;
  t.throws(() => part10ToSecure('modify', m, 271), /bNumberMessage is 0x4/);
  const v = part10ToSecure('verify', verifyStructure(7), 271);
  t.same(v.abData, Buffer.concat([hex('00 07 82 00 00 0804 02 01 0904 00 000000'), hex('0020008100')]), 'verify: bPINOperation 00, structure without bTimerOut2 and ulDataLength');
  t.equal(v.userWaitMs, 7000);
  const mo = part10ToSecure('modify', modifyStructure(5), 271);
  t.same(mo.abData, Buffer.concat([hex('01 05 82 04 00 00 04 0404 03 02 03 0904 00 01 02 000000'), hex('0024008108FFFFFFFFFFFFFFFF')]), 'modify: three message indexes for bNumberMessage 3');
  t.equal(mo.userWaitMs, 15000, 'three entries at 5 s each');
  const m0 = modifyStructure(0);
  m0[11] = 0;
  t.same(part10ToSecure('modify', m0, 271).abData.subarray(15, 18), hex('000000'), 'bNumberMessage 0: no bMsgIndex2/3, bTeoPrologue follows bMsgIndex1');
});

/** A part 10 structure with random fields (those the layout depends on kept valid) and a well-formed APDU. */
const structureArb = (op: 'verify' | 'modify') =>
  fc.record({
    head: fc.uint8Array({ minLength: op === 'verify' ? 15 : 20, maxLength: op === 'verify' ? 15 : 20 }),
    n: fc.constantFrom(0, 1, 2, 3, 0xff),
    confirm: fc.integer({ min: 0, max: 3 }),
    apduHead: fc.uint8Array({ minLength: 4, maxLength: 4 }),
    body: fc.uint8Array({ maxLength: 40 }),
  }).map(({ head, n, confirm, apduHead, body }) => {
    const h = Buffer.from(head);
    if (op === 'modify') {
      h[11] = n;
      h[9] = confirm;
    }
    const apdu = Buffer.concat([Buffer.from(apduHead), Buffer.from([body.length]), Buffer.from(body)]);
    const len = Buffer.alloc(4);
    len.writeUInt32LE(apdu.length);
    return Buffer.concat([h, len, apdu]);
  });

t.test('fast-check: valid structures convert and the emulator reads back every field; random bytes only ever give a PcscError', async (t) => {
  for (const op of ['verify', 'modify'] as const) {
    fc.assert(
      fc.property(structureArb(op), (s) => {
        const { abData } = part10ToSecure(op, s, 271);
        const p = parseSecure(abData);
        if (!p.ok) return false;
        const f = p.f;
        const common = f.timeOut === s[0] && f.fmt === s[2] && f.blk === s[3] && f.lenFmt === s[4];
        if (op === 'verify') {
          return common && f.op === 0 && f.maxDigits === s[5] && f.minDigits === s[6] && f.entryValidation === s[7] && f.numberMessage === s[8] && f.langId === s.readUInt16LE(9) && f.msgIndex[0] === s[11] && f.teoPrologue.equals(s.subarray(12, 15)) && f.apdu.equals(s.subarray(PIN_VERIFY_HEADER));
        }
        const n = s[11];
        const idx = [s[14], ...(n !== 0 ? [s[15]] : []), ...(n === 3 || n === 0xff ? [s[16]] : [])];
        return (
          common && f.op === 1 && f.offsetOld === s[5] && f.offsetNew === s[6] && f.maxDigits === s[7] && f.minDigits === s[8] && f.confirm === s[9] && f.entryValidation === s[10] && f.numberMessage === n &&
          f.langId === s.readUInt16LE(12) && JSON.stringify(f.msgIndex) === JSON.stringify(idx) && f.teoPrologue.equals(s.subarray(17, 20)) && f.apdu.equals(s.subarray(PIN_MODIFY_HEADER))
        );
      }),
      { numRuns: 500 },
    );
    fc.assert(
      fc.property(fc.uint8Array({ maxLength: 80 }), fc.integer({ min: 0, max: 300 }), (bytes, max) => {
        try {
          part10ToSecure(op, Buffer.from(bytes), max);
          return true;
        } catch (e) {
          return e instanceof PcscError && e.code === SCARD.E_INVALID_PARAMETER;
        }
      }),
      { numRuns: 1000 },
    );
  }
  fc.assert(fc.property(fc.uint8Array({ maxLength: 80 }), (bytes) => { parseSecure(Buffer.from(bytes)); return true; }), { numRuns: 1000 });
  t.pass('properties held');
});

const fields = (over: Partial<SecureFields>): SecureFields => {
  const p = parseSecure(Buffer.concat([hex('00 05 82 00 00 0804 02 01 0904 00 000000'), hex('0020008100')]));
  if (!p.ok) throw new Error('base structure does not parse');
  return { ...p.f, ...over };
};

t.test('emulator: the PIN formatted into the APDU as bmFormatString, bmPINBlockString and bmPINLengthFormat say', async (t) => {
  const ff = Buffer.alloc(8, 0xff);
  t.same(insertPin(Buffer.alloc(0), 0, pinFormat(0x82, 0x00, 0x00)!, '1234'), hex('31323334'), 'ASCII, variable block: the data is the PIN');
  t.same(insertPin(ff, 0, pinFormat(0x82, 0x08, 0x00)!, '1234'), hex('31323334FFFFFFFF'), 'ASCII left-justified in an 8-byte block, fillers kept');
  t.same(insertPin(ff, 0, pinFormat(0x86, 0x08, 0x00)!, '1234'), hex('FFFFFFFF31323334'), 'ASCII right-justified');
  t.same(insertPin(ff, 0, pinFormat(0x81, 0x08, 0x00)!, '12345'), hex('12345FFFFFFFFFFF'), 'BCD left-justified, odd digit count');
  t.same(insertPin(ff, 0, pinFormat(0x85, 0x08, 0x00)!, '12345'), hex('FFFFFFFFFFF12345'), 'BCD right-justified');
  t.same(insertPin(hex('20FFFFFFFFFFFFFF'), 0, pinFormat(0x41, 0x48, 0x04)!, '1234'), hex('241234FFFFFFFFFF'), 'ISO 9564 format 2: length nibble at bit 4, BCD from bit 8 (bit units)');
  t.same(insertPin(ff, 0, pinFormat(0x88, 0x88, 0x10)!, '1234'), hex('0401020304FFFFFF'), 'binary digits from byte 1, length byte at byte 0 (byte units)');
  t.same(insertPin(hex('AABBFFFFFFFF'), 2, pinFormat(0x82, 0x04, 0x00)!, '12'), hex('AABB3132FFFF'), 'a block at a byte offset (MODIFY insertion offset)');
  const apdu = buildPinApdu(fields({}), { fresh: '1234' });
  t.same(apdu, hex('002000810431323334'), 'Lc recomputed');
  const m = parseSecure(Buffer.concat([hex('01 05 82 00 00 00 04 0804 03 02 03 0904 00 01 02 000000'), hex('0024008100')]));
  t.ok(m.ok);
  if (m.ok) t.same(buildPinApdu(m.f, { current: '1234', fresh: '5678' }), hex('002400810831323334 35363738'), 'MODIFY: current PIN at its offset, new PIN at its own');
});

t.test('emulator: a structure the reader cannot carry out is refused with the offending byte offset', async (t) => {
  const at = (over: Partial<SecureFields>, support = 0x03) => checkSecure(fields(over), support);
  t.equal(at({}), undefined, 'the base structure is accepted');
  t.equal(at({}, 0x02), 10, 'verify on a reader that only modifies: bPINOperation');
  t.equal(at({ fmt: 0x83 }), 12, 'PIN coding 3 (RFU): bmFormatString');
  t.equal(at({ lenFmt: 0x20 }), 14, 'RFU bits of bmPINLengthFormat');
  t.equal(at({ minDigits: 9 }), 15, 'minimum above maximum: wPINMaxExtraDigit');
  t.equal(at({ entryValidation: 0 }), 17, 'no validation condition: bEntryValidationCondition');
  t.equal(at({ numberMessage: 2 }), 18, 'verify with two messages: bNumberMessage');
  t.equal(at({ blk: 0x08 }), 13, 'an 8-byte block in an APDU with no data: bmPINBlockString');
  t.equal(at({ blk: 0x04, apdu: hex('0020008104FFFFFFFF') }), 15, 'an 8-digit maximum in a 4-byte ASCII block: wPINMaxExtraDigit');
  t.equal(at({ blk: 0x28, apdu: hex('0020008108FFFFFFFFFFFFFFFF') }), 13, 'a 2-bit length field cannot count 8 digits: bmPINBlockString');
  t.same(parseSecure(hex('00 05 82 00 00 0804 02 01 0904 00 000000 0020008105')), { ok: false, bError: 29 }, 'Lc that disagrees with the APDU: its offset');
  t.same(parseSecure(hex('02')), { ok: false, bError: 10 }, 'bPINOperation 02 (not modelled): offset 10');
  t.same(parseSecure(hex('00 05 82')), { ok: false, bError: 1 }, 'cut short: dwLength');
});
