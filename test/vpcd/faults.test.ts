/**
 * vpcd against a misbehaving vicc: disconnect mid-APDU, garbage and malformed
 * frames, oversized ATR, silence, split frames, a second connection. Each
 * failure must reach the caller as the right PcscError, leave the slot empty
 * and leave the other slot alone. Plus a seeded fuzz of the frame decoder and
 * of the slot fed random bytes.
 */
import t, { type Test } from 'tap';
import { once } from 'node:events';
import pino from 'pino';
import { createVpcdDriver, type VpcdDriver } from '../../drivers/vpcd/index.js';
import { FrameDecoder, encodeFrame, encodeFrames } from '../../drivers/vpcd/frame.js';
import { PROTOCOL, SCARD } from '../../src/pcsc/constants.js';
import { FakeVicc, FAKE_ATR } from '../../emulators/vicc/scripted-vicc.js';
import { freePorts } from './ports.js';
import { rng } from '../helpers/prng.js';
import { waitFor } from '../helpers/wait-for.js';

const log = pino({ level: 'silent' });
const h = (s: string): Buffer => Buffer.from(s.replace(/ /g, ''), 'hex');
const APDU = h('00A4000C023F00');

async function setup(t: Test, timeoutMs = 400): Promise<{ d: VpcdDriver; port: number }> {
  const port = await freePorts(2);
  const d = createVpcdDriver({ enabled: true, host: '127.0.0.1', port, slots: 2, responseTimeoutMs: timeoutMs }, { log });
  await d.start();
  t.teardown(() => d.stop());
  return { d, port };
}

/** Connect a fake vicc to slot n and wait until the slot reports the card. */
async function insert(t: Test, d: VpcdDriver, port: number, n: number): Promise<FakeVicc> {
  const slot = d.reader.slots[n];
  const present = once(slot, 'presence');
  const v = await FakeVicc.connect(port + n);
  t.teardown(() => v.close());
  t.same((await present)[0], true);
  await slot.powerUp();
  return v;
}

/** Slot 1 holds a healthy card during every fault on slot 0. */
async function otherSlotFine(t: Test, d: VpcdDriver): Promise<void> {
  t.ok(d.reader.slots[1].isCardPresent(), 'slot 1 still has its card');
  t.same(await d.reader.slots[1].transmit(APDU, PROTOCOL.T1), h('9000'), 'slot 1 still answers');
}

t.test('the wire: power up and GET ATR in one message batch, APDUs framed, power down without reply', async (t) => {
  const { d, port } = await setup(t);
  const v = await insert(t, d, port, 0);
  t.same(v.received.slice(0, 3), [h('04'), h('01'), h('04')], 'probe GET ATR at connect, then power on + GET ATR');
  await d.reader.slots[0].transmit(APDU, PROTOCOL.T1);
  t.same(v.received.at(-1), APDU);
  await d.reader.slots[0].powerDown();
  await d.reader.slots[0].transmit(APDU, PROTOCOL.T1);
  t.same(v.received.slice(-2), [h('00'), APDU], 'power off, no reply expected');
  await t.rejects(d.reader.slots[0].transmit(h('00'), PROTOCOL.T1), { code: SCARD.E_INVALID_PARAMETER }, 'a 1-byte APDU would read as a control code');
});

t.test('every message leaves in one write on a TCP_NODELAY socket', async (t) => {
  const net = await import('node:net');
  const fs = await import('node:fs');
  const { syncBuiltinESMExports } = await import('node:module');
  const { d, port } = await setup(t);
  const proto = net.Socket.prototype as unknown as { write: (...a: unknown[]) => boolean; setNoDelay: (...a: unknown[]) => unknown };
  const origWrite = proto.write;
  const origNoDelay = proto.setNoDelay;
  const origWriteSync = fs.writeSync;
  const writes: Buffer[] = [];
  let noDelay = 0;
  // The driver writes through the socket's stream or, when nothing is queued, with one write(2) on its descriptor.
  let fd = -1;
  proto.write = function (this: { localPort?: number }, ...a: unknown[]) {
    if (this.localPort === port && Buffer.isBuffer(a[0])) writes.push(a[0]);
    return origWrite.apply(this, a);
  };
  proto.setNoDelay = function (this: { localPort?: number; _handle?: { fd?: number } }, ...a: unknown[]) {
    if (this.localPort === port && a[0] !== false) {
      noDelay++;
      fd = this._handle?.fd ?? -1;
    }
    return origNoDelay.apply(this, a);
  };
  (fs as unknown as { default: { writeSync: (...a: unknown[]) => number } }).default.writeSync = (...a: unknown[]) => {
    if (a[0] === fd && Buffer.isBuffer(a[1])) writes.push(Buffer.from(a[1].subarray(Number(a[2] ?? 0), Number(a[2] ?? 0) + Number(a[3] ?? a[1].length))));
    return (origWriteSync as (...b: unknown[]) => number)(...a);
  };
  syncBuiltinESMExports();
  t.teardown(() => {
    proto.write = origWrite;
    proto.setNoDelay = origNoDelay;
    (fs as unknown as { default: { writeSync: typeof origWriteSync } }).default.writeSync = origWriteSync;
    syncBuiltinESMExports();
  });
  await insert(t, d, port, 0);
  t.ok(noDelay >= 1, 'TCP_NODELAY set on the accepted connection');
  t.same(writes.slice(-1), [h('0001 01 0001 04')], 'power on + GET ATR: one write');
  writes.length = 0;
  await d.reader.slots[0].transmit(APDU, PROTOCOL.T1);
  t.same(writes, [encodeFrame(APDU)], 'an APDU: length and payload in one write');
});

t.test('a frame split in 1-byte pieces and frames glued together are both read right', async (t) => {
  const { d, port } = await setup(t);
  const v = await insert(t, d, port, 0);
  v.onFrame = (f) => {
    if (f.length === 1) return undefined;
    const frame = encodeFrame(h('0102039000'));
    let i = 0;
    const drip = (): void => {
      if (i < frame.length && !v.sock.destroyed) v.sock.write(frame.subarray(i, ++i), () => setTimeout(drip, 2));
    };
    drip();
    return undefined;
  };
  t.same(await d.reader.slots[0].transmit(APDU, PROTOCOL.T1), h('0102039000'));
});

t.test('vicc disconnects mid-APDU: E_NO_SMARTCARD, slot empty, other slot untouched', async (t) => {
  const { d, port } = await setup(t);
  const v = await insert(t, d, port, 0);
  await insert(t, d, port, 1);
  v.onFrame = (f) => {
    if (f.length > 1) v.close();
    return undefined;
  };
  const removed = once(d.reader.slots[0], 'presence');
  await t.rejects(d.reader.slots[0].transmit(APDU, PROTOCOL.T1), { code: SCARD.E_NO_SMARTCARD });
  t.same(await removed, [false]);
  t.notOk(d.reader.slots[0].isCardPresent());
  await otherSlotFine(t, d);
  // The slot takes a new card afterwards.
  await insert(t, d, port, 0);
  t.same(await d.reader.slots[0].transmit(APDU, PROTOCOL.T1), h('9000'));
});

t.test('vicc stops answering: E_TIMEOUT within the configured bound, slot empty', async (t) => {
  const { d, port } = await setup(t, 300);
  const v = await insert(t, d, port, 0);
  await insert(t, d, port, 1);
  v.onFrame = () => undefined;
  const removed = once(d.reader.slots[0], 'presence');
  await t.rejects(d.reader.slots[0].transmit(APDU, PROTOCOL.T1), { code: SCARD.E_TIMEOUT });
  t.same(await removed, [false]);
  await v.closed;
  t.pass('vpcd closed the silent connection');
  await otherSlotFine(t, d);
});

t.test('half a frame then silence: E_TIMEOUT', async (t) => {
  const { d, port } = await setup(t, 300);
  const v = await insert(t, d, port, 0);
  v.onFrame = (f) => (f.length > 1 ? h('0010 9000') : undefined);
  await t.rejects(d.reader.slots[0].transmit(APDU, PROTOCOL.T1), { code: SCARD.E_TIMEOUT });
  t.notOk(d.reader.slots[0].isCardPresent());
});

t.test('malformed answers: F_COMM_ERROR and the card is dropped', async (t) => {
  const cases: Array<[string, (f: Buffer) => Buffer | undefined, 'apdu' | 'atr']> = [
    ['response shorter than a status word', (f) => (f.length > 1 ? encodeFrame(h('90')) : undefined), 'apdu'],
    ['empty response', (f) => (f.length > 1 ? encodeFrame(Buffer.alloc(0)) : undefined), 'apdu'],
    ['oversized ATR (40 bytes)', (f) => (f.length === 1 && f[0] === 4 ? encodeFrame(Buffer.concat([h('3B'), Buffer.alloc(39)])) : undefined), 'atr'],
    ['ATR not starting with 3B/3F', (f) => (f.length === 1 && f[0] === 4 ? encodeFrame(h('0011223344')) : undefined), 'atr'],
    ['ATR frame announcing 60000 bytes, never sent', (f) => (f.length === 1 && f[0] === 4 ? h('EA60 3B') : undefined), 'atr'],
    ['empty ATR', (f) => (f.length === 1 && f[0] === 4 ? encodeFrame(Buffer.alloc(0)) : undefined), 'atr'],
    ['two answers to one APDU', (f) => (f.length > 1 ? encodeFrames(h('9000'), h('9000')) : undefined), 'apdu'],
  ];
  for (const [name, answer, when] of cases) {
    await t.test(name, async (t) => {
      const { d, port } = await setup(t);
      const v = await insert(t, d, port, 0);
      await insert(t, d, port, 1);
      v.onFrame = answer;
      const slot = d.reader.slots[0];
      if (when === 'atr') {
        await t.rejects(slot.powerUp(), { code: SCARD.F_COMM_ERROR });
      } else if (name.startsWith('two')) {
        t.same(await slot.transmit(APDU, PROTOCOL.T1), h('9000'), 'the first answer is the response');
        await v.closed;
        t.pass('the unsolicited second frame got the connection closed');
      } else {
        await t.rejects(slot.transmit(APDU, PROTOCOL.T1), { code: SCARD.F_COMM_ERROR });
      }
      t.notOk(slot.isCardPresent(), 'slot empty');
      await otherSlotFine(t, d);
    });
  }
});

t.test('a connection that never gives an ATR is not a card', async (t) => {
  const { d, port } = await setup(t, 200);
  const events: boolean[] = [];
  d.reader.slots[0].on('presence', (p) => events.push(p));
  const v = await FakeVicc.connect(port);
  v.onFrame = () => undefined;
  await v.closed;
  t.same(events, [], 'no presence event');
  t.notOk(d.reader.slots[0].isCardPresent());
  const v2 = await FakeVicc.connect(port);
  t.teardown(() => v2.close());
  await once(d.reader.slots[0], 'presence');
  t.pass('the slot accepts the next connection');
});

t.test('garbage bytes instead of frames', async (t) => {
  const { d, port } = await setup(t);
  const v = await insert(t, d, port, 0);
  const removed = once(d.reader.slots[0], 'presence');
  v.write(h('DEADBEEF')); // unsolicited: a 0xDEAD-byte frame header and 2 bytes
  v.write(Buffer.alloc(0xdead - 2));
  t.same(await removed, [false], 'an unsolicited frame drops the card');
});

t.test('the port is busy at start: the slot is unavailable and retried', async (t) => {
  const port = await freePorts(1);
  const net = await import('node:net');
  const blocker = net.createServer();
  await new Promise<void>((r) => blocker.listen({ host: '127.0.0.1', port }, () => r()));
  const d = createVpcdDriver({ enabled: true, host: '127.0.0.1', port, slots: 1, responseTimeoutMs: 500 }, { log });
  const avail: Array<[boolean, string | undefined]> = [];
  d.reader.slots[0].on('availability', (a, why) => avail.push([a, why]));
  await d.start();
  t.teardown(() => d.stop());
  t.match(avail[0], [false, /EADDRINUSE/]);
  await new Promise<void>((r) => blocker.close(() => r()));
  await once(d.reader.slots[0], 'availability');
  t.match(avail.at(-1), [true]);
  const v = await FakeVicc.connect(port);
  t.teardown(() => v.close());
  await once(d.reader.slots[0], 'presence');
  t.same(await d.reader.slots[0].powerUp(), FAKE_ATR);
});

t.test('fuzz: the frame decoder returns exactly the frames sent, however TCP splits them', async (t) => {
  const rand = rng(0x5ca7d);
  for (let round = 0; round < 300; round++) {
    const frames = Array.from({ length: 1 + Math.floor(rand() * 6) }, () => {
      const n = rand() < 0.1 ? Math.floor(rand() * 70000) % 65536 : Math.floor(rand() * 300);
      return Buffer.from(Array.from({ length: n }, () => Math.floor(rand() * 256)));
    });
    const wire = encodeFrames(...frames);
    const dec = new FrameDecoder();
    const got: Buffer[] = [];
    let p = 0;
    while (p < wire.length) {
      const n = 1 + Math.floor(rand() * (rand() < 0.5 ? 4 : 5000));
      got.push(...dec.push(wire.subarray(p, p + n)));
      p += n;
    }
    if (got.length !== frames.length || got.some((g, i) => !g.equals(frames[i]))) {
      t.fail(`round ${round}: decoded frames differ`);
      return;
    }
    t.equal(dec.buffered, 0);
  }
  const dec = new FrameDecoder();
  t.same(dec.push(h('00')), [], 'half a header waits');
  t.same(dec.push(h('02 9000 0001')), [h('9000')], 'complete frame out, partial kept');
  t.equal(dec.buffered, 2);
  t.throws(() => encodeFrame(Buffer.alloc(65536)), /exceeds 65535/);
});

t.test('fuzz: random bytes from a vicc never crash the driver; failures are PcscErrors; the slot recovers', async (t) => {
  const { d, port } = await setup(t, 150);
  const rand = rng(0xf00d);
  const slot = d.reader.slots[0];
  const allowed = new Set([SCARD.E_NO_SMARTCARD, SCARD.F_COMM_ERROR, SCARD.E_TIMEOUT]);
  for (let round = 0; round < 25; round++) {
    const v = await FakeVicc.connect(port);
    const junk = (): Buffer => Buffer.from(Array.from({ length: Math.floor(rand() * 12) }, () => Math.floor(rand() * 256)));
    const mode = Math.floor(rand() * 3);
    v.onFrame = (f) => {
      if (f.length === 1 && f[0] === 4 && mode !== 2) return encodeFrame(FAKE_ATR);
      return mode === 0 ? encodeFrame(junk()) : junk();
    };
    // Presence may or may not come; the driver asking this vicc for its ATR shows it has taken the connection.
    await waitFor(() => v.received.length > 0, `round ${round}: vpcd to ask the new vicc for its ATR`, 5000);
    for (let i = 0; i < 3; i++) {
      try {
        const r = await slot.transmit(APDU, PROTOCOL.T1);
        t.ok(r.length >= 2, 'a response has a status word');
      } catch (e) {
        const code = (e as { code?: number }).code as number;
        if (!allowed.has(code as never)) t.fail(`round ${round}: unexpected error ${String(e)}`);
      }
    }
    v.close();
    await v.closed;
    await waitFor(() => !slot.isCardPresent(), `round ${round}: slot empty after the vicc left`, 5000);
  }
  const ok = await FakeVicc.connect(port);
  t.teardown(() => ok.close());
  await once(slot, 'presence');
  await slot.powerUp();
  t.same(await slot.transmit(APDU, PROTOCOL.T1), h('9000'), 'a well-behaved vicc works after all that');
});
