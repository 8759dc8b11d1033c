import t from 'tap';
import pino from 'pino';
import { createSimDriver, type SimReader } from '../../drivers/sim/index.js';
import { ResourceManager } from '../../src/core/index.js';
import { CARD_STATE, PROTOCOL, SCARD, SHARE, DISPOSITION } from '../../src/pcsc/constants.js';
import type { DriverReader } from '../../src/driver/contract.js';
import { h, hx } from './helpers.js';

const log = pino({ level: 'silent' });
const AID = 'F0736361726467617465';

t.test('readers from config, initial card present, friendly names as given', async (t) => {
  const d = createSimDriver({ readers: [{ name: 'Desk', card: 'iso7816' }, { name: 'Door', card: { type: 'mifare-classic-1k', uid: '01020304' } }, { name: 'Empty' }] }, { log });
  const added: DriverReader[] = [];
  d.on('reader-added', (r) => added.push(r));
  await d.start();
  t.same(added.map((r) => r.friendlyName), ['Desk', 'Door', 'Empty']);
  t.same(added.map((r) => r.slots.length), [1, 1, 1]);
  t.same(added.map((r) => r.slots[0].isCardPresent()), [true, true, false]);
  t.equal(new Set(added.map((r) => r.id)).size, 3, 'ids unique');
  t.same(added[1].slots[0].cardInfo()?.uid, h('01020304'));
  t.equal(added[0].slots[0].level, 'apdu');
  const removed: string[] = [];
  d.on('reader-removed', (r) => removed.push(r.id));
  await d.stop();
  t.same(removed, added.map((r) => r.id), 'stop removes every reader');
});

t.test('a bad card spec in config names its key at construction', async (t) => {
  t.throws(() => createSimDriver({ readers: [{ name: 'A' }, { name: 'B', card: { type: 'mifare-classic-1k', uid: 'xyz' } }] }, { log }), /drivers\.sim\.readers\[1\]\.card: .*uid/);
});

t.test('slot: insert/remove emit presence once, power, transmit, errors', async (t) => {
  const d = createSimDriver({ readers: [{ name: 'R' }] }, { log });
  await d.start();
  const slot = (d.list()[0] as SimReader).slot;
  const events: Array<[boolean, string | undefined]> = [];
  slot.on('presence', (p, info) => events.push([p, info?.type]));
  await t.rejects(slot.powerUp(), { code: SCARD.E_NO_SMARTCARD });
  await t.rejects(slot.transmit(h('00A4000000'), PROTOCOL.T1), { code: SCARD.E_NO_SMARTCARD });
  await t.rejects(slot.simulate.insert({ type: 'bogus' }), { code: SCARD.E_INVALID_PARAMETER, message: /type must be one of/ });
  t.same(events, [], 'a refused spec changes nothing');
  await slot.simulate.insert({ type: 'iso7816' });
  await t.rejects(slot.simulate.insert('iso7816'), { code: SCARD.E_INVALID_VALUE, message: /remove it first/ });
  await t.rejects(slot.transmit(h('00A4000000'), PROTOCOL.T1), { code: SCARD.W_UNPOWERED_CARD });
  const atr = await slot.powerUp();
  t.equal(hx(atr), '3B8B8131FE45805973636172646761746529');
  await t.rejects(slot.transmit(h('00A4000000'), PROTOCOL.T0), { code: SCARD.E_PROTO_MISMATCH });
  t.equal(hx(await slot.transmit(h(`00A4040C0A${AID}`), PROTOCOL.T1)), '9000');
  await slot.simulate.remove();
  await slot.simulate.remove();
  t.same(events, [[true, 'iso7816'], [false, undefined]], 'one event per change');
  await t.rejects(slot.transmit(h('00A4000000'), PROTOCOL.T1), { code: SCARD.E_NO_SMARTCARD });
  await slot.simulate.insert('iso7816-t0');
  t.equal(slot.level, 'tpdu', 'T=0 card: TPDU level');
  await slot.simulate.remove();
  const { createCard } = await import('../../drivers/sim/cards/index.js');
  const mine = createCard({ type: 'iso7816-t0' });
  await slot.simulate.insert(mine);
  t.equal(slot.currentCard(), mine, 'a card model built by the caller goes in as is');
  t.same(slot.diagnostics().card, { type: 'iso7816-t0', atr: '3B0B8059736361726467617465', uid: undefined });
  await d.stop();
});

t.test('feedback is recorded by the virtual LED/buzzer and validated', async (t) => {
  const d = createSimDriver({ readers: [{ name: 'R' }] }, { log });
  await d.start();
  const slot = d.list()[0].slot;
  await slot.feedback({ led: 'green', buzzer: { ms: 100, count: 2 } });
  t.match(slot.feedbackHistory.at(-1), { led: 'green', buzzer: { ms: 100, count: 2 } });
  await t.rejects(slot.feedback({ led: 'purple' as 'red' }), { code: SCARD.E_INVALID_PARAMETER, message: /feedback\.led/ });
  await t.rejects(slot.feedback({ buzzer: { ms: -1 } }), { code: SCARD.E_INVALID_PARAMETER, message: /buzzer\.ms/ });
  t.equal(slot.feedbackHistory.length, 1);
  t.match(d.diagnostics(), { readers: [{ name: 'R', feedback: { led: 'green' } }] });
});

t.test('readers added and removed at run time', async (t) => {
  const d = createSimDriver({ readers: [] }, { log });
  await d.start();
  const seen: string[] = [];
  d.on('reader-added', (r) => seen.push(`+${r.friendlyName}`));
  d.on('reader-removed', (r) => seen.push(`-${r.friendlyName}`));
  const r = d.addReader({ name: 'Hot', card: 'mifare-ultralight' });
  t.ok(r.slot.isCardPresent());
  t.ok(d.removeReader(r.id));
  t.notOk(d.removeReader(r.id));
  t.throws(() => d.addReader({ name: '' }), /name must be 1\.\.100/);
  t.same(seen, ['+Hot', '-Hot']);
});

t.test('through the core: T=1 card, T=0 card with GET RESPONSE, MIFARE part 3, insert/remove events', async (t) => {
  const d = createSimDriver({ readers: [{ name: 'Sim T1', card: 'iso7816' }, { name: 'Sim T0', card: 'iso7816-t0' }, { name: 'Sim NFC', card: 'mifare-classic-1k' }] }, { log });
  const core = new ResourceManager({ transmitTimeoutMs: 1000 });
  t.teardown(() => core.stop());
  await core.addDriver(d);
  const names = core.readers().map((r) => r.name);
  t.same(names, ['Sim T1 00 00', 'Sim T0 01 00', 'Sim NFC 02 00']);
  t.ok(core.readers().every((r) => r.state & CARD_STATE.PRESENT));
  const ctx = core.establishContext('test');

  const t1 = await core.connect(ctx, names[0], SHARE.SHARED, PROTOCOL.T0 | PROTOCOL.T1);
  t.equal(t1.protocol, PROTOCOL.T1);
  t.equal(hx(await core.transmit(t1.handle, PROTOCOL.T1, h(`00A404000A${AID}00`))).slice(-4), '9000');

  const t0 = await core.connect(ctx, names[1], SHARE.SHARED, PROTOCOL.T0 | PROTOCOL.T1);
  t.equal(t0.protocol, PROTOCOL.T0);
  const fci = hx(await core.transmit(t0.handle, PROTOCOL.T0, h(`00A404000A${AID}00`)));
  t.equal(fci, `6F168201388302500084 0A${AID}8A0105`.replace(/ /g, '') + '9000', 'case 4 over T=0: the core fetched the FCI with GET RESPONSE');
  const read = hx(await core.transmit(t0.handle, PROTOCOL.T0, h('00B0813C10')));
  t.equal(read, '000000009000', 'read past the end over T=0: the core re-issued with P3=04 after 6C 04');

  const nfc = await core.connect(ctx, names[2], SHARE.SHARED, PROTOCOL.T1);
  t.equal(hx(await core.transmit(nfc.handle, PROTOCOL.T1, h('FFCA000000'))), '5CA7D6019000');
  t.equal(hx(await core.transmit(nfc.handle, PROTOCOL.T1, h('FF82000006FFFFFFFFFFFF'))), '9000');
  t.equal(hx(await core.transmit(nfc.handle, PROTOCOL.T1, h('FF860000050100046000'))), '9000');
  t.equal(hx(await core.transmit(nfc.handle, PROTOCOL.T1, h('FFB0000410'))), '00'.repeat(16) + '9000');

  const removed = new Promise((resolve) => core.once('card-removed', resolve));
  await d.list()[2].slot.simulate.remove();
  await removed;
  t.notOk(core.reader(names[2])?.state && (core.reader(names[2])!.state & CARD_STATE.PRESENT));
  await t.rejects(core.transmit(nfc.handle, PROTOCOL.T1, h('FFCA000000')));
  const inserted = new Promise((resolve) => core.once('card-inserted', resolve));
  await d.list()[2].slot.simulate.insert({ type: 'mifare-ultralight' });
  await inserted;
  t.equal(hx(core.reader(names[2])!.atr), '3B8F8001804F0CA0000003060300030000000068');
  await core.disconnect(t1.handle, DISPOSITION.LEAVE);
});

t.test('through the core: a T=1 card at TPDU level (block protocol, chaining, injected faults)', async (t) => {
  const d = createSimDriver({ readers: [{ name: 'Sim T1 TPDU', card: 'iso7816-t1-tpdu' }] }, { log });
  const core = new ResourceManager({ transmitTimeoutMs: 2000 });
  t.teardown(() => core.stop());
  await core.addDriver(d);
  const slot = d.list()[0].slot;
  t.equal(slot.level, 'tpdu');
  const card = slot.currentCard() as import('../../drivers/sim/cards/index.js').Iso7816Card;
  t.ok(card.t1, 'the card speaks T=1 blocks');
  const ctx = core.establishContext('test');
  const { handle, protocol } = await core.connect(ctx, 'Sim T1 TPDU 00 00', SHARE.SHARED, PROTOCOL.T1);
  t.equal(protocol, PROTOCOL.T1);
  const x = async (a: string): Promise<string> => hx(await core.transmit(handle, PROTOCOL.T1, h(a)));
  t.equal(await x(`00A4040C0A${AID}`), '9000');
  t.equal(await x('002000810431323334'), '9000');
  const payload = 'AB'.repeat(60);
  t.equal(await x(`00D681003C${payload}`), '9000', '60-byte command chained over IFSC 32');
  t.equal(await x('00B081003C'), payload + '9000');
  const big = await x('00B0830000');
  t.equal(big.length, 2 * 258, '256 bytes + SW in a chained response');
  card.t1!.inject('corrupt-edc');
  t.equal(await x('00B0810004'), 'ABABABAB9000', 'recovered from a corrupt EDC');
  card.t1!.inject('drop');
  t.equal(await x('00B0810004'), 'ABABABAB9000', 'recovered from a silent card');
  card.t1!.requestWtx(2);
  t.equal(await x('00B0810004'), 'ABABABAB9000', 'waiting time extension honoured');
  t.ok(card.t1!.stats.retransmissions + card.t1!.stats.invalidReceived >= 1, 'the recovery went through the block protocol');
  await core.disconnect(handle, DISPOSITION.LEAVE);
});
