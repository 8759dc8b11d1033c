/** The core over drivers/sim: real card models, run-time insert/remove, one-shot runs and leased sessions. */
import t from 'tap';
import pino from 'pino';
import { SimDriver } from '../../drivers/sim/index.js';
import { ResourceManager, runApdus, SessionManager } from '../../src/core/index.js';
import { CARD_STATE, DISPOSITION, PROTOCOL, SCARD, SHARE } from '../../src/pcsc/constants.js';
import { until } from './fixtures/setup.js';

async function simCore() {
  const driver = new SimDriver(
    {
      readers: [
        { name: 'Sim Contact', card: 'iso7816' },
        { name: 'Sim T0', card: 'iso7816-t0' },
        { name: 'Sim NFC', card: { type: 'mifare-classic-1k', uid: '04A1B2C3' } },
        { name: 'Sim Empty' },
      ],
    },
    { log: pino({ level: 'silent' }) },
  );
  const core = new ResourceManager({ transmitTimeoutMs: 5000 });
  await core.addDriver(driver);
  return { core, driver };
}

const sw = (r: Buffer): number => r.readUInt16BE(r.length - 2);

t.test('sim readers listed with pcscd names, cards powered', async (t) => {
  const { core } = await simCore();
  t.same(
    core.readers().map((r) => r.name),
    ['Sim Contact 00 00', 'Sim T0 01 00', 'Sim NFC 02 00', 'Sim Empty 03 00'],
  );
  const nfc = core.reader('Sim NFC 02 00');
  t.equal(nfc?.card?.contactless, true);
  t.equal(nfc?.capabilities.simulate, true);
  t.equal(core.reader('Sim Empty 03 00')?.state, CARD_STATE.ABSENT);
  await core.stop();
});

t.test('contact card over T=1 (APDU level) and T=0 (TPDU level, GET RESPONSE by the core)', async (t) => {
  const { core } = await simCore();
  const ctx = core.establishContext();
  const a = await core.connect(ctx, 'Sim Contact 00 00', SHARE.SHARED, PROTOCOL.ANY);
  const fci = await core.transmit(a.handle, a.protocol, Buffer.from('00A40000023F0000', 'hex'));
  t.equal(sw(fci), 0x9000);
  const b = await core.connect(ctx, 'Sim T0 01 00', SHARE.SHARED, PROTOCOL.ANY);
  t.equal(b.protocol, PROTOCOL.T0);
  const fci0 = await core.transmit(b.handle, b.protocol, Buffer.from('00A40000023F0000', 'hex'));
  t.equal(sw(fci0), 0x9000, 'case 4 over T=0: the core fetched the response');
  t.same(fci0, fci, 'same answer as the T=1 card');
  const c3 = await core.transmit(b.handle, b.protocol, Buffer.from('00A40000023F00', 'hex'));
  t.equal(c3[0], 0x61, 'case 3 over T=0: 61xx goes back to the application');
  await core.stop();
});

t.test('contactless card: PC/SC part 3 GET UID', async (t) => {
  const { core } = await simCore();
  const ctx = core.establishContext();
  const c = await core.connect(ctx, 'Sim NFC 02 00', SHARE.SHARED, PROTOCOL.ANY);
  const uid = await core.transmit(c.handle, c.protocol, Buffer.from('FFCA000000', 'hex'));
  t.same(uid, Buffer.from('04A1B2C39000', 'hex'));
  await core.stop();
});

t.test('insert and remove by command: events and counters', async (t) => {
  const { core } = await simCore();
  const events: string[] = [];
  core.on('card-inserted', (r) => events.push(`in:${r.name}:${r.eventCounter}`));
  core.on('card-removed', (r) => events.push(`out:${r.name}:${r.eventCounter}`));
  await core.simulateInsert('Sim Empty 03 00', 'iso7816');
  await until(() => events.length === 1);
  await core.simulateRemove('Sim Empty 03 00');
  t.same(events, ['in:Sim Empty 03 00:1', 'out:Sim Empty 03 00:2']);
  await t.rejects(core.simulateInsert('Nope', 'iso7816'), { code: SCARD.E_UNKNOWN_READER });
  await core.feedback('Sim NFC 02 00', { led: 'green' });
  await core.stop();
});

t.test('runApdus: connect, one transaction, every APDU answered or its error reported, disconnect', async (t) => {
  const { core } = await simCore();
  const res = await runApdus(core, 'Sim Contact 00 00', [
    Buffer.from('00A40000023F0000', 'hex'),
    Buffer.from('00A4', 'hex'),
    Buffer.from('0084000008', 'hex'),
  ]);
  t.equal(res.reader, 'Sim Contact 00 00');
  t.equal(res.protocol, PROTOCOL.T1);
  t.equal(res.results[0].sw, 0x9000);
  t.equal(res.results[1].error?.code, SCARD.E_INVALID_PARAMETER, 'a malformed APDU is reported, not thrown');
  t.match(res.results[1].error?.message, /too short/);
  t.equal(res.results[2].sw, 0x9000);
  t.equal(res.results[2].data?.length, 8);
  t.equal(core.reader('Sim Contact 00 00')?.sharing, 0, 'disconnected');
  t.equal(core.diagnostics().contexts, 0, 'context released');
  await t.rejects(runApdus(core, 'Sim Empty 03 00', [Buffer.from('00840000', 'hex')]), { code: SCARD.E_NO_SMARTCARD });
  t.equal(core.diagnostics().contexts, 0, 'released after a failure too');
  await core.stop();
});

t.test('sessions: owner-scoped, transaction held, lease renewed by use, expiry resets the card', async (t) => {
  const { core, driver } = await simCore();
  const sessions = new SessionManager(core, { defaultLeaseMs: 200 });
  const s = await sessions.open('alice', 'Sim Contact 00 00');
  t.equal(s.owner, 'alice');
  t.same(sessions.list('bob'), []);
  t.equal(sessions.list('alice').length, 1);
  await t.rejects(sessions.transmit('bob', s.id, Buffer.from('0084000008', 'hex')), { code: SCARD.E_INVALID_HANDLE }, 'another owner cannot use it');
  const r = await sessions.transmit('alice', s.id, Buffer.from('0084000008', 'hex'));
  t.equal(sw(r), 0x9000);
  t.equal(sessions.info('alice', s.id).apdus, 1);
  // The session holds the transaction: a one-shot run waits until the session ends.
  let oneShotDone = false;
  const other = runApdus(core, 'Sim Contact 00 00', [Buffer.from('0084000008', 'hex')]).then((x) => {
    oneShotDone = true;
    return x;
  });
  await sessions.transmit('alice', s.id, Buffer.from('0084000008', 'hex'));
  t.notOk(oneShotDone, 'not interleaved with the session');
  const slot = driver.list()[0].slot;
  const powerUps = slot.counters.powerUps;
  const expired = new Promise((res) => sessions.once('expired', res));
  await expired;
  t.same(sessions.list('alice'), [], 'expired');
  t.ok(slot.counters.powerUps > powerUps, 'the card was reset at expiry');
  t.equal((await other).results[0].sw, 0x9000, 'the waiting run went through after the expiry');
  await t.rejects(sessions.transmit('alice', s.id, Buffer.from('0084000008', 'hex')), { code: SCARD.E_INVALID_HANDLE });
  await t.rejects(sessions.open('alice', 'Sim Contact 00 00', { leaseMs: 0 }), { code: SCARD.E_INVALID_VALUE });
  const s2 = await sessions.open('alice', 'Sim Contact 00 00', { leaseMs: 5000 });
  await sessions.close('alice', s2.id, DISPOSITION.LEAVE);
  t.equal(core.diagnostics().contexts, 0);
  await sessions.closeAll();
  await core.stop();
});
