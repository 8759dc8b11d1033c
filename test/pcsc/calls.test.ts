/**
 * The PC/SC calls the tools do not make, through Debian's libpcsclite (a C
 * client compiled at test time): share modes, reconnect dispositions, reset
 * and removal while connected, small buffers, extended APDUs, attributes,
 * control, cancel, bad handles.
 */
import t, { type Test } from 'tap';
import { startSimGateway, type SimGateway } from './helpers/sim-gateway.js';
import { CallsClient } from './helpers/clients.js';

const OK = 'rv=0x00000000';
const rvOf = (line: string) => /rv=(0x[0-9A-F]{8})/.exec(line)?.[1];

async function setup(t: Test): Promise<{ gw: SimGateway; a: CallsClient; b: CallsClient; atr: string }> {
  const gw = await startSimGateway([{ name: 'Sim A', card: { type: 'iso7816' } }, { name: 'Sim B' }]);
  const a = new CallsClient(gw.env);
  const b = new CallsClient(gw.env);
  t.teardown(async () => {
    await a.kill();
    await b.kill();
    await gw.stop();
  });
  t.match(await a.call('ctx 1'), OK);
  t.match(await b.call('ctx 1'), OK);
  return { gw, a, b, atr: gw.core.readers()[0].atr.toString('hex').toUpperCase() };
}

t.test('share modes and sharing violations', async (t) => {
  const { a, b } = await setup(t);
  t.equal(await a.call('list'), 'list rv=0x00000000 [Sim A 00 00] [Sim B 01 00]');
  t.match(await a.call('connect 1 #0 2 3'), `${OK} proto=2`);
  t.equal(rvOf(await b.call('connect 1 #0 1 3')), '0x8010000B', 'EXCLUSIVE while shared: SHARING_VIOLATION');
  t.match(await b.call('connect 2 #0 3 0'), OK, 'DIRECT alongside shared');
  t.equal(rvOf(await b.call('connect 3 #1 2 3')), '0x8010000C', 'no card: NO_SMARTCARD');
  t.match(await b.call('connect 3 #1 3 0'), `${OK} proto=0`, 'DIRECT on an empty reader');
  t.match(await b.call('status 3'), /rv=0x00000000 .*state=0x00000002 proto=0 atrlen=0 name=\[Sim B 01 00\]/);
  t.equal(rvOf(await b.call('connect 4 no-such-reader 2 3')), '0x80100009', 'UNKNOWN_READER');
  t.equal(rvOf(await b.call('connect 4 #0 2 0')), '0x8010000F', 'no protocol: PROTO_MISMATCH');
  t.equal(rvOf(await b.call('connect 4 #0 9 3')), '0x80100011', 'bad share mode: INVALID_VALUE');
  t.match(await a.call('disconnect 1 0'), OK);
  t.match(await b.call('disconnect 2 0'), OK);
  t.match(await a.call('connect 1 #0 1 3'), OK, 'EXCLUSIVE once alone');
  t.equal(rvOf(await b.call('connect 2 #0 2 3')), '0x8010000B');
  t.match(await a.call('gsc #0 0 0'), /event=0x000100A2/, 'table shows EXCLUSIVE');
});

t.test('reconnect with every disposition, reset seen by the other handle', async (t) => {
  const { a, b, atr } = await setup(t);
  t.match(await a.call('connect 1 #0 2 3'), OK);
  t.match(await b.call('connect 1 #0 2 3'), OK);
  t.equal(rvOf(await a.call('reconnect 1 2 3 3')), '0x80100011', 'EJECT is not a reconnect disposition');
  for (const init of [0, 1, 2]) t.match(await a.call(`reconnect 1 2 3 ${init}`), `${OK} proto=2`, `disposition ${init}`);
  t.match(await a.call('status 1'), new RegExp(`${OK} namelen=12 state=0x00010034 proto=2 atrlen=\\d+ name=\\[Sim A 00 00\\] atr=${atr}`));
  t.equal(rvOf(await b.call('transmit 1 00A4040000')), '0x80100068', 'RESET_CARD for the other handle');
  t.equal(rvOf(await b.call('transmit 1 00A4040000')), '0x80100068', 'until it reconnects');
  t.match(await b.call('reconnect 1 2 3 0'), OK);
  t.match(await b.call('transmit 1 00A4040000'), OK);
  t.match(await b.call('disconnect 1 1'), OK);
  t.equal(rvOf(await a.call('transmit 1 00A4040000')), '0x80100068', 'B reset the card on disconnect');
  t.match(await a.call('reconnect 1 1 3 0'), OK, 'now alone: EXCLUSIVE');
  t.match(await a.call('disconnect 1 2'), OK, 'UNPOWER');
});

t.test('card removal while connected', async (t) => {
  const { gw, a } = await setup(t);
  t.match(await a.call('connect 1 #0 2 3'), OK);
  gw.remove('Sim A');
  for (const c of ['transmit 1 00A4040000', 'status 1', 'begin 1', 'end 1 0', 'getattrib 1 0x00090303 264']) {
    t.equal(rvOf(await a.call(c)), '0x80100069', `${c.split(' ')[0]}: REMOVED_CARD`);
  }
  t.equal(rvOf(await a.call('reconnect 1 2 3 0')), '0x8010000C', 'reconnect without a card: NO_SMARTCARD');
  gw.insert('Sim A');
  t.match(await a.call('reconnect 1 2 3 0'), OK, 'reconnect once a card is back');
  t.match(await a.call('transmit 1 00A4040000'), OK);
  t.match(await a.call('disconnect 1 0'), OK);
  t.equal(rvOf(await a.call('disconnect 1 0')), '0x80100003', 'handle gone');
});

t.test('transmit: small buffers, extended APDUs, protocol mismatch', async (t) => {
  const { a } = await setup(t);
  t.match(await a.call('connect 1 #0 2 3'), OK);
  t.match(await a.call('transmit 1 00840000000100'), /rv=0x00000000 len=258 data=[0-9A-F]{512}9000/, 'case 2E, 256 bytes + SW');
  t.equal(await a.call('transmit 1 00840000000100 257'), 'transmit rv=0x80100008 len=258 data=', 'needed length reported');
  t.match(await a.call('transmit 1 0084000008'), /rv=0x00000000 len=10 data=[0-9A-F]{16}9000/, 'and the stream is still in step');
  t.match(await a.call(`transmit 1 00D6000000012C${'11'.repeat(300)}`), /rv=0x00000000 len=2 data=[0-9A-F]{4}$/, 'case 3E, 300 bytes in');
  t.equal(rvOf(await a.call('transmit 1 00A4040000 258 t0')), '0x8010000F', 'T=0 PCI on a T=1 card');
  t.match(await a.call('transmit 1 00A4040000 258 raw'), OK, 'RAW is accepted');
  t.equal(rvOf(await a.call('transmit 1 00')), '0x80100004', 'a 1-byte APDU');
});

t.test('attributes, control, status buffers', async (t) => {
  const { a, atr } = await setup(t);
  t.match(await a.call('connect 1 #0 2 3'), OK);
  const atrLen = atr.length / 2;
  t.equal(await a.call(`getattrib 1 0x00090303 264`), `getattrib rv=0x00000000 len=${atrLen} data=${atr}`);
  t.equal(await a.call(`getattrib 1 0x00090303 0`), `getattrib rv=0x00000000 len=${atrLen} data=`, 'length query');
  t.equal(await a.call(`getattrib 1 0x00090303 ${atrLen - 1}`), `getattrib rv=0x80100008 len=${atrLen} data=`, 'small buffer');
  t.equal(await a.call('getattrib 1 0x7FFF0003 264'), `getattrib rv=0x00000000 len=12 data=${Buffer.from('Sim A 00 00\0').toString('hex').toUpperCase()}`);
  t.equal(rvOf(await a.call('getattrib 1 0x12345678 264')), '0x8010001F', 'unknown attribute');
  t.notSame(rvOf(await a.call('setattrib 1 0x00090303 00')), '0x00000000', 'the ATR cannot be set');
  t.equal(await a.call('control 1 0x42000D48 - 256'), 'control rv=0x00000000 len=0 data=', 'GET_FEATURE_REQUEST: no features');
  t.equal(rvOf(await a.call('status 1 4')), '0x80100008', 'SCardStatus with a short name buffer');
});

t.test('transactions: nesting, extra end, FIFO wait across contexts', async (t) => {
  const { a, b } = await setup(t);
  t.match(await a.call('connect 1 #0 2 3'), OK);
  t.match(await b.call('connect 1 #0 2 3'), OK);
  t.match(await a.call('begin 1'), OK);
  t.match(await a.call('begin 1'), OK, 'nested');
  b.send('begin 1');
  t.match(await a.call('end 1 0'), OK);
  t.match(await a.call('transmit 1 00A4040000'), OK, 'still held after one end');
  t.match(await a.call('end 1 0'), OK);
  t.match(await b.next(), OK, "B's begin returned once A ended");
  t.equal(rvOf(await a.call('end 1 0')), '0x8010000B', 'ending while another holds it');
  t.match(await b.call('end 1 0'), OK);
  t.equal(rvOf(await b.call('end 1 0')), '0x80100016', 'extra end: NOT_TRANSACTED');
});

t.test('a client killed inside a transaction loses it at once', async (t) => {
  const { a, b } = await setup(t);
  t.match(await a.call('connect 1 #0 2 3'), OK);
  t.match(await b.call('connect 1 #0 2 3'), OK);
  t.match(await a.call('begin 1'), OK);
  b.send('begin 1');
  await a.kill();
  // pcscd resets the card of a client that dies inside a transaction; the waiter learns it from its begin.
  t.equal(rvOf(await b.next()), '0x80100068', 'the waiting begin returns: RESET_CARD');
  t.match(await b.call('reconnect 1 2 3 0'), OK);
  t.match(await b.call('begin 1'), OK, 'transaction free');
  t.match(await b.call('end 1 0'), OK);
});

t.test('status change: timeout, cancel, unknown reader, insertion', async (t) => {
  const { gw, a } = await setup(t);
  t.equal(rvOf(await a.call('gsc #1 0x10 200')), '0x8010000A', 'no change: TIMEOUT');
  t.match(await a.call('gsc-cancel #1 0x10 200'), /^cancel rv=0x00000000 gsc rv=0x80100002/, 'SCardCancel ends an INFINITE wait');
  t.equal(rvOf(await a.call('gsc nope 0 100')), '0x80100009', 'UNKNOWN_READER');
  t.match(await a.call('gsc #1 0 0'), /rv=0x00000000 event=0x00000012/, 'UNAWARE -> EMPTY|CHANGED');
  a.send('gsc-bg #1 0x10 20000');
  t.equal(await a.next(), 'gsc-bg started');
  await gw.waiters(1);
  gw.insert('Sim B');
  const line = await a.call('gsc-join');
  t.match(line, /rv=0x00000000 event=0x00010022 atr=[0-9A-F]+/, 'PRESENT|CHANGED, counter 1');
  a.send('gsc-bg pnp 0 20000');
  t.equal(await a.next(), 'gsc-bg started');
  await gw.waiters(1);
  await gw.addReader('Sim C');
  t.match(await a.call('gsc-join'), /rv=0x00000000 event=0x00000002/, 'PnP notification on a new reader');
});
