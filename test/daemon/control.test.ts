// The control channel over its real Unix socket, against an in-process gateway
// (real core, sim driver): every method, and bad requests answered without
// harm to the daemon.
import t from 'tap';
import { createConnection, type Socket } from 'node:net';
import { startTestGateway } from '../helpers/gateway.js';
import { ControlClient, ControlError, type ControlEvent } from '../../src/cli/client.js';
import type { ReaderJson } from '../../src/api/control/protocol.js';
import type { TransmitAnswer } from '../../src/gateway/types.js';
import { SCARD } from '../../src/pcsc/constants.js';
import { lcg } from '../helpers/prng.js';

/** Raw line-level access, for requests the client library would never send. */
function rawConn(path: string): Promise<{ sock: Socket; send(line: string): void; next(): Promise<any> }> {
  return new Promise((resolve, reject) => {
    const sock = createConnection(path);
    const queue: any[] = [];
    const waiters: Array<(v: any) => void> = [];
    let buf = '';
    sock.setEncoding('utf8');
    sock.on('data', (d: string) => {
      buf += d;
      let nl: number;
      while ((nl = buf.indexOf('\n')) >= 0) {
        const msg = JSON.parse(buf.slice(0, nl));
        buf = buf.slice(nl + 1);
        const w = waiters.shift();
        if (w) w(msg);
        else queue.push(msg);
      }
    });
    sock.once('error', reject);
    sock.once('connect', () =>
      resolve({
        sock,
        send: (line) => sock.write(line),
        next: () => (queue.length ? Promise.resolve(queue.shift()) : new Promise((r) => waiters.push(r))),
      }),
    );
  });
}

async function code(p: Promise<unknown>): Promise<{ code: number; name: string; message: string }> {
  try {
    await p;
  } catch (err) {
    if (err instanceof ControlError) return err.body;
    throw err;
  }
  throw new Error('expected an error answer');
}

t.test('control channel', async (t) => {
  const gw = await startTestGateway({ services: ['control'] });
  t.teardown(() => gw.stop());
  const path = gw.config.control.socket;
  const c = await ControlClient.connect(path);
  t.teardown(() => c.close());

  t.test('readers lists the four simulated readers with their cards', async (t) => {
    const { readers: list } = await c.request<{ readers: ReaderJson[] }>('readers');
    t.equal(list.length, 4);
    t.same(list.map((r) => r.number), [1, 2, 3, 4]);
    const a = list.find((r) => r.name.startsWith('Simulated Contact Reader A'))!;
    t.equal(a.state, 'present');
    t.match(a.atr, /^3B[0-9A-F]+$/);
    t.equal(a.card?.type, 'iso7816-t0');
    const cl = list.find((r) => r.name.startsWith('Simulated Contactless'))!;
    t.equal(cl.card?.contactless, true);
    t.match(cl.uid, /^[0-9A-F]{8,20}$/);
    const empty = list.find((r) => r.name.startsWith('Simulated Empty'))!;
    t.equal(empty.state, 'empty');
    t.equal(empty.atr, null);
  });

  t.test('transmit runs APDUs in one go and returns the responses', async (t) => {
    const r = await c.request<TransmitAnswer>('transmit', {
      reader: 'Contact Reader B',
      apdus: ['00A4000C023F00', '00 20 00 81'],
    });
    t.match(r.reader, /^Simulated Contact Reader B/);
    t.equal(r.protocol, 'T=1');
    t.equal(r.responses.length, 2);
    t.match(r.responses[0], { apdu: '00 A4 00 0C 02 3F 00', response: '90 00', sw: '9000', ok: true });
    t.match(r.responses[1].sw, /^63C[0-9A-F]$/, 'VERIFY without data reports the retry counter');
    const uid = await c.request<TransmitAnswer>('transmit', { reader: 'contactless', apdus: ['FFCA000000'] });
    t.match(uid.responses[0].data, /^[0-9A-F]{8,20}$/);
    t.match(uid.atr, /^3B8F8001804F0CA0/, 'the PC/SC part 3 contactless ATR');
  });

  t.test('a reader is named by full name, number or unique part', async (t) => {
    const { readers: list } = await c.request<{ readers: ReaderJson[] }>('readers');
    const byNumber = await c.request<{ reader: string }>('transmit', { reader: '2', apdus: ['00A4000C023F00'] });
    t.equal(byNumber.reader, list[1].name, 'numbers start at 1, as scardctl readers shows them');
    t.equal((await c.request<ReaderJson>('reader/status', { reader: list[3].name })).number, 4, 'full name');
    t.equal((await c.request<ReaderJson>('reader/status', { reader: list[3].id })).number, 4, 'reader id');
    const amb = await code(c.request('simulate/remove', { reader: 'contact' }));
    t.equal(amb.name, 'SCARD_E_UNKNOWN_READER');
    t.match(amb.message, /matches 3 readers/);
    const none = await code(c.request('simulate/remove', { reader: 'zzz' }));
    t.equal(none.code, SCARD.E_UNKNOWN_READER);
    t.match(none.message, /no reader matches "zzz"/);
    const out = await code(c.request('simulate/remove', { reader: '9' }));
    t.match(out.message, /no reader number 9/);
  });

  t.test('bad parameters are named', async (t) => {
    const bad = { code: SCARD.E_INVALID_PARAMETER, name: 'SCARD_E_INVALID_PARAMETER' };
    t.match(await code(c.request('transmit', { apdus: ['00A40000'] })), { ...bad, message: /missing field "reader"/ });
    t.match(await code(c.request('transmit', { reader: '1', apdus: ['00A4zz'] })), { ...bad, message: /apdus\.0: not a valid APDU \(invalid hex character "z"/ });
    t.match(await code(c.request('transmit', { reader: '1', apdus: ['00A40000', '00A4'] })), { ...bad, message: /apdus\.1: not a valid APDU \(.*APDU too short/ });
    t.match(await code(c.request('transmit', { reader: '1', apdus: ['00A4000005AABB'] })), { ...bad, message: /apdus\.0: .*Lc=5/ });
    t.match(await code(c.request('transmit', { reader: '1', apdus: [] })), { ...bad, message: /apdus: must NOT have fewer than 1 items/ });
    t.match(await code(c.request('transmit', { reader: '1', apdus: [5] })), { ...bad, message: /apdus\.0: must be string, got number/ });
    t.match(await code(c.request('simulate/insert', { reader: '1', card: 5 })), { ...bad, message: /card: must be string, got number/ });
    t.match(await code(c.request('nope')), { ...bad, message: /unknown method "nope" \(methods: ping, watch, unwatch, readers/ });
  });

  t.test('a card-level failure comes back as a PC/SC error', async (t) => {
    const e = await code(c.request('transmit', { reader: 'Empty', apdus: ['00A4000C023F00'] }));
    t.same(e, { code: SCARD.E_NO_SMARTCARD, name: 'SCARD_E_NO_SMARTCARD', message: e.message });
  });

  t.test('watch streams events; insert and remove simulate cards; unwatch stops', async (t) => {
    const events: ControlEvent[] = [];
    const w = await ControlClient.connect(path);
    const first = await w.request<{ readers: ReaderJson[] }>('watch', undefined, (e) => events.push(e));
    t.equal(first.readers.length, 4);
    await c.request('simulate/insert', { reader: 'Empty', card: 'iso7816' });
    await c.request('simulate/remove', { reader: 'Empty' });
    await c.request('simulate/insert', { reader: 'Empty', card: { type: 'iso14443-4' } });
    while (events.filter((e) => e.event === 'card-inserted').length < 2) await new Promise((r) => setTimeout(r, 10));
    const kinds = events.filter((e) => e.event !== 'reader-state').map((e) => e.event);
    t.same(kinds, ['card-inserted', 'card-removed', 'card-inserted']);
    t.ok(events.every((e) => e.reader.name.startsWith('Simulated Empty Reader')));
    const inserted = events.find((e) => e.event === 'card-inserted')!;
    t.equal(inserted.reader.state, 'present');
    t.match(inserted.time, /^\d{4}-\d\d-\d\dT/);
    const listeners = gw.core.listenerCount('card-inserted');
    await w.request('unwatch', { watch: 1 });
    t.equal(gw.core.listenerCount('card-inserted'), listeners - 1, 'unwatch removes its listeners');
    const before = events.length;
    await c.request('simulate/remove', { reader: 'Empty' });
    await c.request('ping');
    t.equal(events.length, before, 'no events after unwatch');
    t.match(await code(w.request('unwatch', { watch: 1 })), { name: 'SCARD_E_INVALID_PARAMETER' });
    await w.request('watch', undefined, () => undefined);
    const n = gw.core.listenerCount('card-inserted');
    w.close();
    while (gw.core.listenerCount('card-inserted') === n) await new Promise((r) => setTimeout(r, 10));
    t.equal(gw.core.listenerCount('card-inserted'), n - 1, 'a closed connection drops its watch');
  });

  t.test('diagnostics gathers every part', async (t) => {
    const d = await c.request<Record<string, any>>('diagnostics');
    t.equal(d.gateway.gatewayId, 'test-gw');
    t.ok(d.core, 'core diagnostics');
    t.ok(d.control.requests > 0);
  });

  t.test('malformed requests get an error and the connection keeps working', async (t) => {
    const r = await rawConn(path);
    r.send('this is not json\n');
    t.match(await r.next(), { id: null, error: { name: 'SCARD_E_INVALID_PARAMETER', message: /not valid JSON/ } });
    r.send('[1,2]\n');
    t.match(await r.next(), { id: null, error: { name: 'SCARD_E_INVALID_PARAMETER', message: /a request must be a JSON object$/ } });
    r.send('{"id":7}\n');
    t.match(await r.next(), { id: 7, error: { name: 'SCARD_E_INVALID_PARAMETER', message: /request has no "method" string$/ } });
    r.send('{"id":8,"method":"readers","params":[1]}\n');
    t.match(await r.next(), { id: 8, error: { name: 'SCARD_E_INVALID_PARAMETER', message: /"params" must be a JSON object$/ } });
    r.send('\n\n{"id":"x","method":"ping"}\n');
    t.match(await r.next(), { id: 'x', result: { version: 'test' } });
    r.sock.destroy();
  });

  t.test('an over-long line closes that connection only', async (t) => {
    const r = await rawConn(path);
    const closed = new Promise((res) => r.sock.once('close', res));
    r.send('{"id":1,"method":"ping","pad":"' + 'x'.repeat(1100 * 1024));
    t.match(await r.next(), { id: null, error: { name: 'SCARD_E_INVALID_PARAMETER', message: /too long/ } });
    await closed;
    t.ok(await c.request('ping'), 'others unaffected');
  });

  t.test('fuzz: random bytes never break the channel', async (t) => {
    const rnd = lcg(42);
    const r = await rawConn(path);
    r.sock.on('data', () => undefined);
    for (let i = 0; i < 300; i++) {
      const len = rnd(200);
      const b = Buffer.alloc(len);
      for (let j = 0; j < len; j++) b[j] = rnd(256);
      r.sock.write(b);
    }
    r.sock.write('\n');
    r.sock.destroy();
    const again = await ControlClient.connect(path);
    t.ok(await again.request('ping'), 'daemon still answers');
    again.close();
  });
});
