/**
 * Findings of a probe of the running gateway against a real Mosquitto (issue
 * 16): retain after an outage, retained requests, short taps, what a clean stop
 * leaves retained, Home Assistant discovery turned off, echoed transactions,
 * empty methods, the lease error text.
 */
import t from 'tap';
import type { Test } from 'tap';
import { startTestGateway, type TestGateway } from '../helpers/gateway.js';
import { startMosquitto, type Mosquitto } from './mosquitto.js';
import { Observer, request } from './client.js';
import type { MqttService } from '../../src/api/mqtt/service.js';

const ROOT = 'scardgate/test-gw';

async function until(what: string, cond: () => boolean, timeoutMs = 15000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!cond()) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 20));
  }
}

async function gateway(t: Test, m: Mosquitto, mqtt: Record<string, unknown> = {}, events: Record<string, unknown> = {}): Promise<{ gw: TestGateway; svc: MqttService }> {
  const gw = await startTestGateway({
    services: ['mqtt'],
    logLevel: 'warn',
    config: { mqtt: { url: m.url, reconnectMinMs: 100, reconnectMaxMs: 400, ...mqtt }, events },
  });
  t.teardown(() => gw.stop());
  const svc = gw.gateway.services.find((s) => s.name === 'mqtt') as unknown as MqttService;
  await until('the gateway to connect', () => svc.info().broker.connected);
  return { gw, svc };
}

/** The retained message on `topic` as a fresh subscriber sees it ('' when none). */
async function retained(m: Mosquitto, topic: string): Promise<string> {
  const o = await Observer.connect(m.url, []);
  try {
    const probe = `${ROOT}/test-probe/${Math.random().toString(36).slice(2)}`;
    await o.client.subscribeAsync([topic, probe], { qos: 1 });
    // The probe is published after the subscription: when it arrives, any retained message on `topic` already has.
    await o.client.publishAsync(probe, 'x', { qos: 1 });
    await o.waitFor((x) => x.topic === probe, 10000, 'the probe');
    return o.messages.find((x) => x.topic === topic && x.retain)?.text ?? '';
  } finally {
    await o.close();
  }
}

t.test('after a broker outage the gateway still retains: a stopped gateway is offline, not online', async (t) => {
  const m = await startMosquitto();
  t.teardown(() => m.close());
  const { gw, svc } = await gateway(t, m);
  await until('retained availability confirmed', () => svc.info().broker.retainAvailable === true);
  const errors0 = (svc.diagnostics().connectionErrors as number) ?? 0;
  await m.stop();
  // Several refused TCP connects while the broker is down.
  await until('three refused connects', () => (svc.diagnostics().connectionErrors as number) >= errors0 + 3);
  await m.start();
  await until('the gateway to reconnect', () => svc.info().broker.connected);
  t.not(svc.info().broker.retainAvailable, false, 'refused connects are not taken for a broker without retain');
  t.equal(await retained(m, `${ROOT}/availability`), 'online');
  await gw.stop();
  t.equal(await retained(m, `${ROOT}/availability`), 'offline', 'the retained availability says offline after the stop');
});

t.test('a clean stop leaves retained info and reader states saying so', async (t) => {
  const m = await startMosquitto();
  t.teardown(() => m.close());
  const { gw } = await gateway(t, m);
  const reader = gw.core.readers().find((r) => r.capabilities.contactless)!;
  await gw.core.simulateRemove(reader.name);
  await gw.core.simulateInsert(reader.name, { type: 'mifare-classic-1k', uid: '04A1B2C3' });
  const o = await Observer.connect(m.url, [`${ROOT}/reader/+/state`]);
  t.teardown(() => o.close());
  const st = await o.waitFor((x) => x.text.length > 0 && x.json().name === reader.name && x.json().state === 'present', 10000, 'present state');
  await gw.stop();
  const info = JSON.parse(await retained(m, `${ROOT}/info`));
  t.equal(info.broker.connected, false, 'retained info: not connected');
  const state = JSON.parse(await retained(m, st.topic));
  t.equal(state.state, 'unavailable', 'retained reader state: unavailable, not present');
  t.equal(state.uid, null);
  const readers = JSON.parse(await retained(m, `${ROOT}/readers`));
  t.ok(
    readers.readers.every((r: { state: string }) => r.state === 'unavailable'),
    'retained readers list: every reader unavailable',
  );
});

t.test('a retained request is refused with an error, never executed', async (t) => {
  const m = await startMosquitto();
  t.teardown(() => m.close());
  const pub = await Observer.connect(m.url, []);
  t.teardown(() => pub.close());
  const reader = 'Simulated Empty Reader 03 00';
  await pub.client.publishAsync(`${ROOT}/request/simulate/insert`, JSON.stringify({ reader, card: 'mifare-classic-1k', transaction: 'stale' }), { qos: 1, retain: true });
  const o = await Observer.connect(m.url, [`${ROOT}/response/#`]);
  t.teardown(() => o.close());
  const { gw } = await gateway(t, m);
  const resp = (await o.waitFor((x) => x.topic === `${ROOT}/response/simulate/insert`, 10000, 'the answer to the retained request')).json();
  t.equal(resp.status, 'error');
  t.equal(resp.transaction, 'stale');
  t.match(resp.error.message, /retain/);
  t.equal(gw.core.reader(reader)!.atr.length, 0, 'no card was inserted');
  // The same request without retain is executed (the refusal is about the flag, not the request).
  const ok = await request(o, ROOT, 'simulate/insert', { reader, card: 'mifare-classic-1k' });
  t.equal(ok.status, 'ok');
});

t.test('a tap shorter than the de-bounce time still gives card.inserted (and card.removed)', async (t) => {
  const m = await startMosquitto();
  t.teardown(() => m.close());
  const { gw } = await gateway(t, m, {}, { debounceMs: 500 });
  const o = await Observer.connect(m.url, [`${ROOT}/events`]);
  t.teardown(() => o.close());
  const reader = gw.core.readers().find((r) => r.capabilities.contactless)!.name;
  await gw.core.simulateRemove(reader);
  for (let i = 0; i < 5; i++) {
    const uid = `04C0FFEE1122${i.toString(16).padStart(2, '0').toUpperCase()}`;
    // insert / remove / insert / remove back to back: the core sees four presence changes within a few ms.
    await Promise.all([
      gw.core.simulateInsert(reader, { type: 'mifare-classic-1k', uid }),
      gw.core.simulateRemove(reader),
      gw.core.simulateInsert(reader, { type: 'mifare-classic-1k', uid }),
      gw.core.simulateRemove(reader),
    ]);
    const ins = await o.waitFor((x) => x.json().type === 'card.inserted' && x.json().data.uid === uid, 10000, `card.inserted ${uid}`);
    const rem = await o.waitFor((x) => x.json().type === 'card.removed' && x.json().data.uid === uid, 10000, `card.removed ${uid}`);
    t.ok(rem.json().seq > ins.json().seq, `tap ${i}: inserted then removed`);
  }
});

t.test('Home Assistant discovery is removed when it is turned off', async (t) => {
  const m = await startMosquitto();
  t.teardown(() => m.close());
  const o = await Observer.connect(m.url, ['homeassistant/#']);
  t.teardown(() => o.close());
  const a = await gateway(t, m, { homeassistant: { enabled: true } });
  const cfg = await o.waitFor((x) => x.topic.endsWith('/config') && x.text.length > 0, 10000, 'a discovery config');
  await a.gw.stop();
  t.ok((await retained(m, cfg.topic)).length > 0, 'discovery retained while enabled');
  await gateway(t, m, { homeassistant: { enabled: false } });
  await o.waitFor((x) => x.topic === cfg.topic && x.text === '', 10000, 'the discovery config cleared');
  t.equal(await retained(m, cfg.topic), '', 'no retained discovery config once turned off');
});

t.test('request errors: transaction echo bounded, empty method, lease bounds', async (t) => {
  const m = await startMosquitto();
  t.teardown(() => m.close());
  await gateway(t, m, { maxLeaseMs: 300000 });
  const o = await Observer.connect(m.url, [`${ROOT}/response/#`]);
  t.teardown(() => o.close());

  const long = 'x'.repeat(5000);
  const mark = o.messages.length;
  await o.client.publishAsync(`${ROOT}/request/info`, JSON.stringify({ transaction: long }), { qos: 1 });
  const r1 = (await o.waitFor((x) => o.messages.indexOf(x) >= mark && x.topic === `${ROOT}/response/info`, 10000, 'info answer')).json();
  t.equal(r1.status, 'error');
  t.match(r1.error.message, /transaction/);
  t.not(r1.transaction, long, 'an over-long transaction is not echoed back');
  t.ok(JSON.stringify(r1).length < 1000, 'the answer is short');

  await o.client.publishAsync(`${ROOT}/request/`, JSON.stringify({ transaction: 'e1' }), { qos: 1 });
  const r2 = await o.waitFor((x) => x.text.includes('"e1"'), 10000, 'answer to request/');
  t.equal(r2.topic, `${ROOT}/response`, 'answered on response (a response/# subscriber gets it), not response/invalid');
  t.match(r2.json().error.message, /method/);

  const reader = 'Simulated Reader 00 00';
  const r3 = await request(o, ROOT, 'session/open', { reader, leaseMs: 400000 });
  t.equal(r3.status, 'error');
  t.match(r3.error.message, /leaseMs/, 'names the field as the schema errors do');
  t.match(r3.error.message, /300000/, 'names the gateway limit');
  const r4 = await request(o, ROOT, 'session/open', { reader, leaseMs: 50 });
  t.match(r4.error.message, /leaseMs: must be >= 100/);
});
