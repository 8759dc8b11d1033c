/**
 * CCID readers in MQTT card events like any other reader: a gateway composed
 * as the daemon composes it, hosting an emulated ACR1252U through
 * drivers.ccid.emulate, publishing to a real Mosquitto.
 */
import t from 'tap';
import { startTestGateway } from '../helpers/gateway.js';
import { startMosquitto } from '../mqtt/mosquitto.js';
import { Observer } from '../mqtt/client.js';
import type { CcidDriver } from '../../drivers/ccid/index.js';
import type { EmulatedUsbBinding } from '../../emulators/ccid/binding.js';

const ROOT = 'scardgate/test-gw';

t.test('card.inserted / card.removed of an emulated ACR1252U reach MQTT with the UID', async (t) => {
  const m = await startMosquitto();
  t.teardown(() => m.close());
  const gw = await startTestGateway({
    services: ['mqtt'],
    logLevel: 'warn',
    config: {
      mqtt: { url: m.url },
      events: { debounceMs: 0 },
      drivers: { sim: { readers: [] }, ccid: { emulate: [{ profile: 'acr1252u', serialNumber: 'MQTT1', cards: [{ interface: 1, slot: 0, card: 'iso7816' }] }] } },
    },
  });
  t.teardown(() => gw.stop());
  const o = await Observer.connect(m.url, [`${ROOT}/events`, `${ROOT}/availability`]);
  t.teardown(() => o.close());
  await o.waitFor((x) => x.topic === `${ROOT}/availability` && x.text === 'online', 10000, 'gateway online');
  const names = gw.core.readers().map((r) => r.name);
  t.same(names, ['ACS ACR1252 Dual Reader [ACR1252 Dual Reader PICC] (MQTT1) 00 00', 'ACS ACR1252 Dual Reader [ACR1252 Dual Reader SAM] (MQTT1) 01 00']);
  const driver = gw.gateway.drivers.find((d) => d.name === 'ccid') as CcidDriver;
  const bus = driver.binding as EmulatedUsbBinding;
  const [dev] = [...bus.devices];
  const mark = o.messages.length;
  dev.insert({ type: 'mifare-classic-1k', uid: '1EA68671' }, { interface: 0 });
  const ins = await o.waitFor((x) => x.topic === `${ROOT}/events` && x.json().type === 'card.inserted' && x.json().reader === names[0], 10000, 'card.inserted on the PICC reader');
  const d = ins.json().data;
  t.equal(d.uid, '1EA68671', 'UID in the event');
  t.equal(d.contactless, true);
  t.match(d.atr, /^3B8F8001804F0CA0000003060300/, 'part 3 ATR');
  t.ok(d.wiegand34, 'door-controller numbers derived as for any contactless reader');
  dev.remove({ interface: 0 });
  await o.waitFor((x) => x.topic === `${ROOT}/events` && x.json().type === 'card.removed' && x.json().reader === names[0], 10000, 'card.removed');
  t.ok(o.since(mark).length >= 2);
});
