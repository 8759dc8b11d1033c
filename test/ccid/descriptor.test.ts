/**
 * The class descriptor parser: round trips for every profile, the exchange
 * level from dwFeatures, the descriptor found among class-specific bytes,
 * libccid's parse-output format, and fuzzing (fast-check) of every byte parser.
 */
import t from 'tap';
import fc from 'fast-check';
import {
  CcidDescriptorError,
  configurationExtras,
  encodeCcidDescriptor,
  exchangeLevel,
  findClassDescriptor,
  parseCcidDescriptor,
  supportedVoltages,
} from '../../drivers/ccid/descriptor.js';
import { decodeMessage, encodeMessage } from '../../drivers/ccid/messages.js';
import { PROFILES } from '../../emulators/ccid/profiles.js';
import { formatParseOutput, parseReaderFile } from '../../emulators/ccid/libccid-format.js';
import { EmulatedCcidDevice } from '../../emulators/ccid/device.js';

t.test('every profile: encode -> parse gives the same values; level and slots', async (t) => {
  const want: Record<string, string[]> = {
    acr1252u: ['extended-apdu', 'short-apdu'],
    acr122u: ['short-apdu'],
    'omnikey-class': ['extended-apdu'],
    'gempc-twin': ['tpdu'],
    'ezio-pinpad': ['extended-apdu'],
    'cherry-st-xx44': ['short-apdu'],
    'two-slot': ['short-apdu'],
  };
  for (const p of Object.values(PROFILES)) {
    const levels = p.interfaces.map((i) => {
      const raw = encodeCcidDescriptor(i.descriptor);
      t.equal(raw.length, 54);
      t.same(parseCcidDescriptor(raw), i.descriptor, `${p.key}: round trip`);
      return exchangeLevel(i.descriptor);
    });
    t.same(levels, want[p.key], `${p.key}: exchange levels`);
  }
  t.equal(PROFILES['two-slot'].interfaces[0].descriptor.maxSlotIndex, 1);
  t.same(supportedVoltages({ voltageSupport: 0x07 }), [1, 2, 3]);
  t.same(supportedVoltages({ voltageSupport: 0x02 }), [2]);
});

t.test('the GemPC Twin bytes decode field by field', async (t) => {
  const raw = encodeCcidDescriptor(PROFILES['gempc-twin'].interfaces[0].descriptor);
  t.equal(raw.toString('hex').slice(0, 12), '362110010007', 'bLength 36, type 21, bcdCCID 0110 LE, slot index 0, voltages 07');
  const d = parseCcidDescriptor(raw);
  t.equal(d.features, 0x00010230);
  t.equal(d.maxMessageLength, 271);
  t.equal(d.maxDataRate, 344086);
});

t.test('bad descriptors are refused with the reason', async (t) => {
  const good = encodeCcidDescriptor(PROFILES.acr122u.interfaces[0].descriptor);
  t.throws(() => parseCcidDescriptor(good.subarray(0, 53)), new CcidDescriptorError('53 bytes, expected 54'));
  const badLen = Buffer.from(good);
  badLen[0] = 0x35;
  t.throws(() => parseCcidDescriptor(badLen), /bLength is 53/);
  const badType = Buffer.from(good);
  badType[1] = 0x22;
  t.throws(() => parseCcidDescriptor(badType), /bDescriptorType is 0x22/);
  const vendorType = Buffer.from(good);
  vendorType[1] = 0xff;
  t.equal(parseCcidDescriptor(vendorType).descriptorType, 0xff, '0xFF accepted (proprietary)');
});

t.test('the descriptor among class-specific bytes, and from a raw configuration descriptor', async (t) => {
  const d = encodeCcidDescriptor(PROFILES.acr122u.interfaces[0].descriptor);
  const other = Buffer.from([0x05, 0x24, 0x00, 0x01, 0x02]);
  t.same(findClassDescriptor(Buffer.concat([other, d])), d, 'after another class descriptor');
  t.same(findClassDescriptor(Buffer.alloc(0), [Buffer.alloc(0), d]), d, "in the last endpoint's extra bytes");
  t.equal(findClassDescriptor(Buffer.from([0x36, 0x21, 0x00])), undefined, 'truncated: none');
  // config(9) iface0(9) ccid(54) ep(7) ep(7) iface1(9) ccid(54) ep(7)
  const iface = (n: number) => Buffer.from([9, 4, n, 0, 2, 0x0b, 0, 0, 0]);
  const ep = (a: number) => Buffer.from([7, 5, a, 2, 64, 0, 0]);
  const d2 = encodeCcidDescriptor(PROFILES.acr1252u.interfaces[1].descriptor);
  const body = Buffer.concat([iface(0), d, ep(0x01), ep(0x82), iface(1), d2, ep(0x03)]);
  const cfg = Buffer.concat([Buffer.from([9, 2, (body.length + 9) & 0xff, (body.length + 9) >> 8, 2, 1, 0, 0x80, 50]), body]);
  const x = configurationExtras(cfg);
  t.equal(x.length, 2);
  t.same(x[0].extra, d);
  t.same(x[1].extra, d2);
  t.equal(x[0].endpointExtras.length, 2);
});

t.test("libccid's parse-output format: our profiles printed and read back", async (t) => {
  for (const p of Object.values(PROFILES)) {
    const { profile } = parseReaderFile(formatParseOutput(p), p.key);
    t.equal(profile.vendorId, p.vendorId);
    t.equal(profile.productId, p.productId);
    t.equal(profile.bcdDevice, p.bcdDevice, `${p.key}: bcdDevice`);
    t.equal(profile.product, p.product);
    t.same(
      profile.interfaces.map((i) => i.descriptor),
      p.interfaces.map((i) => i.descriptor),
      `${p.key}: descriptors`,
    );
  }
  t.throws(() => parseReaderFile('hello'), /not a libccid parse output/);
  t.throws(() => parseReaderFile(' idVendor: 0x1234\n dwFeatures: 0x00010000\n'), /missing bcdCCID/);
});

t.test('fuzz: the parsers never throw anything but their own errors, and never lose a byte', async (t) => {
  fc.assert(
    fc.property(fc.uint8Array({ minLength: 0, maxLength: 80 }), (b) => {
      try {
        const d = parseCcidDescriptor(b);
        // What parsed re-encodes to the same 54 bytes.
        if (!encodeCcidDescriptor(d).equals(Buffer.from(b.subarray(0, 54)))) throw new Error('round trip lost bytes');
      } catch (e) {
        if (!(e instanceof CcidDescriptorError)) throw e;
      }
      findClassDescriptor(b, [b]);
      configurationExtras(b);
      const m = decodeMessage(b);
      if (m.ok && !encodeMessage(m.msg.type, m.msg.slot, m.msg.seq, m.msg.p, m.msg.data).equals(Buffer.from(b))) throw new Error('message round trip');
    }),
    { numRuns: 3000 },
  );
  fc.assert(
    fc.property(fc.string({ maxLength: 400 }), (s) => {
      try {
        parseReaderFile(s);
      } catch (e) {
        if ((e as Error).constructor.name !== 'ParseOutputError') throw e;
      }
    }),
    { numRuns: 1000 },
  );
  t.pass('4000 random inputs');
});

t.test('fuzz: the emulated firmware answers any bulk-OUT bytes with a well-formed reply or nothing', async (t) => {
  const dev = new EmulatedCcidDevice('two-slot');
  dev.insert('iso7816', { slot: 1 });
  const fn = dev.fn(0);
  await fc.assert(
    fc.asyncProperty(fc.uint8Array({ minLength: 0, maxLength: 40 }), async (b) => {
      const replies: Buffer[] = [];
      await fn.handle(Buffer.from(b), (m) => replies.push(m));
      for (const r of replies) {
        const d = decodeMessage(r);
        if (!d.ok) throw new Error(`malformed reply ${r.toString('hex')}`);
        if (b.length >= 10 && d.msg.seq !== b[6]) throw new Error('reply bSeq differs from the command');
      }
    }),
    { numRuns: 1500 },
  );
  t.pass('no crash, every reply decodes');
});
