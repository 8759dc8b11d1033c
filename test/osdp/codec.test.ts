/**
 * OSDP packet codec and check characters (docs/osdp.md §2), the framer's
 * recovery from line noise, and the data records (§4).
 */
import t from 'tap';
import { checksum8, crc16 } from '../../src/osdp/crc.js';
import { CMD, REPLY, SCS } from '../../src/osdp/codes.js';
import { decodePacket, encodePacket, OsdpFrameError, type Packet } from '../../src/osdp/packet.js';
import { Framer } from '../../src/osdp/framer.js';
import * as rec from '../../src/osdp/records.js';

const hex = (s: string): Buffer => Buffer.from(s.replace(/\s+/g, ''), 'hex');
/** The error `fn` throws (undefined when it does not throw). */
const thrown = (fn: () => unknown): unknown => {
  try {
    fn();
  } catch (e) {
    return e;
  }
  return undefined;
};

/** Bit-by-bit CRC-16 with polynomial 0x1021 from 0x1D0F: the textbook definition, to check the table version against. */
function crcBitwise(b: Buffer): number {
  let c = 0x1d0f;
  for (const x of b) {
    c ^= x << 8;
    for (let i = 0; i < 8; i++) c = c & 0x8000 ? ((c << 1) ^ 0x1021) & 0xffff : (c << 1) & 0xffff;
  }
  return c;
}

t.test('CRC-16/AUG-CCITT and checksum', async (t) => {
  t.equal(crc16(Buffer.from('123456789')), 0xe5cc, 'catalogue check value of CRC-16/AUG-CCITT');
  for (const s of ['', '53', '530008000460', 'ffffffff00', '00112233445566778899aabbccddeeff53']) t.equal(crc16(hex(s)), crcBitwise(hex(s)), `table = bitwise for ${s || '(empty)'}`);
  t.equal(checksum8(hex('53 00 07 00 00 60')), (0x100 - ((0x53 + 0x07 + 0x60) & 0xff)) & 0xff);
  t.equal((checksum8(hex('01 02 03')) + 6) & 0xff, 0, 'sum of bytes and checksum is 0 mod 256');
});

t.test('osdp_POLL byte for byte', async (t) => {
  const poll = encodePacket({ address: 0x01, reply: false, sqn: 1, crc: true, code: CMD.POLL, data: Buffer.alloc(0) });
  const head = hex('53 01 08 00 05 60');
  t.same(poll.subarray(0, 6), head, 'SOM, address, length 8 (LSB first), control = sqn 1 | CRC, code');
  t.equal(poll.readUInt16LE(6), crcBitwise(head), 'CRC low byte first');
  const ck = encodePacket({ address: 0x05, reply: false, sqn: 2, crc: false, code: CMD.POLL, data: Buffer.alloc(0) });
  t.same(ck, Buffer.concat([hex('53 05 07 00 02 60'), Buffer.from([checksum8(hex('53 05 07 00 02 60'))])]), 'checksum form: 7 bytes');
  const ack = encodePacket({ address: 0x01, reply: true, sqn: 1, crc: true, code: REPLY.ACK, data: Buffer.alloc(0) });
  t.equal(ack[1], 0x81, 'replies set bit 7 of the address');
});

t.test('round trip with a security block and MAC', async (t) => {
  const p: Packet = { address: 0x22, reply: true, sqn: 3, crc: true, scb: { type: SCS.S18, data: Buffer.alloc(0) }, code: REPLY.RAW, data: hex('00112233445566778899aabbccddeeff') };
  let covered: Buffer | undefined;
  const b = encodePacket(p, (c) => {
    covered = Buffer.from(c);
    return hex('deadbeef');
  });
  t.equal(b.readUInt16LE(2), b.length);
  t.same(b.subarray(5, 7), hex('02 18'), 'SCB length 2, type 0x18');
  const d = decodePacket(b);
  t.same(d.packet, { ...p, mac: hex('deadbeef') });
  t.same(d.macInput, covered, 'the MAC covers SOM .. last data byte');
  const hs = encodePacket({ address: 1, reply: false, sqn: 1, crc: true, scb: { type: SCS.S11, data: hex('01') }, code: CMD.CHLNG, data: hex('0102030405060708') });
  t.same(hs.subarray(5, 8), hex('03 11 01'), 'handshake SCB carries its key byte');
  t.same(decodePacket(hs).packet.scb, { type: SCS.S11, data: hex('01') });
});

t.test('decode names the problem', async (t) => {
  const good = encodePacket({ address: 1, reply: false, sqn: 1, crc: true, code: CMD.ID, data: hex('00') });
  const bad = Buffer.from(good);
  bad[6] ^= 0x01;
  t.match(thrown(() => decodePacket(bad)), { name: 'OsdpFrameError', problem: 'check' });
  t.match(thrown(() => decodePacket(good.subarray(0, 5))), { problem: 'short' });
  const wrongLen = Buffer.from(good);
  wrongLen[2] = 20;
  t.match(thrown(() => decodePacket(wrongLen)), { problem: 'length' });
  const notSom = Buffer.from(good);
  notSom[0] = 0x54;
  const e = thrown(() => decodePacket(notSom));
  t.ok(e instanceof OsdpFrameError && e.problem === 'som', 'not SOM');
});

t.test('framer: marks, noise, split chunks, corrupted packets, stale partials', async (t) => {
  const f = new Framer(50);
  const got: number[] = [];
  const discards: string[] = [];
  f.on('packet', (d) => got.push(d.packet.code));
  f.on('discard', (r) => discards.push(r));
  const a = encodePacket({ address: 1, reply: false, sqn: 1, crc: true, code: CMD.POLL, data: Buffer.alloc(0) });
  const b = encodePacket({ address: 1, reply: false, sqn: 2, crc: true, code: CMD.ID, data: hex('00') });
  const c = encodePacket({ address: 1, reply: false, sqn: 3, crc: false, code: CMD.LSTAT, data: Buffer.alloc(0) });
  const broken = Buffer.from(b);
  broken[broken.length - 1] ^= 0xff;
  const stream = Buffer.concat([hex('ff ff'), a, hex('00 53 01'), broken, hex('ff'), b, c]);
  let now = 1000;
  for (let i = 0; i < stream.length; i += 3) f.push(stream.subarray(i, i + 3), now++);
  t.same(got, [CMD.POLL, CMD.ID, CMD.LSTAT], 'every good packet, none of the bad');
  t.ok(discards.length > 0, 'the noise was reported');
  f.push(a.subarray(0, 4), 2000);
  f.push(a.subarray(4), 2100);
  t.equal(got.length, 3, 'a packet split by a 100 ms silence is dropped, not glued');
  f.push(a, 2101);
  t.equal(got.length, 4, 'and the next whole packet is taken');
});

t.test('records', async (t) => {
  const led: rec.LedRecord = {
    reader: 0,
    led: 0,
    temporary: { control: 2, onTime: 5, offTime: 5, onColor: 2, offColor: 0, timer: 30 },
    permanent: { control: 1, onTime: 1, offTime: 0, onColor: 1, offColor: 0 },
  };
  const l = rec.encodeLed([led]);
  t.same(l, hex('00 00 02 05 05 02 00 1e 00 01 01 00 01 00'));
  t.same(rec.decodeLed(l), [led]);
  t.match(thrown(() => rec.decodeLed(l.subarray(0, 13))), { kind: 'length' });
  const badTemp = Buffer.from(l);
  badTemp[2] = 7;
  t.match(thrown(() => rec.decodeLed(badTemp)), { kind: 'value' });
  t.same(rec.decodeBuz(hex('00 02 03 02 01')), { reader: 0, tone: 2, onTime: 3, offTime: 2, count: 1 });
  t.same(rec.encodeCom({ address: 5, baudRate: 115200 }), hex('05 00 c2 01 00'));
  t.same(rec.decodeRaw(hex('00 01 1a 00 59 50 82 40')), { reader: 0, format: 1, bitCount: 26, data: hex('59 50 82 40') });
  t.match(thrown(() => rec.decodeRaw(hex('00 01 1a 00 59 50 82'))), { kind: 'length' });
  t.same(rec.decodeKeypad(rec.encodeKeypad({ reader: 0, keys: '12*#' })), { reader: 0, keys: '12*#' });
  t.same(rec.encodeKeypad({ reader: 0, keys: '1*#' }), hex('00 03 31 7f 0d'));
  const id: rec.PdIdentity = { vendorCode: 0x0a0b0c, model: 1, version: 2, serial: 0x11223344, firmware: [1, 2, 3] };
  t.same(rec.encodePdid(id), hex('0c 0b 0a 01 02 44 33 22 11 01 02 03'));
  t.same(rec.decodePdid(rec.encodePdid(id)), id);
  t.same(rec.clientUid(id), hex('0c 0b 0a 01 44 33 22 11'));
  t.same(rec.decodeCaps(rec.encodeCaps([{ fn: 4, compliance: 1, count: 1 }])), [{ fn: 4, compliance: 1, count: 1 }]);
  t.same(rec.decodeKeyset(rec.encodeKeyset(Buffer.alloc(16, 7))), Buffer.alloc(16, 7));
  t.match(thrown(() => rec.decodeKeyset(hex('02 10').subarray(0))), { kind: 'length' });
});
