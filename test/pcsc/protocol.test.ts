/**
 * Byte-level behaviour of the socket where libpcsclite would not go: version
 * mismatch, malformed and truncated requests, foreign handles, the event
 * registration invariant, slow and vanishing clients, the socket file.
 */
import t from 'tap';
import { lstatSync, writeFileSync, mkdtempSync, rmSync } from 'node:fs';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { CMD, HEADER_SIZE } from '../../src/api/pcsc/codec.js';
import { decodeTable, TABLE_SIZE } from '../../src/api/pcsc/reader-table.js';
import { PcscServer } from '../../src/api/pcsc/server.js';
import { ResourceManager } from '../../src/core/index.js';
import { SCARD } from '../../src/pcsc/constants.js';
import { startSimGateway } from './helpers/sim-gateway.js';
import { RawClient } from './helpers/raw-client.js';
import { CallsClient } from './helpers/clients.js';

const silent = { info() {}, warn() {}, debug() {} };

t.test('version handshake', async (t) => {
  const gw = await startSimGateway();
  t.teardown(() => gw.stop());
  const c = await RawClient.connect(gw.socket);
  t.teardown(() => c.close());
  const version = async (major: number, minor: number) => {
    c.send({ cmd: CMD.VERSION, major, minor });
    const r = await c.read(12);
    return [r.readInt32LE(0), r.readInt32LE(4), r.readUInt32LE(8)];
  };
  t.same(await version(4, 6), [4, 5, SCARD.E_SERVICE_STOPPED], 'pcsc-lite 2.5 (4:6): our highest version with SERVICE_STOPPED');
  t.same(await version(4, 3), [4, 5, SCARD.E_SERVICE_STOPPED], '4:3 is refused, as pcscd 1.9.9 does');
  t.same(await version(4, 5), [4, 5, 0], 'the 4:5 retry on the same connection succeeds');
  t.same(await version(4, 4), [4, 4, 0], '4:4 (Debian bookworm) as pcscd 1.9.9 answers it');
  c.send({ cmd: CMD.ESTABLISH_CONTEXT, scope: 7 });
  t.equal((await c.read(12)).readUInt32LE(8), SCARD.E_INVALID_VALUE, 'bad scope');
});

t.test('protocol 4:5: GET_READER_EVENTS counts reader additions and removals', async (t) => {
  const gw = await startSimGateway([{ name: 'Sim A' }]);
  t.teardown(() => gw.stop());
  const c = await RawClient.connect(gw.socket);
  t.teardown(() => c.close());
  c.send({ cmd: CMD.VERSION, major: 4, minor: 5 });
  await c.read(12);
  const events = async () => {
    c.send({ cmd: CMD.GET_READER_EVENTS });
    const r = await c.read(8);
    t.equal(r.readUInt32LE(4), 0, 'rv');
    return r.readUInt32LE(0);
  };
  const before = await events();
  t.ok(before >= 1, 'never 0');
  await gw.addReader('Sim B');
  t.equal(await events(), before + 1, 'a reader added');
  gw.driver.remove('Sim B');
  while (gw.core.readers().length !== 1) await new Promise((r) => setTimeout(r, 5));
  t.equal(await events(), before + 2, 'a reader removed');
});

t.test('a malformed request closes that client only', async (t) => {
  const gw = await startSimGateway([{ name: 'Sim A', card: { type: 'iso7816' } }]);
  t.teardown(() => gw.stop());
  const [good] = await RawClient.withContext(gw.socket);
  t.teardown(() => good.close());
  const cases: [string, Buffer][] = [
    ['unknown command', Buffer.from('0000000099000000', 'hex')],
    ['SCARD_LIST_READERS (not used by the 1.9.9 client)', Buffer.from('0000000003000000', 'hex')],
    ['size mismatch', Buffer.from('0d00000001000000' + '00'.repeat(13), 'hex')],
    ['oversized transmit', (() => { const b = Buffer.alloc(HEADER_SIZE + 32); b.writeUInt32LE(32, 0); b.writeUInt32LE(CMD.TRANSMIT, 4); b.writeUInt32LE(65549, 8 + 12); return b; })()],
  ];
  for (const [what, bytes] of cases) {
    const [bad] = await RawClient.withContext(gw.socket);
    bad.send(bytes);
    t.ok(await bad.closedWithin(2000), `${what}: closed`);
    good.send({ cmd: CMD.GET_READERS_STATE });
    t.equal(decodeTable(await good.read(TABLE_SIZE))[0].name, 'Sim A 00 00', `${what}: others unaffected`);
  }
  // Truncated: half a request, then the client goes away.
  const [trunc] = await RawClient.withContext(gw.socket);
  trunc.send(Buffer.from('9800000004000000' + '00'.repeat(40), 'hex'));
  trunc.close();
  good.send({ cmd: CMD.GET_READERS_STATE });
  t.equal((await good.read(TABLE_SIZE)).length, TABLE_SIZE);
  t.ok((gw.server.diagnostics().protocolErrors as number) >= cases.length);
});

t.test('handles of another connection are refused', async (t) => {
  const gw = await startSimGateway([{ name: 'Sim A', card: { type: 'iso7816' } }]);
  t.teardown(() => gw.stop());
  const [a, ctxA] = await RawClient.withContext(gw.socket);
  const [b, ctxB] = await RawClient.withContext(gw.socket);
  t.teardown(() => { a.close(); b.close(); });
  a.send({ cmd: CMD.CONNECT, hContext: ctxA, reader: 'Sim A 00 00', shareMode: 2, preferredProtocols: 3 });
  const r = await a.read(152);
  t.equal(r.readUInt32LE(148), 0);
  const hCard = r.readInt32LE(140);
  t.ok(hCard > 0 && hCard <= 0x7fffffff, 'handle is positive 31-bit');
  b.send({ cmd: CMD.STATUS, hCard });
  t.equal((await b.read(8)).readUInt32LE(4), SCARD.E_INVALID_HANDLE, 'foreign handle: INVALID_HANDLE (pcscd sleeps 2 s and drops the client)');
  b.send({ cmd: CMD.CONNECT, hContext: ctxA, reader: 'Sim A 00 00', shareMode: 2, preferredProtocols: 3 });
  const rb = await b.read(152);
  t.same([rb.readInt32LE(140), rb.readUInt32LE(148)], [0, SCARD.E_INVALID_VALUE], "another connection's context: INVALID_VALUE, hCard 0");
  b.send({ cmd: CMD.RELEASE_CONTEXT, hContext: ctxA });
  t.equal((await b.read(8)).readUInt32LE(4), SCARD.E_INVALID_VALUE);
  b.send({ cmd: CMD.RELEASE_CONTEXT, hContext: ctxB });
  t.equal((await b.read(8)).readUInt32LE(4), 0);
});

t.test('exactly one 8-byte message per registration', async (t) => {
  const gw = await startSimGateway([{ name: 'Sim A' }]);
  t.teardown(() => gw.stop());
  const [c, ctx] = await RawClient.withContext(gw.socket);
  t.teardown(() => c.close());
  c.send({ cmd: CMD.STOP_WAITING_READER_STATE_CHANGE });
  c.send({ cmd: CMD.WAIT_READER_STATE_CHANGE });
  await c.read(TABLE_SIZE);
  t.equal(c.buffered, 0, 'STOP while not registered: no reply');
  c.send({ cmd: CMD.STOP_WAITING_READER_STATE_CHANGE });
  t.equal((await c.read(8)).readUInt32LE(4), 0, 'STOP while registered: {0, 0}');
  c.send({ cmd: CMD.WAIT_READER_STATE_CHANGE });
  await c.read(TABLE_SIZE);
  gw.insert('Sim A');
  t.equal((await c.read(8)).readUInt32LE(4), 0, 'event notification');
  c.send({ cmd: CMD.STOP_WAITING_READER_STATE_CHANGE });
  c.send({ cmd: CMD.GET_READERS_STATE });
  const table = decodeTable(await c.read(TABLE_SIZE));
  t.equal(table[0].eventCounter, 1, 'STOP after the event sent nothing: the next bytes are the table');
  // Cancel from a fresh connection, as SCardCancel does (no handshake).
  c.send({ cmd: CMD.WAIT_READER_STATE_CHANGE });
  await c.read(TABLE_SIZE);
  const k = await RawClient.connect(gw.socket);
  k.send({ cmd: CMD.CANCEL, hContext: ctx });
  t.equal((await k.read(8)).readUInt32LE(4), 0, 'canceller gets 0');
  t.equal((await c.read(8)).readUInt32LE(4), SCARD.E_CANCELLED, 'waiter gets CANCELLED');
  k.send({ cmd: CMD.CANCEL, hContext: 0x12345 });
  t.equal((await k.read(8)).readUInt32LE(4), SCARD.E_INVALID_HANDLE, 'unknown context');
  k.close();
});

t.test('a client that does not read stalls nobody else', async (t) => {
  const gw = await startSimGateway([{ name: 'Sim A', card: { type: 'iso7816' } }]);
  t.teardown(() => gw.stop());
  const [slow] = await RawClient.withContext(gw.socket);
  slow.sock.pause();
  t.teardown(() => slow.close());
  const burst = Buffer.concat(Array.from({ length: 4000 }, () => Buffer.from('0000000012000000', 'hex')));
  slow.send(burst); // 4000 tables (11 MB) it never reads
  const fast = new CallsClient(gw.env);
  t.teardown(() => fast.kill());
  t.match(await fast.call('ctx 1'), 'rv=0x00000000');
  t.match(await fast.call('connect 1 #0 2 3'), 'rv=0x00000000');
  for (let i = 0; i < 20; i++) t.match(await fast.call('transmit 1 0084000008'), /rv=0x00000000 len=10/);
  t.notOk(slow.ended, 'the slow client is still connected');
});

t.test('abrupt disconnect releases handles at once', async (t) => {
  const gw = await startSimGateway([{ name: 'Sim A', card: { type: 'iso7816' } }]);
  t.teardown(() => gw.stop());
  const [a, ctx] = await RawClient.withContext(gw.socket);
  a.send({ cmd: CMD.CONNECT, hContext: ctx, reader: 'Sim A 00 00', shareMode: 1, preferredProtocols: 3 });
  t.equal((await a.read(152)).readUInt32LE(148), 0);
  t.equal(gw.core.readers()[0].sharing, -1, 'held exclusively');
  a.close();
  while (gw.core.readers()[0].sharing !== 0) await new Promise((r) => setTimeout(r, 5));
  t.equal(decodeTable(gw.server.table())[0].sharing, 0, 'table shows it free');
  t.equal(gw.server.diagnostics().contexts, 0);
});

t.test('socket file: mode, stale file, foreign file, live daemon', async (t) => {
  const dir = mkdtempSync(join(tmpdir(), 'pcsc-sock-'));
  t.teardown(() => rmSync(dir, { recursive: true, force: true }));
  const core = new ResourceManager();
  t.teardown(() => core.stop());
  const path = join(dir, 'run', 'pcscd.comm');
  // A stale socket left by a crashed daemon: bound, then its server gone without unlinking.
  const { mkdirSync } = await import('node:fs');
  mkdirSync(join(dir, 'run'));
  const stale = createServer();
  await new Promise<void>((r) => stale.listen(path, r));
  await new Promise<void>((r) => { (stale as unknown as { _handle: { close(): void } })._handle.close(); r(); });
  const s1 = new PcscServer(core, { socketPath: path, mode: 0o660 }, silent);
  await s1.start();
  t.equal(lstatSync(path).mode & 0o777, 0o660, 'mode 0660');
  const s2 = new PcscServer(core, { socketPath: path, mode: 0o660 }, silent);
  await t.rejects(s2.start(), /in use by a running daemon/);
  await s1.stop();
  const file = join(dir, 'not-a-socket');
  writeFileSync(file, 'keep me');
  const s3 = new PcscServer(core, { socketPath: file, mode: 0o600 }, silent);
  await t.rejects(s3.start(), /exists and is not a socket/);
  const s4 = new PcscServer(core, { socketPath: join(dir, 'g.comm'), mode: 0o660, group: 'no-such-group-xyz' }, silent);
  await t.rejects(s4.start(), /pcsc.group: no group named 'no-such-group-xyz'/);
});

t.test('fuzz: random and mutated byte streams from many clients leave the server serving', async (t) => {
  const { encodeRequest } = await import('../../src/api/pcsc/codec.js');
  const gw = await startSimGateway([{ name: 'Sim A', card: { type: 'iso7816' } }]);
  t.teardown(() => gw.stop());
  let seed = 0xc0ffee;
  const rnd = () => { seed ^= seed << 13; seed ^= seed >>> 17; seed ^= seed << 5; return (seed >>> 0) / 0x100000000; };
  const valid = [
    encodeRequest({ cmd: CMD.VERSION, major: 4, minor: 4 }),
    encodeRequest({ cmd: CMD.ESTABLISH_CONTEXT, scope: 2 }),
    encodeRequest({ cmd: CMD.GET_READERS_STATE }),
    encodeRequest({ cmd: CMD.WAIT_READER_STATE_CHANGE }),
    encodeRequest({ cmd: CMD.CONNECT, hContext: 1, reader: 'Sim A 00 00', shareMode: 2, preferredProtocols: 3 }),
    encodeRequest({ cmd: CMD.TRANSMIT, hCard: 1, sendPciProtocol: 2, sendPciLength: 16, recvPciProtocol: 2, recvPciLength: 16, recvLength: 258, apdu: Buffer.from('00a4040000', 'hex') }),
    encodeRequest({ cmd: CMD.GET_ATTRIB, hCard: 1, attrId: 0x90303, attrLen: 264 }),
    encodeRequest({ cmd: CMD.CANCEL, hContext: 1 }),
  ];
  for (let i = 0; i < 150; i++) {
    const c = await RawClient.connect(gw.socket);
    const parts: Buffer[] = [];
    const n = 1 + Math.floor(rnd() * 6);
    for (let k = 0; k < n; k++) {
      const b = Buffer.from(valid[Math.floor(rnd() * valid.length)]);
      if (rnd() < 0.5) for (let f = 0; f < 3; f++) b[Math.floor(rnd() * b.length)] = Math.floor(rnd() * 256);
      parts.push(rnd() < 0.2 ? b.subarray(0, Math.floor(rnd() * b.length)) : b);
    }
    c.send(Buffer.concat(parts));
    if (rnd() < 0.5) await new Promise((r) => setTimeout(r, 1));
    c.close();
  }
  while ((gw.server.diagnostics().connections as number) > 0) await new Promise((r) => setTimeout(r, 10));
  t.equal(gw.server.diagnostics().contexts, 0, 'every context released');
  t.equal(gw.core.readers()[0].sharing, 0, 'every handle released');
  const [good] = await RawClient.withContext(gw.socket);
  good.send({ cmd: CMD.GET_READERS_STATE });
  t.equal(decodeTable(await good.read(TABLE_SIZE))[0].name, 'Sim A 00 00', 'still serving');
  good.close();
});
