/**
 * Fuzz of everything that parses bytes from the line (fast-check): the packet
 * decoder and the framer never throw anything but a named OsdpFrameError and
 * never accept a packet whose check character is wrong; the PD engine answers
 * any well-framed command with a well-framed reply or silence, never an exception.
 */
import t from 'tap';
import fc from 'fast-check';
import { decodePacket, encodePacket, OsdpFrameError } from '../../src/osdp/packet.js';
import { Framer } from '../../src/osdp/framer.js';
import { crc16 } from '../../src/osdp/crc.js';
import { memoryLinkPair } from '../../src/osdp/link.js';
import { EmulatedPd } from '../../emulators/osdp/pd.js';
import { KEY } from './helpers.js';

t.test('decodePacket: any bytes', async (t) => {
  fc.assert(
    fc.property(fc.uint8Array({ maxLength: 300 }), (a) => {
      try {
        decodePacket(Buffer.from(a));
        // accepted: the check character really is right
        const b = Buffer.from(a);
        if (b[4] & 0x04) return crc16(b, 0, b.length - 2) === b.readUInt16LE(b.length - 2);
        return true;
      } catch (e) {
        return e instanceof OsdpFrameError;
      }
    }),
    { numRuns: 20000 },
  );
  t.pass('20,000 random inputs');
});

const packetArb = fc.record({
  address: fc.integer({ min: 0, max: 0x7f }),
  reply: fc.boolean(),
  sqn: fc.integer({ min: 0, max: 3 }),
  crc: fc.boolean(),
  code: fc.integer({ min: 0, max: 255 }),
  data: fc.uint8Array({ maxLength: 64 }).map((a) => Buffer.from(a)),
});

t.test('framer: valid packets survive any noise around them, corrupted ones are never delivered as something else', async (t) => {
  fc.assert(
    fc.property(fc.array(fc.tuple(packetArb, fc.uint8Array({ maxLength: 20 }), fc.boolean()), { maxLength: 8 }), fc.integer({ min: 1, max: 17 }), (items, chunk) => {
      const f = new Framer(1e9);
      const got: string[] = [];
      f.on('packet', (_d, raw) => got.push(raw.toString('hex')));
      const good = new Set<string>();
      const parts: Buffer[] = [];
      for (const [p, noise, corrupt] of items) {
        const b = encodePacket(p);
        if (corrupt) b[5 + (b.length - 6 > 0 ? (noise.length % (b.length - 6)) : 0)] ^= 0x10;
        else good.add(b.toString('hex'));
        parts.push(Buffer.from(noise.filter((x) => x !== 0x53)), b);
      }
      const stream = Buffer.concat(parts);
      for (let i = 0; i < stream.length; i += chunk) f.push(stream.subarray(i, i + chunk));
      // every delivered packet passes its check; each clean packet preceded by SOM-free noise is delivered
      return got.every((g) => {
        try {
          decodePacket(Buffer.from(g, 'hex'));
          return true;
        } catch {
          return false;
        }
      }) && [...good].every((g) => got.includes(g) || stream.indexOf(Buffer.from(g, 'hex')) < 0);
    }),
    { numRuns: 3000 },
  );
  t.pass('3,000 streams');
});

t.test('PD engine: any command, any data, any security block', async (t) => {
  const [, b] = memoryLinkPair();
  const pd = new EmulatedPd(b, { scbk: KEY, installMode: true });
  fc.assert(
    fc.property(
      packetArb,
      fc.option(fc.record({ type: fc.integer({ min: 0x10, max: 0x19 }), data: fc.uint8Array({ maxLength: 3 }).map((a) => Buffer.from(a)) })),
      (p, scb) => {
        const pkt = { ...p, reply: false, address: p.address % 2 ? 1 : 0x7f, scb: scb ?? undefined };
        let bytes: Buffer;
        try {
          bytes = encodePacket({ ...pkt, mac: Buffer.alloc(4) });
        } catch {
          return true;
        }
        const r = pd.engine.handle(decodePacket(bytes));
        if (!r) return true;
        const reply = decodePacket(r.bytes).packet;
        return reply.reply && reply.sqn === pkt.sqn;
      },
    ),
    { numRuns: 20000 },
  );
  t.pass('20,000 commands');
});
