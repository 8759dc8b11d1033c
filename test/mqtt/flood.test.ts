/**
 * A client flooding requests: every request is answered, those beyond
 * mqtt.maxQueuedRequests at once with a busy error (never dropped silently,
 * never run late), and the gateway answers normally once the flood is over.
 */
import t from 'tap';
import { startTestGateway } from '../helpers/gateway.js';
import { startMosquitto } from './mosquitto.js';
import { Observer, request } from './client.js';
import type { MqttService } from '../../src/api/mqtt/service.js';

const ROOT = 'scardgate/test-gw';

t.test('a request flood is answered, the excess with busy, and the gateway stays usable', async (t) => {
  const m = await startMosquitto();
  t.teardown(() => m.close());
  const gw = await startTestGateway({ services: ['mqtt'], logLevel: 'warn', config: { mqtt: { url: m.url, maxConcurrentRequests: 1, maxQueuedRequests: 5 } } });
  t.teardown(() => gw.stop());
  const svc = gw.gateway.services.find((s) => s.name === 'mqtt') as unknown as MqttService;
  const o = await Observer.connect(m.url, [`${ROOT}/response/#`]);
  t.teardown(() => o.close());
  const deadline = Date.now() + 10000;
  while (!svc.info().broker.connected && Date.now() < deadline) await new Promise((r) => setTimeout(r, 20));
  const N = 200;
  const apdus = ['00A4040007A0000000031010', '0084000008'];
  for (let i = 0; i < N; i++) {
    o.client.publish(`${ROOT}/request/transmit`, JSON.stringify({ reader: 'Simulated Contact Reader B 01 00', apdus, transaction: i }), { qos: 1 });
  }
  const answers = await o.waitCount((x) => x.topic === `${ROOT}/response/transmit`, N, 60000);
  const byTx = new Map<number, { status: string; error?: { code: number; name: string; message: string } }>(answers.map((a) => [a.json().transaction, a.json()]));
  t.equal(byTx.size, N, 'every request answered once');
  const busy = [...byTx.values()].filter((a) => a.status === 'error' && a.error?.name === 'SCARD_E_SERVER_TOO_BUSY');
  const ok = [...byTx.values()].filter((a) => a.status === 'ok');
  t.ok(busy.length > 0, `${busy.length} refused as busy`);
  t.ok(ok.length >= 6, `${ok.length} run`);
  t.equal(busy.length + ok.length, N, 'nothing else');
  t.match(busy[0].error!.message, /mqtt\.maxQueuedRequests/, 'the busy error names the setting');
  t.equal((svc.diagnostics() as { requestsBusy: number }).requestsBusy, busy.length, 'counted');
  const after = await request(o, ROOT, 'info', {});
  t.equal(after.status, 'ok', 'answers normally after the flood');
});
