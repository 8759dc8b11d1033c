/**
 * Fuzz targets: every parser that takes bytes from outside the gateway, with
 * a fast-check input generator (random bytes mixed with mutations of valid
 * inputs, so the fuzzer gets past the first length check) and the property
 * it must hold. Shared by the short runs in `make test` (test/fuzz/*.test.ts)
 * and the long ones of `make fuzz` (bench/fuzz/run.ts).
 *
 * The property is always at least: the parser answers (a value, or its own
 * typed error naming the problem) and never throws anything else (TypeError,
 * RangeError: a bug); where the format allows, also that what parses encodes
 * back to the same bytes, and that a stream parser makes progress.
 */
import fc from 'fast-check';
import { AtrError, parseAtr, parsePps } from '../../src/iso7816/atr.js';
import { ApduError, encodeApdu, parseApdu, parseResponse } from '../../src/iso7816/apdu.js';
import { encodeBlock, parseBlock, type EdcType } from '../../src/iso7816/t1-block.js';
import { HexError, parseHex } from '../../src/iso7816/hex.js';
import { encodeFrame as pn532Frame, parseFrame } from '../../drivers/pn532/frame.js';
import { encodeFrames as vpcdFrames, FrameDecoder } from '../../drivers/vpcd/frame.js';
import { CMD, encodeRequest, PcscProtocolError, RequestDecoder, type Request } from '../../src/api/pcsc/codec.js';
import { parseRequest } from '../../src/api/mqtt/requests.js';
import { METHODS, TRANSACTION_MAX_LENGTH } from '../../src/api/mqtt/topics.js';
import { ConfigError, parseYaml, resolveConfig } from '../../src/config/load.js';
import { PcscError } from '../../src/pcsc/error.js';
import { LineSplitter, parseControlLine } from '../../src/api/control/protocol.js';
import { OPERATION_NAMES } from '../../src/gateway/catalog.js';
import { checkOperation, checkParamsNow, prepareValidators } from '../../src/gateway/validate.js';
import { decodeMessage, encodeMessage } from '../../drivers/ccid/messages.js';
import { CcidDescriptorError, configurationExtras, findClassDescriptor, parseCcidDescriptor } from '../../drivers/ccid/descriptor.js';
import { decodePacket, encodePacket, OsdpFrameError } from '../../src/osdp/packet.js';
import { Framer } from '../../src/osdp/framer.js';

export interface FuzzTarget<T = unknown> {
  name: string;
  /** Source of the parser (for the report). */
  parser: string;
  input: fc.Arbitrary<T>;
  /** Run once before the first input (e.g. compile validators that load lazily). */
  setup?: () => Promise<void>;
  /** Throws (a property failure) when the parser misbehaves on `x`. */
  check(x: T): void;
}

/** Throw unless `fn` returns or throws one of `allowed` with a message. */
function answers<R>(fn: () => R, ...allowed: Array<new (...a: any[]) => Error>): R | undefined {
  try {
    return fn();
  } catch (e) {
    if (allowed.some((k) => e instanceof k) && (e as Error).message.length > 0) return undefined;
    throw e;
  }
}

function assert(cond: unknown, what: string): asserts cond {
  if (!cond) throw new Error(`property violated: ${what}`);
}

/** Valid inputs with up to 8 random edits (flip, insert, delete, truncate), mixed with plain random bytes. */
export function mutated(seeds: Uint8Array[], maxLength = 300): fc.Arbitrary<Buffer> {
  const edit = fc.tuple(fc.nat(), fc.integer({ min: 0, max: 255 }), fc.integer({ min: 0, max: 3 }));
  const mutant = fc.tuple(fc.constantFrom(...seeds), fc.array(edit, { maxLength: 8 })).map(([seed, edits]) => {
    const b = [...seed];
    for (const [at, v, op] of edits) {
      const i = b.length ? at % b.length : 0;
      if (op === 0) b[i] = v;
      else if (op === 1) b.splice(i, 0, v);
      else if (op === 2) b.splice(i, 1);
      else b.length = i;
    }
    return Buffer.from(b);
  });
  return fc.oneof(
    { weight: 3, arbitrary: mutant },
    { weight: 1, arbitrary: fc.constantFrom(...seeds).map((s) => Buffer.from(s)) },
    { weight: 2, arbitrary: fc.uint8Array({ maxLength }).map((a) => Buffer.from(a)) },
  );
}

const hex = (s: string): Buffer => Buffer.from(s.replace(/\s+/g, ''), 'hex');

const ATR_SEEDS = [
  '3B8F8001804F0CA000000306030001000000006A',
  '3B8B8131FE45805973636172646761746529',
  '3BDB96008031FE451F8473636172646761746571',
  '3B6E00000031C071D66438B0030390009000',
  '3BF81300008131FE45' + '4A434F5076323431' + 'B7',
  '3B02145093',
  '3F65250824048CCF',
].map(hex);

const APDU_SEEDS = ['00A4040007A0000000031010', '00B0000000', '0020008104313233340000', '00DA0000' + '00' + '0100' + 'AB'.repeat(256), '00B00000000100', '80CA9F7F00', 'FFCA000000'].map(hex);

const T1_SEEDS: Array<[EdcType, Buffer]> = [
  ['lrc', encodeBlock({ type: 'I', nad: 0, ns: 0, more: false, inf: hex('00A4040000') }, 'lrc')],
  ['lrc', encodeBlock({ type: 'R', nad: 0, nr: 1, error: 0 }, 'lrc')],
  ['lrc', encodeBlock({ type: 'S', nad: 0, response: false, sType: 1, inf: hex('FE') }, 'lrc')],
  ['crc', encodeBlock({ type: 'I', nad: 0x21, ns: 1, more: true, inf: hex('0084000008') }, 'crc')],
  ['crc', encodeBlock({ type: 'S', nad: 0, response: true, sType: 3, inf: hex('02') }, 'crc')],
];

const PN532_SEEDS = [
  pn532Frame(0xd5, hex('4B01010004080412345678')),
  pn532Frame(0xd5, hex('4100' + '9000')),
  pn532Frame(0xd4, hex('4A0100')),
  pn532Frame(0xd5, Buffer.alloc(260, 0x5a), true),
  Buffer.concat([hex('00 00 FF 00 FF 00'), pn532Frame(0xd5, hex('03 32 01 06 07'))]),
  hex('00 00 FF 01 FF 7F 81 00'),
  hex('00 00 FF FF 00 00'),
];

const PCSC_SEED_REQUESTS: Request[] = [
  { cmd: CMD.VERSION, major: 4, minor: 4 },
  { cmd: CMD.ESTABLISH_CONTEXT, scope: 2 },
  { cmd: CMD.CONNECT, hContext: 0x1234, reader: 'Simulated Reader 00 00', shareMode: 2, preferredProtocols: 3 },
  {
    cmd: CMD.TRANSMIT,
    hCard: 0x42,
    sendPciProtocol: 2,
    sendPciLength: 8,
    recvPciProtocol: 2,
    recvPciLength: 8,
    recvLength: 258,
    apdu: hex('00A4040007A0000000031010'),
  },
  { cmd: CMD.CONTROL, hCard: 0x42, controlCode: 0x42000d48, recvLength: 256, bytesReturned: 0, data: Buffer.alloc(0) },
  { cmd: CMD.DISCONNECT, hCard: 0x42, disposition: 0 },
  { cmd: CMD.RELEASE_CONTEXT, hContext: 0x1234 },
] as Request[];

const MQTT_PAYLOAD_SEEDS = [
  '{}',
  '{"reader":"Simulated Reader 00 00","apdus":["00A4040007A0000000031010"],"transaction":1}',
  '{"reader":"x","leaseMs":30000,"shareMode":"exclusive","protocol":"T1","holdTransaction":false}',
  '{"session":"427ef21c","apdus":["0084000008"]}',
  '{"afterSeq":2,"limit":1,"transaction":"t"}',
  '{"reader":"r","code":1107299656,"data":""}',
  '{"reader":"r","led":"green","buzzer":{"ms":100,"count":2}}',
  '{"reader":"r","card":{"type":"mifare-classic-1k","uid":"04A1B2C3"}}',
].map((s) => Buffer.from(s));

/** Request bodies as the control channel, HTTP and MQTT hand them to the gateway's operations. */
const OPERATION_BODY_SEEDS = [
  '{}',
  '{"reader":"Simulated Reader 00 00"}',
  '{"reader":"Simulated Reader 00 00","apdus":["00A4040007A0000000031010","00B0000000"],"protocol":"T=1"}',
  '{"reader":"r","leaseMs":30000,"shareMode":"exclusive","protocol":"T=0"}',
  '{"session":"427ef21c","apdus":["0084000008"]}',
  '{"afterSeq":2,"limit":1}',
  '{"reader":"r","code":1107299656,"data":"01020304"}',
  '{"reader":"r","led":"green","buzzer":{"ms":100,"count":2}}',
  '{"reader":"r","card":{"type":"mifare-classic-1k","uid":"04A1B2C3"}}',
  '{"text":"log:\\n  level: debug\\n"}',
  '{"name":"tech","scopes":["read","transmit"]}',
].map((x) => Buffer.from(x));

const CONTROL_LINE_SEEDS = [
  '{"id":1,"method":"readers"}',
  '{"id":"a","method":"transmit","params":{"reader":"Simulated Reader 00 00","apdus":["00A4040000"]}}',
  '{"id":3,"method":"watch"}',
  '{"id":4,"method":"unwatch","params":{"id":3}}',
  '{"id":5,"method":"ping"}',
  '{"method":"session/open","params":{"reader":"r","shareMode":"shared"}}',
].map((x) => Buffer.from(`${x}\n`));

const CCID_MESSAGE_SEEDS = [
  encodeMessage(0x80, 0, 1, [0x00, 0x00, 0x00], hex('3B8F8001804F0CA000000306030001000000006A')),
  encodeMessage(0x81, 0, 2, [0x01, 0x00, 0x00]),
  encodeMessage(0x82, 1, 3, [0x01, 0x00, 0x00], hex('1100FE0000')),
  encodeMessage(0x80, 0, 4, [0x40, 0xfe, 0x00], Buffer.alloc(270, 0x90)),
  hex('500300'),
];

/** A 54-byte CCID class descriptor (two slots, TPDU, auto voltage) and a configuration carrying it. */
const CCID_DESCRIPTOR = hex('3621 1001 01 07 03000000 a00f0000 a00f0000 00 80250000 80250000 00 fe000000 00000000 00000000 ba040200 0f010000 ff ff 0000 00 01');
const CCID_CONFIG_SEED = Buffer.concat([hex('09 02 5d00 01 01 00 80 32'), hex('09 04 00 00 03 0b 00 00 00'), CCID_DESCRIPTOR, hex('07 05 81 02 4000 00'), hex('07 05 02 02 4000 00'), hex('07 05 83 03 0800 18')]);

const OSDP_SEEDS = [
  encodePacket({ address: 0, reply: false, sqn: 1, crc: true, code: 0x60, data: Buffer.alloc(0) }),
  encodePacket({ address: 0, reply: true, sqn: 1, crc: true, code: 0x40, data: Buffer.alloc(0) }),
  encodePacket({ address: 0x7f, reply: false, sqn: 2, crc: false, code: 0x61, data: hex('00') }),
  encodePacket({ address: 1, reply: true, sqn: 3, crc: true, code: 0x50, data: hex('00 01 1a 00 0102030405060708') }),
  encodePacket({ address: 1, reply: false, sqn: 0, crc: true, code: 0x6a, data: Buffer.alloc(120, 0x33) }),
];

export const TARGETS: FuzzTarget<any>[] = [
  {
    name: 'atr',
    parser: 'src/iso7816/atr.ts parseAtr, parsePps',
    input: mutated(ATR_SEEDS, 40),
    check(b: Buffer) {
      const a = answers(() => parseAtr(b), AtrError, PcscError);
      if (a) assert(b.length <= 33, `an ATR of ${b.length} bytes (over 33) was accepted`);
      answers(() => parsePps(b));
    },
  } satisfies FuzzTarget<Buffer>,
  {
    name: 'apdu',
    parser: 'src/iso7816/apdu.ts parseApdu, parseResponse',
    input: mutated(APDU_SEEDS, 600),
    check(b: Buffer) {
      const a = answers(() => parseApdu(b), ApduError);
      if (a) {
        const again = encodeApdu({ cla: a.cla, ins: a.ins, p1: a.p1, p2: a.p2, data: a.data, le: a.le, extended: a.extended });
        assert(again.equals(b), `APDU ${b.toString('hex')} parsed then encoded gives ${again.toString('hex')}`);
      }
      answers(() => parseResponse(b), ApduError, PcscError);
    },
  } satisfies FuzzTarget<Buffer>,
  {
    name: 't1-block',
    parser: 'src/iso7816/t1-block.ts parseBlock',
    input: fc.tuple(fc.constantFrom<EdcType>('lrc', 'crc'), mutated(T1_SEEDS.map(([, b]) => b), 270)),
    check([edc, b]: [EdcType, Buffer]) {
      const r = parseBlock(b, edc);
      assert(r && typeof r.ok === 'boolean', 'parseBlock returned no result');
      if (r.ok) assert(encodeBlock(r.block, edc).equals(b), `block ${b.toString('hex')} does not encode back to itself`);
      else assert(r.reason.length > 0, 'a refused block without a reason');
    },
  } satisfies FuzzTarget<[EdcType, Buffer]>,
  {
    name: 'pn532-frame',
    parser: 'drivers/pn532/frame.ts parseFrame',
    input: mutated(PN532_SEEDS, 600),
    check(b: Buffer) {
      // The link layer calls parseFrame on its buffer until it asks for more bytes: that loop must end.
      let rest: Buffer = b;
      for (let rounds = 0; ; rounds++) {
        assert(rounds <= b.length + 1, 'parseFrame makes no progress');
        const r = parseFrame(rest);
        assert(r.consumed >= 0 && r.consumed <= rest.length, `consumed ${r.consumed} of ${rest.length}`);
        if (r.status === 'partial') break;
        assert(r.consumed > 0, `a ${r.status} result that consumes nothing`);
        if (r.status === 'frame' && r.frame.kind === 'info') {
          const again = pn532Frame(r.frame.tfi, r.frame.body, r.frame.extended);
          // encodeFrame writes a 00 preamble before the 00 FF start code, where `skipped` points.
          assert(again.subarray(1).equals(rest.subarray(r.skipped, r.consumed)), 'an info frame does not encode back to its bytes');
        }
        rest = rest.subarray(r.consumed);
      }
    },
  } satisfies FuzzTarget<Buffer>,
  {
    name: 'vpcd-frame',
    parser: 'drivers/vpcd/frame.ts FrameDecoder',
    input: fc.oneof(
      // Valid streams cut at random places: the decoder gives back exactly the payloads.
      fc.tuple(fc.array(fc.uint8Array({ maxLength: 300 }), { minLength: 1, maxLength: 6 }), fc.array(fc.nat(), { maxLength: 8 })).map(([p, cuts]) => ({ payloads: p.map((x) => Buffer.from(x)), stream: vpcdFrames(...p), cuts })),
      fc.tuple(fc.uint8Array({ maxLength: 400 }), fc.array(fc.nat(), { maxLength: 8 })).map(([s, cuts]) => ({ payloads: undefined, stream: Buffer.from(s), cuts })),
    ),
    check(x: { payloads?: Buffer[]; stream: Buffer; cuts: number[] }) {
      const d = new FrameDecoder();
      const at = [...new Set(x.cuts.map((c) => (x.stream.length ? c % x.stream.length : 0)))].sort((a, b) => a - b);
      const got: Buffer[] = [];
      let from = 0;
      for (const c of [...at, x.stream.length]) {
        got.push(...d.push(Buffer.from(x.stream.subarray(from, c))));
        from = c;
      }
      assert(d.buffered <= x.stream.length, 'buffers more than it was given');
      if (x.payloads) {
        assert(d.buffered === 0, 'bytes left over after whole frames');
        assert(got.length === x.payloads.length && got.every((g, i) => g.equals(x.payloads![i])), 'payloads differ from what was framed');
      }
    },
  } satisfies FuzzTarget<{ payloads?: Buffer[]; stream: Buffer; cuts: number[] }>,
  {
    name: 'pcsc-message',
    parser: 'src/api/pcsc/codec.ts RequestDecoder',
    input: fc.tuple(mutated(PCSC_SEED_REQUESTS.map(encodeRequest), 700), fc.array(fc.nat(), { maxLength: 6 })),
    check([b, cuts]: [Buffer, number[]]) {
      const d = new RequestDecoder(64);
      const at = [...new Set(cuts.map((c) => (b.length ? c % b.length : 0)))].sort((p, q) => p - q);
      let from = 0;
      try {
        for (const c of [...at, b.length]) {
          d.push(Buffer.from(b.subarray(from, c)));
          from = c;
          for (let n = 0; d.next(); n++) assert(n < b.length, 'decoder loops');
        }
        d.finish();
      } catch (e) {
        if (!(e instanceof PcscProtocolError) || !e.message) throw e;
      }
    },
  } satisfies FuzzTarget<[Buffer, number[]]>,
  {
    name: 'mqtt-request',
    parser: 'src/api/mqtt/requests.ts parseRequest',
    input: fc.tuple(
      fc.oneof(fc.constantFrom(...METHODS), fc.string({ maxLength: 20 }), fc.constant('')),
      fc.oneof(
        mutated(MQTT_PAYLOAD_SEEDS, 200),
        fc.json({ maxDepth: 3 }).map((s) => Buffer.from(s)),
        fc.tuple(fc.constantFrom(...MQTT_PAYLOAD_SEEDS), fc.string({ maxLength: 400 })).map(([s, t]) => Buffer.from(s.toString().replace(/^\{/, `{"transaction":${JSON.stringify(t)},`))),
      ),
    ),
    check([method, payload]: [string, Buffer]) {
      const r = parseRequest(method, payload, 4096);
      if (!r.ok) assert(typeof r.error.message === 'string' && r.error.message.length > 0, 'an error without text');
      if (typeof r.transaction === 'string') assert(r.transaction.length <= TRANSACTION_MAX_LENGTH, 'an over-long transaction would be echoed');
    },
  } satisfies FuzzTarget<[string, Buffer]>,
  {
    name: 'hex',
    parser: 'src/iso7816/hex.ts parseHex',
    input: fc.oneof(fc.string({ maxLength: 80 }), fc.stringMatching(/^[0-9a-fA-F :\-\t]{0,60}$/)),
    check(s: string) {
      const b = answers(() => parseHex(s), HexError);
      if (b) assert(b.length * 2 <= s.length, 'more bytes than hex digits');
    },
  } satisfies FuzzTarget<string>,
  {
    name: 'config',
    parser: 'src/config/load.ts parseYaml + resolveConfig',
    input: fc.oneof(
      fc.string({ maxLength: 300 }),
      fc
        .tuple(
          fc.constantFrom('mqtt', 'events', 'pcsc', 'http', 'control', 'log', 'drivers', 'state'),
          fc.constantFrom('url', 'enabled', 'debounceMs', 'socket', 'port', 'level', 'sim', 'outbox', 'dir', 'readers'),
          fc.oneof(fc.string({ maxLength: 20 }), fc.integer().map(String), fc.constantFrom('true', '[]', '{}', 'null', '- a', '{a: 1}', '-1', '1e99')),
        )
        .map(([a, b, v]) => `${a}:\n  ${b}: ${v}\n`),
    ),
    check(text: string) {
      answers(() => resolveConfig(parseYaml(text, 'fuzz'), 'fuzz', { env: {} }), ConfigError);
    },
  } satisfies FuzzTarget<string>,
  {
    name: 'control-line',
    parser: 'src/api/control/protocol.ts LineSplitter, parseControlLine; src/gateway/validate.ts',
    setup: prepareValidators,
    input: fc.tuple(fc.array(mutated(CONTROL_LINE_SEEDS, 200), { minLength: 1, maxLength: 4 }), fc.array(fc.nat(), { maxLength: 6 })),
    check([lines, cuts]: [Buffer[], number[]]) {
      const stream = Buffer.concat(lines).toString('utf8');
      const max = 160;
      let overflows = 0;
      const split = new LineSplitter(
        (line) => {
          assert(line.length <= max, `a line of ${line.length} characters (over ${max}) was handed on`);
          const req = answers(() => parseControlLine(line), PcscError);
          if (!req || ['ping', 'watch', 'unwatch'].includes(req.method)) return;
          const op = answers(() => checkOperation(req.method), PcscError);
          if (op) answers(() => checkParamsNow(op, req.params), PcscError);
        },
        () => overflows++,
        max,
      );
      const at = [...new Set(cuts.map((c) => (stream.length ? c % stream.length : 0)))].sort((p, q) => p - q);
      let from = 0;
      for (const c of [...at, stream.length]) {
        split.push(stream.slice(from, c));
        from = c;
      }
      assert(overflows <= at.length + 1, 'more overflows than pushes');
    },
  } satisfies FuzzTarget<[Buffer[], number[]]>,
  {
    name: 'operation-params',
    parser: 'src/gateway/validate.ts checkOperation, checkParams (HTTP bodies, MQTT and control params)',
    setup: prepareValidators,
    input: fc.tuple(
      fc.oneof(fc.constantFrom(...OPERATION_NAMES), fc.string({ maxLength: 16 })),
      fc.oneof(mutated(OPERATION_BODY_SEEDS, 300), fc.json({ maxDepth: 3 }).map((x) => Buffer.from(x))),
    ),
    check([name, body]: [string, Buffer]) {
      let params: unknown;
      try {
        params = JSON.parse(body.toString('utf8'));
      } catch {
        return; // the HTTP framework answers 400 before the gateway sees it; MQTT and control say "not valid JSON"
      }
      const op = answers(() => checkOperation(name), PcscError);
      if (!op) return;
      const r = answers(() => checkParamsNow(op, params), PcscError);
      if (r !== undefined) assert(r === (params ?? r), 'checkParams handed back something else than it was given');
    },
  } satisfies FuzzTarget<[string, Buffer]>,
  {
    name: 'ccid-message',
    parser: 'drivers/ccid/messages.ts decodeMessage; drivers/ccid/descriptor.ts parseCcidDescriptor, configurationExtras, findClassDescriptor',
    input: fc.oneof(
      mutated(CCID_MESSAGE_SEEDS, 300).map((b) => ({ kind: 'message' as const, b })),
      mutated([CCID_DESCRIPTOR], 80).map((b) => ({ kind: 'descriptor' as const, b })),
      mutated([CCID_CONFIG_SEED], 200).map((b) => ({ kind: 'configuration' as const, b })),
    ),
    check(x: { kind: 'message' | 'descriptor' | 'configuration'; b: Buffer }) {
      if (x.kind === 'message') {
        const r = decodeMessage(x.b);
        if (r.ok) {
          const again = encodeMessage(r.msg.type, r.msg.slot, r.msg.seq, r.msg.p, r.msg.data);
          assert(again.equals(x.b), 'a decoded message does not encode back to its bytes');
        } else assert(r.reason.length > 0, 'a refused message without a reason');
      } else if (x.kind === 'descriptor') {
        answers(() => parseCcidDescriptor(x.b), CcidDescriptorError);
      } else {
        const extras = answers(() => configurationExtras(x.b), CcidDescriptorError) ?? [];
        for (const e of extras) {
          const d = answers(() => findClassDescriptor(e.extra, e.endpointExtras ?? []), CcidDescriptorError);
          if (d) answers(() => parseCcidDescriptor(d), CcidDescriptorError);
        }
      }
    },
  } satisfies FuzzTarget<{ kind: 'message' | 'descriptor' | 'configuration'; b: Buffer }>,
  {
    name: 'osdp-packet',
    parser: 'src/osdp/packet.ts decodePacket; src/osdp/framer.ts Framer',
    input: fc.tuple(fc.array(mutated(OSDP_SEEDS, 200), { minLength: 1, maxLength: 4 }), fc.integer({ min: 1, max: 17 })),
    check([packets, chunk]: [Buffer[], number]) {
      for (const p of packets) {
        const d = answers(() => decodePacket(p), OsdpFrameError);
        if (d) assert(p.readUInt16LE(2) === p.length, 'a packet accepted whose length field disagrees with its size');
      }
      const f = new Framer(1e9);
      let delivered = 0;
      f.on('packet', (_d, raw) => {
        delivered++;
        // what the framer delivers passes the packet decoder
        decodePacket(raw);
      });
      const stream = Buffer.concat(packets);
      for (let i = 0; i < stream.length; i += chunk) f.push(stream.subarray(i, i + chunk), 0);
      assert(delivered <= packets.length * stream.length, 'delivers more packets than bytes allow');
      assert(f.pending() <= stream.length, 'keeps more bytes than it was given');
    },
  } satisfies FuzzTarget<[Buffer[], number]>,
];
