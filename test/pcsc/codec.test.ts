import t from 'tap';
import {
  CMD, PcscProtocolError, RequestDecoder, encodeRequest, encodeTransmitReply, encodeVersionReply, type Request,
} from '../../src/api/pcsc/codec.js';

const samples: Request[] = [
  { cmd: CMD.VERSION, major: 4, minor: 4 },
  { cmd: CMD.ESTABLISH_CONTEXT, scope: 2 },
  { cmd: CMD.RELEASE_CONTEXT, hContext: 0x7fffffff },
  { cmd: CMD.CONNECT, hContext: 1234, reader: 'Virtual PCD 00 00', shareMode: 2, preferredProtocols: 3 },
  { cmd: CMD.RECONNECT, hCard: 99, shareMode: 1, preferredProtocols: 2, initialization: 1, activeProtocol: 0 },
  { cmd: CMD.DISCONNECT, hCard: 99, disposition: 3 },
  { cmd: CMD.BEGIN_TRANSACTION, hCard: 5 },
  { cmd: CMD.END_TRANSACTION, hCard: 5, disposition: 0 },
  { cmd: CMD.TRANSMIT, hCard: 5, sendPciProtocol: 2, sendPciLength: 16, recvPciProtocol: 2, recvPciLength: 16, recvLength: 65540, apdu: Buffer.from('00a4040000', 'hex') },
  { cmd: CMD.CONTROL, hCard: 5, controlCode: 0x42000d48, recvLength: 256, bytesReturned: 0, data: Buffer.alloc(0) },
  { cmd: CMD.STATUS, hCard: 5 },
  { cmd: CMD.CANCEL, hContext: 77 },
  { cmd: CMD.GET_ATTRIB, hCard: 5, attrId: 0x00090303, attrLen: 264 },
  { cmd: CMD.SET_ATTRIB, hCard: 5, attrId: 0x00090303, value: Buffer.from([1]) },
  { cmd: CMD.GET_READERS_STATE },
  { cmd: CMD.WAIT_READER_STATE_CHANGE },
  { cmd: CMD.STOP_WAITING_READER_STATE_CHANGE },
  { cmd: CMD.GET_READER_EVENTS },
];

t.test('every request round-trips, whole and split byte by byte', async (t) => {
  for (const req of samples) {
    const bytes = encodeRequest(req);
    const d = new RequestDecoder(16);
    d.push(bytes);
    t.same(d.next(), req, `0x${req.cmd.toString(16)} whole`);
    t.equal(d.pending, 0);
    const s = new RequestDecoder(16);
    let got: Request | null = null;
    for (let i = 0; i < bytes.length; i++) {
      t.equal(got, null);
      s.push(bytes.subarray(i, i + 1));
      got = s.next();
    }
    t.same(got, req, `0x${req.cmd.toString(16)} split`);
  }
});

t.test('pipelined requests in one chunk', async (t) => {
  const d = new RequestDecoder();
  d.push(Buffer.concat(samples.map(encodeRequest)));
  for (const req of samples) t.same(d.next(), req);
  t.equal(d.next(), null);
});

t.test('wire bytes match the trace of libpcsclite 1.9.9', async (t) => {
  t.equal(encodeRequest({ cmd: CMD.VERSION, major: 4, minor: 4 }).toString('hex'), '0c00000011000000' + '040000000400000000000000');
  const tx = encodeRequest(samples[8]);
  t.equal(tx.subarray(8, 40).toString('hex'), '0500000002000000100000000500000002000000100000000400010000000000');
  t.equal(encodeVersionReply(0).toString('hex'), '040000000400000000000000');
});

function reasonOf(f: () => unknown): string {
  try {
    f();
  } catch (e) {
    return e instanceof PcscProtocolError ? e.reason : `other error: ${String(e)}`;
  }
  return 'no error';
}

t.test('malformed requests are typed errors', async (t) => {
  const bad = (bytes: Buffer, reason: string) => {
    const d = new RequestDecoder();
    d.push(bytes);
    t.equal(reasonOf(() => d.next()), reason, reason);
  };
  const hdr = (size: number, cmd: number) => { const b = Buffer.alloc(8); b.writeUInt32LE(size, 0); b.writeUInt32LE(cmd, 4); return b; };
  bad(hdr(0, 0x03), 'unknown-command'); // SCARD_LIST_READERS: pcscd drops the client too
  bad(hdr(0, 0x99), 'unknown-command');
  bad(hdr(13, CMD.ESTABLISH_CONTEXT), 'size-mismatch');
  const tx = encodeRequest(samples[8]);
  tx.writeUInt32LE(65549, 8 + 12);
  bad(tx, 'data-too-long');
  const ga = encodeRequest(samples[12]);
  ga.writeUInt32LE(265, 8 + 272);
  bad(ga, 'attr-too-long');
  const d = new RequestDecoder();
  d.push(encodeRequest(samples[3]).subarray(0, 100));
  t.equal(d.next(), null);
  t.equal(reasonOf(() => d.finish()), 'truncated');
});

t.test('transmit reply: data only on success, needed length otherwise', async (t) => {
  const out = Buffer.alloc(32 + 300);
  const req = samples[8] as Extract<Request, { cmd: typeof CMD.TRANSMIT }>;
  t.equal(encodeTransmitReply(out, req, 0, 2, Buffer.from([0x90, 0])), 34);
  t.equal(out.readUInt32LE(24), 2);
  t.equal(out.subarray(32, 34).toString('hex'), '9000');
  t.equal(encodeTransmitReply(out, req, 0x80100008, 258, null), 32);
  t.equal(out.readUInt32LE(28), 0x80100008);
  t.equal(out.readUInt32LE(24), 258);
});

// Seeded fuzz: random and mutated streams either decode or raise PcscProtocolError, never anything else.
t.test('fuzz the decoder', async (t) => {
  let seed = 0x5eed1234;
  const rnd = () => { seed ^= seed << 13; seed ^= seed >>> 17; seed ^= seed << 5; return (seed >>> 0) / 0x100000000; };
  const valid = samples.map(encodeRequest);
  let decoded = 0;
  let rejected = 0;
  for (let iter = 0; iter < 20000; iter++) {
    const base = Buffer.from(valid[Math.floor(rnd() * valid.length)]);
    const mode = rnd();
    let bytes: Buffer;
    if (mode < 0.3) {
      bytes = Buffer.alloc(Math.floor(rnd() * 64));
      for (let i = 0; i < bytes.length; i++) bytes[i] = Math.floor(rnd() * 256);
    } else if (mode < 0.8) {
      bytes = base;
      const flips = 1 + Math.floor(rnd() * 4);
      for (let i = 0; i < flips; i++) bytes[Math.floor(rnd() * bytes.length)] = Math.floor(rnd() * 256);
    } else {
      bytes = base.subarray(0, Math.floor(rnd() * base.length));
    }
    const d = new RequestDecoder(8);
    try {
      let pos = 0;
      while (pos < bytes.length) {
        const n = 1 + Math.floor(rnd() * 40);
        d.push(bytes.subarray(pos, pos + n));
        pos += n;
        while (d.next()) decoded++;
      }
      d.finish();
    } catch (e) {
      if (!(e instanceof PcscProtocolError)) throw e;
      rejected++;
    }
  }
  t.ok(decoded > 1000, `decoded ${decoded}`);
  t.ok(rejected > 1000, `rejected ${rejected}`);
});
