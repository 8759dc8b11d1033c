/**
 * Hostile clients of the pcsc socket (README "pcsc socket limits"): garbage,
 * half-sent requests, clients that connect and say nothing, clients that never
 * read, a connection flood. Each is cut off or refused, and a real libpcsclite
 * client keeps working meanwhile. Short limits so the cut-offs come quickly.
 */
import t, { type Test } from 'tap';
import { randomBytes } from 'node:crypto';
import { CMD } from '../../src/api/pcsc/codec.js';
import { decodeTable, TABLE_SIZE } from '../../src/api/pcsc/reader-table.js';
import { startSimGateway, type SimGateway } from './helpers/sim-gateway.js';
import { RawClient } from './helpers/raw-client.js';
import { CallsClient } from './helpers/clients.js';

const LIMITS = { maxConnections: 6, halfMessageMs: 300, writeStallMs: 400 };
const DEADLINE_MS = 5000;

async function waitFor(cond: () => boolean, what: string): Promise<void> {
  const deadline = Date.now() + DEADLINE_MS;
  while (!cond()) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 10));
  }
}

async function goodClientWorks(t: Test, gw: SimGateway, what: string): Promise<void> {
  const c = new CallsClient(gw.env);
  try {
    t.match(await c.call('ctx 1'), 'rv=0x00000000', `${what}: establish`);
    t.match(await c.call('connect 1 #0 2 3'), 'rv=0x00000000', `${what}: connect`);
    t.match(await c.call('transmit 1 0084000008'), /rv=0x00000000 len=10/, `${what}: transmit`);
    t.match(await c.call('disconnect 1 0'), 'rv=0x00000000', `${what}: disconnect`);
  } finally {
    await c.kill();
  }
}

t.test('garbage closes that client; others keep working', async (t) => {
  const gw = await startSimGateway([{ name: 'Sim A', card: { type: 'iso7816' } }], LIMITS);
  t.teardown(() => gw.stop());
  for (let i = 0; i < 3; i++) {
    const bad = await RawClient.connect(gw.socket);
    // A size that is wrong for any command: pcscd drops such clients too.
    bad.send(Buffer.concat([Buffer.from('ff00000001000000', 'hex'), randomBytes(64)]));
    t.ok(await bad.closedWithin(DEADLINE_MS), `garbage client ${i} closed`);
  }
  await goodClientWorks(t, gw, 'after garbage');
});

t.test('a half-sent request, or silence after connecting, times out', async (t) => {
  const gw = await startSimGateway([{ name: 'Sim A', card: { type: 'iso7816' } }], LIMITS);
  t.teardown(() => gw.stop());
  const [half] = await RawClient.withContext(gw.socket);
  t.teardown(() => half.close());
  half.send(Buffer.from('10000000', 'hex')); // 4 of a request's 8 header bytes, then nothing
  const silent = await RawClient.connect(gw.socket);
  t.teardown(() => silent.close());
  // A client trickling one byte at a time never completes a request either.
  const [trickle] = await RawClient.withContext(gw.socket);
  t.teardown(() => trickle.close());
  const bytes = Buffer.from('0400000001000000', 'hex');
  let i = 0;
  const drip = setInterval(() => i < bytes.length && trickle.send(bytes.subarray(i, ++i)), 60);
  t.teardown(() => clearInterval(drip));
  // An idle client between requests is left alone: it has a context and sends nothing.
  const [idle] = await RawClient.withContext(gw.socket);
  t.teardown(() => idle.close());
  await goodClientWorks(t, gw, 'while they stall');
  t.ok(await half.closedWithin(DEADLINE_MS), 'half request: closed');
  t.ok(await silent.closedWithin(DEADLINE_MS), 'silent since connecting: closed');
  t.ok(await trickle.closedWithin(DEADLINE_MS), 'trickling: closed');
  // Proof the idle one survived the same sweeps: it is answered now.
  idle.send({ cmd: CMD.GET_READERS_STATE });
  t.equal(decodeTable(await idle.read(TABLE_SIZE))[0].name, 'Sim A 00 00', 'idle client between requests still served');
  t.ok((gw.server.diagnostics().timedOut as number) >= 3);
});

t.test('a client that never reads is cut off; others keep working', async (t) => {
  const gw = await startSimGateway([{ name: 'Sim A', card: { type: 'iso7816' } }], LIMITS);
  t.teardown(() => gw.stop());
  const [slow] = await RawClient.withContext(gw.socket);
  slow.sock.pause();
  t.teardown(() => slow.close());
  // 4000 reader tables (11 MB) it never reads: more than the kernel's socket buffer holds.
  slow.send(Buffer.concat(Array.from({ length: 4000 }, () => Buffer.from('0000000012000000', 'hex'))));
  await goodClientWorks(t, gw, 'while one does not read');
  await waitFor(() => (gw.server.diagnostics().timedOut as number) >= 1, 'the server to cut the non-reading client off');
  // Reading again, it finds what was sent before the cut, then the end.
  slow.sock.resume();
  t.ok(await slow.closedWithin(DEADLINE_MS), 'the non-reading client was cut off');
  await goodClientWorks(t, gw, 'after the cut-off');
});

t.test('connection flood: beyond the cap clients are refused; stalled ones free their slots', async (t) => {
  const gw = await startSimGateway([{ name: 'Sim A', card: { type: 'iso7816' } }], LIMITS);
  t.teardown(() => gw.stop());
  const flood: RawClient[] = [];
  t.teardown(() => flood.forEach((c) => c.close()));
  for (let i = 0; i < LIMITS.maxConnections; i++) flood.push(await RawClient.connect(gw.socket));
  const extra = await RawClient.connect(gw.socket);
  t.ok(await extra.closedWithin(DEADLINE_MS), 'a connection beyond the cap is closed at once');
  t.ok((gw.server.diagnostics().refused as number) >= 1);
  // The flood never sends a request: the half-message timeout frees the slots, then real clients get in.
  for (const c of flood) t.ok(await c.closedWithin(DEADLINE_MS), 'silent flood connection closed');
  await goodClientWorks(t, gw, 'after the flood');
});
