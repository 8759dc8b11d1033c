/**
 * The guided set-up's CCID routes on a real gateway (HTTP service over the gateway's setup/devices and
 * setup/probe operations, the registry's drivers):
 * what it lists (the USB bus through the driver's binding, the emulated readers the running
 * CCID driver hosts, the emulator's profiles), a probe of an emulated reader (PC/SC names,
 * descriptor facts, a test card), and adding / removing it through the config file.
 */
import t from 'tap';
import { readFile } from 'node:fs/promises';
import { startTestGateway, Client } from './harness.js';

t.test('CCID in the guided set-up', async (t) => {
  const g = await startTestGateway({
    config: { http: { loginAttemptsPerMinute: 1000 }, drivers: { ccid: { emulate: [{ profile: 'gempc-twin', serialNumber: 'RUN1', cards: [] }] } } },
  });
  t.teardown(() => g.stop());
  const c = new Client(g.url);
  await c.login();

  const v = await c.req('GET', '/api/setup');
  t.equal(v.status, 200);
  t.ok(v.json.drivers.some((d: { name: string; listKey: string }) => d.name === 'ccid' && d.listKey === 'emulate'), 'ccid offered, its list is drivers.ccid.emulate');
  const usb = v.json.devices.usbCcid;
  t.ok(Array.isArray(usb) || /USB|usb/.test(usb.error), `USB bus listed through the driver's binding, or why not (${JSON.stringify(usb).slice(0, 160)})`);
  t.same(
    v.json.ccid.emulated.map((d: { product: string; serialNumber: string; emulated: unknown; interfaces: Array<{ level: string }> }) => [d.product, d.serialNumber, d.emulated, d.interfaces.map((i) => i.level)]),
    [['USB GemPC Twin', 'RUN1', { index: 0, profile: 'gempc-twin' }, ['tpdu']]],
    'the emulated reader the running driver hosts',
  );
  t.same(v.json.ccid.profiles.map((p: { key: string }) => p.key), ['acr1252u', 'acr122u', 'omnikey-class', 'gempc-twin', 'ezio-pinpad', 'cherry-st-xx44', 'two-slot'], 'emulator profiles offered');
  t.equal(v.json.ccid.usbEnabled, false);
  t.same(v.json.configured.map((r: { driver: string; name: string; renamable: boolean }) => [r.driver, r.name, r.renamable]).filter((r: unknown[]) => r[0] === 'ccid'), [['ccid', 'Gemalto USB GemPC Twin (RUN1)', false]].map((r) => r), 'configured emulated reader listed, not renamable');

  const running = g.gw.core.readers().map((r) => r.name);
  t.ok(running.some((n) => /GemPC Twin.*\(RUN1\) 00 00$/.test(n)), `running emulated reader: ${running.join(', ')}`);

  // The same operations for every frontend, admin only: an MQTT-like caller (read, transmit) is refused.
  const api = g.gw.context.api;
  await t.rejects(api.call('setup/probe', { driver: 'ccid', reader: { profile: 'acr122u' } }, { owner: 't', scopes: ['read', 'transmit'] }), /needs the admin scope/);
  const viaOp = await api.call('setup/devices', {}, { owner: 'local' });
  t.same(viaOp.ccid.emulated.map((d) => d.serialNumber), ['RUN1'], 'setup/devices as an operation (control channel)');
  const typo = await c.req('POST', '/api/setup/probe', { driver: 'ccid', reader: {}, tapWait: 1 });
  t.equal(typo.status, 400);
  t.match(typo.json.message, /tapWait/, `unknown parameter named: ${typo.json.message}`);

  const p = await c.req('POST', '/api/setup/probe', { driver: 'ccid', reader: { profile: 'acr1252u', serialNumber: 'NEW1' } });
  t.equal(p.status, 200, JSON.stringify(p.json));
  t.equal(p.json.ok, true);
  t.same(p.json.names, ['ACS ACR1252 Dual Reader [ACR1252 Dual Reader PICC] (NEW1) 01 00', 'ACS ACR1252 Dual Reader [ACR1252 Dual Reader SAM] (NEW1) 02 00'], 'names as pcscd gives them, after the running CCID reader');
  t.equal(p.json.firmware, '1.00', 'bcdDevice');
  t.same(p.json.device.interfaces.map((i: { level: string; protocols: string[]; features: string }) => [i.level, i.protocols, i.features]), [
    ['extended-apdu', ['T=1'], '00040040'],
    ['short-apdu', ['T=0', 'T=1'], '000204ba'],
  ]);
  t.notOk('tap' in p.json, 'no tap asked for');

  const tap = await c.req('POST', '/api/setup/probe', { driver: 'ccid', reader: { profile: 'acr1252u', serialNumber: 'NEW1' }, testCard: { type: 'mifare-classic-1k', uid: '1EA68671' }, tapWaitMs: 10_000 });
  t.equal(tap.status, 200, JSON.stringify(tap.json));
  t.equal(tap.json.tap?.uid, '1EA68671', 'test card inserted on the emulator, seen by the driver with its UID');

  const bad = await c.req('POST', '/api/setup/probe', { driver: 'ccid', reader: { profile: 'acr9999' } });
  t.equal(bad.status, 400);
  t.match(bad.json.message, /reader\.profile/, `bad profile named: ${bad.json.message}`);
  const badCard = await c.req('POST', '/api/setup/probe', { driver: 'ccid', reader: { profile: 'acr122u' }, testCard: { type: 'floppy' } });
  t.equal(badCard.status, 400);
  t.match(badCard.json.message, /test card refused/, badCard.json.message);
  const realCard = await c.req('POST', '/api/setup/probe', { driver: 'ccid', reader: { usbId: '1-2:3' }, testCard: 'iso7816' });
  t.equal(realCard.status, 400, 'a real reader takes no test card (or the bus is absent)');
  const pnCard = await c.req('POST', '/api/setup/probe', { driver: 'pn532', reader: { name: 'x', transport: { type: 'hsu', path: '/dev/null' } }, testCard: 'iso7816' });
  t.equal(pnCard.status, 400);
  t.match(pnCard.json.message, /testCard/);
  const extra = await c.req('POST', '/api/setup/probe', { driver: 'ccid', reader: { usbId: 'x', profile: 'acr122u' } });
  t.equal(extra.status, 400);
  t.match(extra.json.message, /only usbId/);

  const add = await c.req('POST', '/api/setup/readers', { driver: 'ccid', reader: { profile: 'acr1252u', serialNumber: 'NEW1' } });
  t.equal(add.status, 200, JSON.stringify(add.json));
  t.match(add.json.pending, ['drivers.ccid'], 'restart named for the CCID driver');
  const file = await readFile(g.configFile, 'utf8');
  t.match(file, /profile: acr1252u\n\s+serialNumber: NEW1/, 'entry appended to drivers.ccid.emulate');
  t.match(file, /profile: gempc-twin/, 'the existing entry kept');

  const listed = await c.req('GET', '/api/setup');
  const mineIdx = listed.json.configured.find((r: { driver: string; name: string }) => r.driver === 'ccid' && r.name === 'ACS ACR1252 Dual Reader (NEW1)')?.index;
  t.equal(mineIdx, 1);
  const rename = await c.req('PATCH', `/api/setup/readers/ccid/${mineIdx}`, { name: 'Door' });
  t.equal(rename.status, 400);
  t.match(rename.json.message, /named by their device/);
  const del = await c.req('DELETE', `/api/setup/readers/ccid/${mineIdx}`);
  t.equal(del.status, 200, JSON.stringify(del.json));
  t.notMatch(await readFile(g.configFile, 'utf8'), /NEW1/, 'removed from the file');
  const gone = await c.req('DELETE', '/api/setup/readers/ccid/5');
  t.equal(gone.status, 404);
  t.match(gone.json.message, /drivers\.ccid\.emulate\[5\]/);
});
