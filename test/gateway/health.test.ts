/**
 * The `health` operation (src/gateway/health.ts) every frontend reaches: counts kept from the
 * gateway's start, per reader insertions and removals, a read-scope caller allowed; the web UI's
 * GET /api/health answers the same.
 */
import t from 'tap';
import { startTestGateway, Client } from '../http/harness.js';

t.test('health: per reader counts from the gateway, the same over HTTP', async (t) => {
  const g = await startTestGateway();
  t.teardown(() => g.stop());
  const api = g.gw.context.api;
  const reader = { owner: 'mqtt', scopes: ['read' as const] };
  const before = await api.call('health', {}, reader);
  t.same(before.readers.map((r) => r.name), g.gw.core.readers().map((r) => r.name), 'every reader');
  const a = before.readers[0].name;
  t.equal(before.readers[0].insertions, 0);

  await api.call('simulate/insert', { reader: a, card: 'iso7816' }, { owner: 'local' });
  await api.call('simulate/remove', { reader: a }, { owner: 'local' });
  const after = await api.call('health', {}, reader);
  const ra = after.readers.find((r) => r.name === a)!;
  t.equal(ra.insertions, 1, 'insertion counted');
  t.equal(ra.removals, 1, 'removal counted');
  t.equal(after.countingSince, before.countingSince, 'one tracker for the gateway');
  t.equal(after.gateway.mqtt, null, 'MQTT off: said as null');
  t.match(after.gateway.disk, { path: g.stateDir }, 'disk of state.dir');

  const c = new Client(g.url);
  await c.login();
  const viaHttp = await c.req('GET', '/api/health');
  t.equal(viaHttp.status, 200);
  t.equal(viaHttp.json.readers.find((r: { name: string }) => r.name === a).insertions, 1, 'HTTP answers from the same tracker');
  t.equal(viaHttp.json.countingSince, before.countingSince);
});
