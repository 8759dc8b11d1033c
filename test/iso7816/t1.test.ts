import t from 'tap';
import { T1Protocol } from '../../src/iso7816/t1.js';
import { T1Card, type T1CardFault } from '../../src/iso7816/t1-card.js';
import { crc16, lrc, encodeBlock, parseBlock, describeBlock, swapNad } from '../../src/iso7816/t1-block.js';
import { parseApdu, encodeApdu } from '../../src/iso7816/apdu.js';
import { parseHex, toHex } from '../../src/iso7816/hex.js';
import { PcscError } from '../../src/pcsc/error.js';
import { SCARD } from '../../src/pcsc/constants.js';
import type { EdcType } from '../../src/iso7816/t1-block.js';

const pattern = (n: number, base = 0): Buffer => Buffer.from(Array.from({ length: n }, (_, i) => (i * 7 + base) & 0xff));

/**
 * Card application: READ (INS B0) answers Ne bytes of a pattern; anything else
 * answers with 2-byte Nc, the XOR of its data and the first 4 data bytes.
 */
function app(apdu: Buffer): Buffer {
  const a = parseApdu(apdu);
  if (a.ins === 0xb0) return Buffer.concat([pattern(a.le ?? 0, a.p2), Buffer.from([0x90, 0x00])]);
  return Buffer.concat([Buffer.from([a.data.length >> 8, a.data.length & 0xff, lrc(a.data)]), a.data.subarray(0, 4), Buffer.from([0x90, 0x00])]);
}
const expected = (apdu: Buffer): Buffer => app(apdu);

type LineFault = 'corrupt' | 'drop';

/** Reader <-> card wire with optional faults on the reader's blocks (by index). */
function wire(card: T1Card) {
  const line = new Map<number, LineFault>();
  let n = 0;
  const exchange = async (block: Buffer, wtx: number): Promise<Buffer> => {
    const f = line.get(n++);
    if (f === 'drop') return Buffer.alloc(0);
    if (f === 'corrupt') {
      const b = Buffer.from(block);
      b[b.length - 1] ^= 0x01;
      return card.handleBlock(b, wtx);
    }
    return card.handleBlock(block, wtx);
  };
  return { exchange, line, count: () => n };
}

function pair(opts: { ifsc?: number; ifsd?: number; edc?: EdcType; maxInf?: number; nad?: number } = {}) {
  const card = new T1Card(app, { ifsc: opts.ifsc, edc: opts.edc, maxInf: opts.maxInf });
  const w = wire(card);
  const reader = new T1Protocol({ ifsc: opts.ifsc, ifsd: opts.ifsd, edc: opts.edc, nad: opts.nad }, w.exchange);
  return { card, reader, w };
}

const readApdu = (n: number, p2 = 0) => encodeApdu({ cla: 0, ins: 0xb0, p1: 0, p2, le: n });
const writeApdu = (n: number) => encodeApdu({ cla: 0, ins: 0xd6, p1: 0, p2: 0, data: pattern(n, 3) });

t.test('block codec, LRC and CRC', async (t) => {
  t.equal(crc16(Buffer.from('123456789')), 0x6f91, 'CRC-16 check value (reflected CCITT, init FFFF, no xorout)');
  t.equal(toHex(encodeBlock({ type: 'S', nad: 0, response: false, sType: 1, inf: Buffer.from([0xfe]) }, 'lrc')), '00 C1 01 FE 3E');
  t.equal(toHex(encodeBlock({ type: 'S', nad: 0, response: true, sType: 1, inf: Buffer.from([0xfe]) }, 'lrc')), '00 E1 01 FE 1E');
  t.equal(toHex(encodeBlock({ type: 'R', nad: 0, nr: 1, error: 0 }, 'lrc')), '00 90 00 90');
  t.equal(toHex(encodeBlock({ type: 'I', nad: 0, ns: 1, more: true, inf: parseHex('01 02') }, 'lrc')), '00 60 02 01 02 61');
  const crcBlock = encodeBlock({ type: 'I', nad: 0, ns: 0, more: false, inf: parseHex('00 A4 04 00') }, 'crc');
  t.equal(crcBlock.length, 3 + 4 + 2);
  t.same(parseBlock(crcBlock, 'crc'), { ok: true, block: { type: 'I', nad: 0, ns: 0, more: false, inf: parseHex('00 A4 04 00') } });
  t.match(parseBlock(parseHex('00 00 01 AA AC'), 'lrc'), { ok: false, edc: true, reason: /LRC mismatch/ });
  t.match(parseBlock(parseHex('00 00 FF'), 'lrc'), { ok: false, reason: /shorter/ });
  t.match(parseBlock(parseHex('00 00 FF FF'), 'lrc'), { ok: false, edc: false, reason: /LEN FF/ });
  t.match(parseBlock(parseHex('00 00 02 01 03'), 'lrc'), { ok: false, reason: /LEN 2 but block has 1/ });
  t.match(parseBlock(parseHex('00 83 00 83'), 'lrc'), { ok: false, reason: /undefined error code/ });
  t.match(parseBlock(parseHex('00 C4 00 C4'), 'lrc'), { ok: false, reason: /undefined type/ });
  t.match(parseBlock(parseHex('00 C3 00 C3'), 'lrc'), { ok: false, reason: /WTX.*LEN 0, expected 1/ });
  t.match(parseBlock(parseHex('80 00 00 80'), 'lrc'), { ok: false, reason: /NAD 80/ });
  t.match(parseBlock(Buffer.alloc(0), 'lrc'), { ok: false, reason: /timeout/ });
  t.equal(describeBlock({ type: 'S', nad: 0, response: false, sType: 3, inf: Buffer.from([2]) }), 'S(WTX req 2)');
  t.equal(swapNad(0x12), 0x21);
  t.throws(() => encodeBlock({ type: 'I', nad: 0, ns: 0, more: false, inf: Buffer.alloc(255) }, 'lrc'), RangeError);
});

t.test('plain exchange, LRC and CRC, with NAD', async (t) => {
  for (const edc of ['lrc', 'crc'] as const) {
    const { reader, card } = pair({ edc, nad: 0x12 });
    const apdu = parseHex('00 A4 04 00 02 3F 00');
    t.same([...(await reader.transmit(apdu))], [...expected(apdu)], `${edc}: response intact`);
    t.same([...(await reader.transmit(readApdu(10)))], [...expected(readApdu(10))]);
    t.equal(card.stats.apdus, 2);
    t.equal(reader.stats.invalidReceived, 0);
    t.equal(reader.ns, 0, 'N(S) toggled twice');
    t.equal(reader.nr, 0);
  }
});

t.test('chaining both ways', async (t) => {
  const { reader, card } = pair({ ifsc: 32, ifsd: 32 });
  const cmd = writeApdu(1000);
  t.same([...(await reader.transmit(cmd))], [...expected(cmd)], '1000-byte command arrives intact');
  t.equal(card.stats.largestInfReceived, 32, 'reader honours IFSC');
  t.ok(card.stats.blocksReceived >= Math.ceil(cmd.length / 32));
  const rd = readApdu(4000);
  const r = await reader.transmit(rd);
  t.equal(r.length, 4002);
  t.ok(r.equals(expected(rd)), '4000-byte response arrives intact through chained card blocks');
  // both ways at once
  const both = encodeApdu({ cla: 0, ins: 0xb0, p1: 0, p2: 9, data: pattern(700), le: 3000 });
  t.ok((await reader.transmit(both)).equals(expected(both)));
  // chaining forced below IFSD
  const p = pair({ ifsd: 254, maxInf: 5 });
  await p.reader.negotiateIfsd(254);
  t.ok((await p.reader.transmit(readApdu(100))).equals(expected(readApdu(100))));
});

t.test('IFS negotiation both directions', async (t) => {
  const { reader, card } = pair({ ifsc: 254 });
  t.equal(card.ifsd, 32);
  await reader.negotiateIfsd(254);
  t.equal(card.ifsd, 254, 'card learned our IFSD');
  t.equal(reader.ifsd, 254);
  const before = card.stats.blocksSent;
  t.ok((await reader.transmit(readApdu(500))).equals(expected(readApdu(500))));
  t.equal(card.stats.blocksSent - before, 2, '502 bytes in blocks of at most 254: 2 I-blocks (16 at the default 32)');
  // The card asks for a smaller IFSC before its next response; the reader then sends smaller blocks.
  card.requestIfs(16);
  t.ok((await reader.transmit(writeApdu(10))).equals(expected(writeApdu(10))));
  t.equal(reader.ifsc, 16);
  card.stats.largestInfReceived = 0;
  t.ok((await reader.transmit(writeApdu(200))).equals(expected(writeApdu(200))));
  t.equal(card.stats.largestInfReceived, 16);
  await t.rejects(reader.negotiateIfsd(255), { code: SCARD.E_INVALID_PARAMETER });
});

t.test('WTX: the reader answers and passes the multiplier for the next wait only', async (t) => {
  const { reader, card } = pair();
  card.requestWtx(5);
  card.requestWtx(3);
  t.ok((await reader.transmit(readApdu(20))).equals(expected(readApdu(20))));
  t.same(card.wtxSeen, [1, 5, 3]);
  t.equal(reader.stats.wtxRequests, 2);
  t.ok((await reader.transmit(readApdu(20))).equals(expected(readApdu(20))));
  t.same(card.wtxSeen.slice(3), [1]);
});

const CARD_FAULTS: T1CardFault[] = ['corrupt-edc', 'drop', 'bad-len', 'bad-pcb', 'bad-nad'];

t.test('every card-side error class recovers at every block position', async (t) => {
  // A chained exchange both ways: command of 100 bytes (4 blocks at IFSC 32), response of 100 (4 blocks).
  const cmd = encodeApdu({ cla: 0, ins: 0xb0, p1: 0, p2: 1, data: pattern(90), le: 98 });
  let cases = 0;
  for (const fault of CARD_FAULTS) {
    for (let k = 0; k < 9; k++) {
      for (const count of [1, 2, 3]) {
        const { reader, card } = pair();
        card.inject(fault, count, k);
        const r = await reader.transmit(cmd);
        if (!r.equals(expected(cmd))) t.fail(`${fault} x${count} at block ${k}: response corrupted`);
        if (reader.stats.resyncs !== 0) t.fail(`${fault} x${count} at block ${k}: needed a resync`);
        // and the link keeps working afterwards
        if (!(await reader.transmit(readApdu(40))).equals(expected(readApdu(40)))) t.fail(`${fault} at ${k}: next APDU broken`);
        cases++;
      }
    }
  }
  t.equal(cases, CARD_FAULTS.length * 9 * 3, `${cases} fault cases recovered by R-block rules`);
});

t.test('reader-side line errors (corrupted or lost reader blocks) recover', async (t) => {
  const cmd = encodeApdu({ cla: 0, ins: 0xb0, p1: 0, p2: 1, data: pattern(90), le: 98 });
  for (const f of ['corrupt', 'drop'] as const) {
    for (let k = 0; k < 9; k++) {
      const { reader, w } = pair();
      w.line.set(k, f);
      w.line.set(k + 1, f);
      const r = await reader.transmit(cmd);
      t.ok(r.equals(expected(cmd)), `${f} reader blocks ${k},${k + 1}`);
      t.equal(reader.stats.resyncs, 0);
    }
  }
});

t.test('faults around WTX and IFS requests recover', async (t) => {
  for (const fault of CARD_FAULTS) {
    for (let k = 0; k < 3; k++) {
      const { reader, card, w } = pair();
      card.requestWtx(4);
      card.requestIfs(20);
      card.inject(fault, 1, k);
      w.line.set(k + 1, 'corrupt');
      const r = await reader.transmit(writeApdu(60));
      t.ok(r.equals(expected(writeApdu(60))), `${fault} at ${k}`);
    }
  }
});

t.test('resynch after repeated failures, APDU still answered', async (t) => {
  const { reader, card } = pair();
  card.inject('corrupt-edc', 4);
  const r = await reader.transmit(readApdu(50));
  t.ok(r.equals(expected(readApdu(50))));
  t.equal(reader.stats.resyncs, 1);
  t.equal(card.stats.resyncs, 1);
  t.equal(reader.ns, 1, 'sequence restarted at 0 then toggled once');
  t.ok((await reader.transmit(readApdu(5))).equals(expected(readApdu(5))));
});

t.test('a mute card is declared dead with E_NOT_TRANSACTED', async (t) => {
  const reader = new T1Protocol({}, async () => Buffer.alloc(0));
  await t.rejects(reader.transmit(readApdu(5)), { code: SCARD.E_NOT_TRANSACTED });
  t.equal(reader.dead, true);
  await t.rejects(reader.transmit(readApdu(5)), { code: SCARD.E_NOT_TRANSACTED, message: /reset it first/ });
  // a card that always corrupts
  const { reader: r2, card } = pair();
  card.inject('corrupt-edc', 1000);
  await t.rejects(r2.transmit(readApdu(5)), { code: SCARD.E_NOT_TRANSACTED });
  t.equal(r2.dead, true);
  // after a card reset both sides start again
  card.reset();
  card.clearFaults();
  r2.reset(32);
  t.equal(r2.dead, false);
  t.ok((await r2.transmit(readApdu(5))).equals(expected(readApdu(5))));
});

t.test('S(ABORT) from the card aborts the chain; the link recovers', async (t) => {
  const { reader, card } = pair();
  card.abortNextChain();
  await t.rejects(reader.transmit(writeApdu(200)), { code: SCARD.E_NOT_TRANSACTED, message: /aborted/ });
  t.equal(card.stats.apdus, 0, 'the aborted command never reached the application');
  t.ok((await reader.transmit(writeApdu(200))).equals(expected(writeApdu(200))));
});

t.test('transport failures propagate unchanged; bad options refused', async (t) => {
  const boom = new Error('usb gone');
  const reader = new T1Protocol({}, async () => {
    throw boom;
  });
  await t.rejects(reader.transmit(readApdu(1)), boom);
  t.throws(() => new T1Protocol({ ifsc: 0 }, async () => Buffer.alloc(0)), { code: SCARD.E_INVALID_PARAMETER });
  t.throws(() => new T1Protocol({ edc: 'md5' as EdcType }, async () => Buffer.alloc(0)), PcscError);
  await t.rejects(new T1Protocol({}, async () => Buffer.alloc(0)).transmit(Buffer.alloc(0)), { code: SCARD.E_INVALID_PARAMETER });
});

function xorshift(seed: number) {
  let s = seed >>> 0 || 1;
  return () => {
    s ^= s << 13;
    s ^= s >>> 17;
    s ^= s << 5;
    return s >>> 0;
  };
}

t.test('soak: random APDUs with random faults on both sides stay intact', async (t) => {
  const rnd = xorshift(0x7117);
  for (const edc of ['lrc', 'crc'] as const) {
    const card = new T1Card(app, { ifsc: 40, edc });
    const line = new Map<number, LineFault>();
    let n = 0;
    const reader = new T1Protocol({ ifsc: 40, ifsd: 48, edc }, async (block, wtx) => {
      const f = line.get(n++);
      if (f === 'drop') return Buffer.alloc(0);
      if (f === 'corrupt') {
        const b = Buffer.from(block);
        b[rnd() % b.length] ^= 1 << rnd() % 8;
        return card.handleBlock(b, wtx);
      }
      return card.handleBlock(block, wtx);
    });
    await reader.negotiateIfsd(48);
    let ok = 0;
    for (let i = 0; i < 200; i++) {
      const apdu = rnd() % 2 ? readApdu(1 + (rnd() % 600), i & 0xff) : writeApdu(1 + (rnd() % 600));
      if (rnd() % 3 === 0) card.inject(CARD_FAULTS[rnd() % CARD_FAULTS.length], 1, rnd() % 6);
      if (rnd() % 4 === 0) line.set(n + (rnd() % 6), rnd() % 2 ? 'drop' : 'corrupt');
      if (rnd() % 10 === 0) card.requestWtx(1 + (rnd() % 8));
      const r = await reader.transmit(apdu);
      if (r.equals(expected(apdu))) ok++;
      else t.fail(`${edc} APDU ${i} corrupted`);
    }
    t.equal(ok, 200, `${edc}: 200 APDUs intact; reader stats ${JSON.stringify(reader.stats)}`);
  }
});

t.test('fuzz: random card replies only ever yield PcscError', async (t) => {
  const rnd = xorshift(0xf00d);
  let errors = 0;
  let answers = 0;
  for (let i = 0; i < 3000; i++) {
    const reader = new T1Protocol({ maxBlocks: 200 }, async () => {
      const len = rnd() % 12;
      const b = Buffer.alloc(len);
      for (let j = 0; j < len; j++) b[j] = rnd() & 0xff;
      // half of the time make it a well-formed block so deeper paths run
      if (len >= 4 && rnd() % 2) {
        b[0] = 0;
        b[2] = len - 4;
        b[len - 1] = lrc(b, 0, len - 1);
      }
      return b;
    });
    try {
      await reader.transmit(readApdu(1 + (rnd() % 100)));
      answers++;
    } catch (e) {
      if (!(e instanceof PcscError)) {
        t.fail(`unexpected ${String(e)}`);
        break;
      }
      errors++;
    }
  }
  t.ok(errors + answers === 3000, `${answers} accidental answers, ${errors} PcscErrors`);
});

t.test('fuzz: parseBlock and the card side never throw on random input', async (t) => {
  const rnd = xorshift(0xb10c);
  const card = new T1Card(app, {});
  let valid = 0;
  for (let i = 0; i < 20000; i++) {
    const len = rnd() % 10;
    const b = Buffer.alloc(len);
    for (let j = 0; j < len; j++) b[j] = rnd() & 0xff;
    if (len >= 4 && rnd() % 2) {
      b[0] = 0;
      b[2] = len - 4;
      b[len - 1] = lrc(b, 0, len - 1);
    }
    for (const edc of ['lrc', 'crc'] as const) if (parseBlock(b, edc).ok) valid++;
    const out = await card.handleBlock(b, 1);
    if (out.length > 0 && !parseBlock(out, 'lrc').ok) t.fail('card sent an invalid block without a fault injected');
  }
  t.ok(valid > 100, `${valid} random blocks were well formed`);
  // the card is still usable after the noise once resynchronised
  const reader = new T1Protocol({}, (b, w) => card.handleBlock(b, w));
  await reader.resync();
  t.ok((await reader.transmit(readApdu(64))).equals(expected(readApdu(64))));
});
