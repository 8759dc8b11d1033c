/**
 * The HTTP API the web UI draws from lists CCID readers like any other: an
 * emulated ACR122U hosted through drivers.ccid.emulate, its card's UID in
 * the reader's state.
 */
import t from 'tap';
import { startTestGateway, Client, eventually } from '../http/harness.js';
import type { CcidDriver } from '../../drivers/ccid/index.js';
import type { EmulatedUsbBinding } from '../../emulators/ccid/binding.js';

t.test('GET /api/readers shows the CCID reader and its card', async (t) => {
  const g = await startTestGateway({ config: { drivers: { ccid: { emulate: [{ profile: 'acr122u', cards: [] }] } } } });
  t.teardown(() => g.stop());
  const c = new Client(g.url);
  await c.login();
  const name = 'ACS ACR122U PICC Interface 00 00';
  const list = await c.req('GET', '/api/readers');
  t.equal(list.status, 200);
  t.match(list.text, name, 'listed beside the sim readers');
  const driver = g.gw.drivers.find((d) => d.name === 'ccid') as CcidDriver;
  const [dev] = [...(driver.binding as EmulatedUsbBinding).devices];
  dev.insert({ type: 'mifare-ultralight', uid: '04112233445566' });
  await eventually(() => g.gw.core.reader(name)?.card?.uid !== undefined, 'card seen by the core');
  const r = await c.req('GET', `/api/readers/${encodeURIComponent(name)}`);
  t.equal(r.status, 200);
  t.equal(r.json.driver, 'ccid');
  // The gateway's one reader shape (src/gateway/readers.ts): the UID beside the card, hex without spaces.
  t.equal(r.json.uid, '04112233445566', 'the UID in the reader state');
  t.same(r.json.card, { contactless: true });
  t.equal(r.json.capabilities.feedback, true, 'LED/buzzer offered');
});
