/**
 * Broker outage: Mosquitto stopped for 30 s while 1,000 cards are tapped, then
 * restarted. Every event arrives, in order, with no gap in the sequence.
 */
import t from 'tap';
import type { Test } from 'tap';
import { startTestGateway } from '../helpers/gateway.js';
import { startMosquitto } from './mosquitto.js';
import { Observer } from './client.js';
import type { MqttService } from '../../src/api/mqtt/service.js';
import type { GatewayEvents } from '../../src/events/pipeline.js';
import { waitFor } from '../helpers/wait-for.js';

const ROOT = 'scardgate/test-gw';
const TAPS = 1000;
const OUTAGE_MS = 30000;

/**
 * Mosquitto, a gateway publishing to it and a door controller with a persistent
 * session (the broker keeps its subscription and queue across a restart), once
 * the gateway is connected.
 */
async function setup(t: Test, clientId: string) {
  const m = await startMosquitto();
  t.teardown(() => m.close());
  const gw = await startTestGateway({
    services: ['mqtt'],
    logLevel: 'warn',
    config: { mqtt: { url: m.url, reconnectMinMs: 200, reconnectMaxMs: 1000 }, events: { debounceMs: 0 } },
  });
  t.teardown(() => gw.stop());
  const o = await Observer.connect(m.url, [`${ROOT}/events`], { clientId, clean: false, properties: { sessionExpiryInterval: 3600 } });
  t.teardown(() => o.close());
  const svc = gw.gateway.services.find((s) => s.name === 'mqtt') as unknown as MqttService;
  await waitFor(() => svc.info().broker.connected, 'the gateway to connect to Mosquitto', 10000);
  return { m, gw, o, svc };
}

t.test('1,000 taps during a 30 s broker outage all arrive, in order, no gap', { timeout: 180000 }, async (t) => {
  const { m, gw, o, svc } = await setup(t, 'door-controller');

  const reader = gw.core.readers().find((r) => r.capabilities.contactless)!.name;
  const firstSeq = svc.info().outbox.lastSeq + 1;
  await m.stop();
  const t0 = Date.now();
  const uids: string[] = [];
  for (let i = 0; i < TAPS; i++) {
    const uid = (0x10000000 + i).toString(16).toUpperCase();
    uids.push(uid);
    await gw.core.simulateRemove(reader).catch(() => undefined);
    await gw.core.simulateInsert(reader, { type: 'mifare-classic-1k', uid });
    // Spread the taps over the outage.
    const due = t0 + ((i + 1) * OUTAGE_MS) / TAPS;
    // Pacing, not synchronisation: the taps are spread over the outage on purpose.
    // eslint-disable-next-line no-restricted-syntax
    while (Date.now() < due) await new Promise((r) => setTimeout(r, due - Date.now()));
  }
  t.ok(Date.now() - t0 >= OUTAGE_MS, 'the broker was down for at least 30 s');
  // Events are recorded by group commit: the last taps' events may still be on their way to the disk.
  await waitFor(() => svc.info().outbox.depth >= 2 * TAPS - 1, `${2 * TAPS - 1} events recorded in the outbox`, 10000).catch(() => undefined);
  const queued = svc.info().outbox;
  t.equal(svc.info().broker.connected, false, 'no broker during the taps');
  t.ok(queued.depth >= 2 * TAPS - 1, `events queued in the outbox (${queued.depth})`);
  t.equal(queued.dropped, 0);
  await m.start();

  const lastSeq = svc.info().outbox.lastSeq;
  const got = await o.waitCount((x) => x.topic === `${ROOT}/events` && x.json().seq >= firstSeq, lastSeq - firstSeq + 1, 60000);
  const seqs = got.map((x) => x.json().seq as number);
  const distinct = [...new Set(seqs)];
  t.same(distinct, Array.from({ length: lastSeq - firstSeq + 1 }, (_, k) => firstSeq + k), 'every seq, in order, no gap');
  for (let k = 1; k < seqs.length; k++) if (seqs[k] < seqs[k - 1]) t.fail(`out of order at ${k}: ${seqs[k - 1]} then ${seqs[k]}`);
  const inserted = got.map((x) => x.json()).filter((e) => e.type === 'card.inserted');
  t.same(
    inserted.map((e) => e.data.uid),
    uids,
    'all 1,000 taps, in tap order, each with its UID',
  );
  await waitFor(() => svc.info().outbox.depth === 0, 'the outbox to drain once acknowledged', 10000);
  t.equal(svc.info().outbox.depth, 0, 'the outbox drained once acknowledged');
});

t.test('the broker goes away while events are in flight: none is lost, none overtakes another', { timeout: 120000 }, async (t) => {
  const { m, gw, o, svc } = await setup(t, 'door-controller-2');
  const events = gw.gateway.context.api.events() as GatewayEvents;
  const first = events.lastSeq() + 1;
  const N = 5000;
  // Half the events flow; once the first arrive, the broker freezes (SIGSTOP: it acknowledges nothing more) and the
  // other half go out to it, so events are in flight, unacknowledged, when it is stopped. (Stopping it while all
  // 5,000 flowed was a race: on a fast or a loaded machine every one could be acknowledged first.)
  for (let i = 0; i < N / 2; i++) events.record('card.inserted', 'Simulated Contactless Reader 02 00', { n: i });
  await waitFor(() => o.messages.length > 0, 'the first events on their way', 10000, 1);
  m.pause();
  for (let i = N / 2; i < N; i++) events.record('card.inserted', 'Simulated Contactless Reader 02 00', { n: i });
  await waitFor(() => (svc.diagnostics().inflight as number) > 0, 'events published to the frozen broker', 10000);
  t.ok(svc.info().outbox.depth > 0, `events still unacknowledged when the broker went (${svc.info().outbox.depth})`);
  await m.stop();
  // The outage lasts until the gateway has seen the broker gone (its own state says so, no sleep).
  await waitFor(() => !svc.info().broker.connected, 'the gateway to notice the broker is gone', 10000);
  await m.start();
  const last = first + N - 1;
  await o.waitCount((x) => x.json().seq === last, 1, 60000);
  const seqs = o.messages.map((x) => x.json().seq as number).filter((s) => s >= first);
  const distinct = [...new Set(seqs)];
  t.equal(distinct.length, N, 'every event arrived');
  t.same(
    distinct,
    [...distinct].sort((a, b) => a - b),
    'first arrivals in seq order',
  );
});
