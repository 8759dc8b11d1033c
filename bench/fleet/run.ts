/**
 * `make bench-fleet`: N gateways (in-process instances of the real core, sim
 * driver, events pipeline with its durable outbox, and MQTT frontend) publish
 * taps to a site Mosquitto bridged to a central one; a back-end consumer on
 * the central broker (persistent session) de-duplicates by (gatewayId, seq).
 * The site broker is restarted, then the central one; then the taps stop and
 * the consumer's view is compared with what every gateway recorded.
 *
 *   FLEET_N         gateways (default 200)
 *   FLEET_TAP_MS    mean time between taps per gateway (default 4000)
 *   FLEET_OUTAGE_S  how long each broker stays down (default 5)
 *
 * Figures: time until every gateway is connected again after the site broker
 * restart (goal <= 60 s), connection attempts per second (peak, at the broker
 * from its log, and at the gateways), events recorded / delivered / lost
 * (goal 0) / duplicates, per-gateway seq gaps and out-of-order arrivals seen
 * by the consumer. Ends with one JSON line.
 */
import mqtt, { type MqttClient } from 'mqtt';
import { startTestGateway, type TestGateway } from '../../test/helpers/gateway.js';
import { startMosquitto, type Mosquitto } from '../../test/mqtt/mosquitto.js';
import type { MqttService } from '../../src/api/mqtt/service.js';
import { acquireGatewayEvents, releaseGatewayEvents } from '../../src/events/index.js';
import type { GatewayEvents } from '../../src/events/pipeline.js';

const N = Number(process.env.FLEET_N ?? 200);
const TAP_MS = Number(process.env.FLEET_TAP_MS ?? 4000);
const OUTAGE_S = Number(process.env.FLEET_OUTAGE_S ?? 5);
const READER = 'Door';

const sleep = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms));
const log = (msg: string): void => console.error(`[fleet ${new Date().toISOString().slice(11, 19)}] ${msg}`);

interface Member {
  id: string;
  gw: TestGateway;
  svc: MqttService;
  events: GatewayEvents;
  attempts: number[];
}

async function until(what: string, cond: () => boolean, timeoutMs: number): Promise<number> {
  const t0 = performance.now();
  while (!cond()) {
    if (performance.now() - t0 > timeoutMs) throw new Error(`timed out after ${timeoutMs} ms waiting for ${what}`);
    await sleep(50);
  }
  return performance.now() - t0;
}

/** Connections per second the broker logged ("New connection from") from `sinceS` (epoch seconds) on. */
function brokerConnectsPerSecond(m: Mosquitto, sinceS: number): { peak: number; total: number; seconds: number } {
  const per = new Map<number, number>();
  for (const line of m.log().split('\n')) {
    const x = /^(\d+): New connection from/.exec(line);
    if (!x) continue;
    const s = Number(x[1]);
    if (s >= sinceS) per.set(s, (per.get(s) ?? 0) + 1);
  }
  const total = [...per.values()].reduce((a, b) => a + b, 0);
  return { peak: Math.max(0, ...per.values()), total, seconds: per.size };
}

function peakPerSecond(times: number[], from: number): number {
  const per = new Map<number, number>();
  for (const t of times) if (t >= from) per.set(Math.floor(t / 1000), (per.get(Math.floor(t / 1000)) ?? 0) + 1);
  return Math.max(0, ...per.values());
}

async function main(): Promise<void> {
  log(`${N} gateways, a tap every ~${TAP_MS} ms each, broker outages of ${OUTAGE_S} s (machine shared with other engineers: timings are indicative)`);
  const central = await startMosquitto({ persistence: true });
  const site = await startMosquitto({
    persistence: true,
    extra: [
      'connection central',
      `address 127.0.0.1:${central.port}`,
      'topic scardgate/# out 1',
      'cleansession false',
      'local_clientid site-bridge-local',
      'remote_clientid site-bridge',
      'bridge_protocol_version mqttv311',
      'restart_timeout 1 10',
      'keepalive_interval 10',
    ],
  });

  // The back-end: persistent session on the central broker, de-dup by (gatewayId, seq).
  const seen = new Map<string, Set<number>>();
  const lastArrived = new Map<string, number>();
  let delivered = 0;
  let duplicates = 0;
  let outOfOrder = 0;
  const consumer: MqttClient = await mqtt.connectAsync(central.url, { protocolVersion: 5, clientId: 'fleet-backend', clean: false, properties: { sessionExpiryInterval: 3600 }, reconnectPeriod: 500 });
  consumer.on('message', (_topic, payload) => {
    const ev = JSON.parse(payload.toString()) as { gatewayId: string; seq: number };
    let s = seen.get(ev.gatewayId);
    if (!s) seen.set(ev.gatewayId, (s = new Set()));
    if (s.has(ev.seq)) {
      duplicates++;
      return;
    }
    s.add(ev.seq);
    delivered++;
    const last = lastArrived.get(ev.gatewayId) ?? 0;
    if (ev.seq < last) outOfOrder++;
    lastArrived.set(ev.gatewayId, Math.max(last, ev.seq));
  });
  await consumer.subscribeAsync('scardgate/+/events', { qos: 1 });

  const members: Member[] = [];
  const t0 = performance.now();
  for (let i = 0; i < N; i++) {
    const id = `gw${String(i).padStart(3, '0')}`;
    const gw = await startTestGateway({
      services: ['mqtt'],
      logLevel: 'silent',
      config: {
        gatewayId: id,
        mqtt: { url: site.url, infoIntervalS: 0 },
        events: { debounceMs: 0, historySize: 50 },
        drivers: { sim: { readers: [{ name: READER, card: { type: 'mifare-classic-1k' } }] } },
      },
    });
    const svc = gw.gateway.services.find((s) => s.name === 'mqtt') as unknown as MqttService;
    const events = await acquireGatewayEvents(gw.gateway.context);
    const m: Member = { id, gw, svc, events, attempts: [] };
    const client = (svc as unknown as { client: MqttClient }).client;
    client.on('reconnect', () => m.attempts.push(performance.now()));
    members.push(m);
  }
  await until('every gateway connected', () => members.every((m) => m.svc.info().broker.connected), 120000);
  log(`${N} gateways up and connected in ${((performance.now() - t0) / 1000).toFixed(1)} s; RSS ${Math.round(process.memoryUsage().rss / 2 ** 20)} MB`);

  // Taps: every gateway on its own timer, insert and remove alternately.
  let tapping = true;
  let taps = 0;
  const tapErrors = new Map<string, number>();
  const readerName = members[0].gw.core.readers()[0].name;
  const tapLoops = members.map(async (m, i) => {
    let n = 0;
    await sleep(Math.random() * TAP_MS);
    while (tapping) {
      // A 7-byte UID: 04, the gateway, the tap count.
      const uid = `04${i.toString(16).padStart(6, '0')}${(n++ & 0xffffff).toString(16).padStart(6, '0')}`.toUpperCase();
      await m.gw.core.simulateRemove(readerName).catch(() => undefined);
      await m.gw.core.simulateInsert(readerName, { type: 'mifare-classic-1k', uid }).then(
        () => taps++,
        (e: Error) => tapErrors.set(e.message, (tapErrors.get(e.message) ?? 0) + 1),
      );
      await sleep(TAP_MS * (0.5 + Math.random()));
    }
  });

  await sleep(5000);
  // 1. The site broker (where the gateways connect) restarts.
  log('restarting the site broker');
  const siteDownAt = performance.now();
  await site.stop();
  await sleep(OUTAGE_S * 1000);
  const siteUpEpochS = Math.floor(Date.now() / 1000);
  await site.start();
  const siteUpAt = performance.now();
  const siteBackMs = await until('every gateway back on the site broker', () => members.every((m) => m.svc.info().broker.connected), 120000);
  const siteAttempts = brokerConnectsPerSecond(site, siteUpEpochS);
  const clientPeak = peakPerSecond(
    members.flatMap((m) => m.attempts),
    siteDownAt,
  );
  log(`all ${N} gateways back ${(siteBackMs / 1000).toFixed(1)} s after the site broker came up; broker saw a peak of ${siteAttempts.peak} connections/s`);

  await sleep(5000);
  // 2. The central broker restarts: the bridge queues at the site, the gateways do not notice.
  log('restarting the central broker');
  await central.stop();
  await sleep(OUTAGE_S * 1000);
  await central.start();
  const centralUpAt = performance.now();
  const seenBefore = delivered;
  const centralBackMs = await until('events flowing to the central broker again', () => delivered > seenBefore, 120000).catch(() => NaN);
  log(`events reach the consumer again ${(centralBackMs / 1000).toFixed(1)} s after the central broker came up`);

  await sleep(5000);
  tapping = false;
  await Promise.all(tapLoops);
  for (const m of members) await m.events.settle();
  const recorded = new Map(members.map((m) => [m.id, m.events.lastSeq()]));
  const totalRecorded = [...recorded.values()].reduce((a, b) => a + b, 0);
  log(`taps stopped (${taps} taps, ${totalRecorded} events recorded); waiting for the consumer to have them all`);
  const complete = (): boolean => members.every((m) => (seen.get(m.id)?.size ?? 0) >= recorded.get(m.id)!);
  const drainMs = await until('the consumer to have every recorded event', complete, 180000).catch(() => NaN);

  let lost = 0;
  let gatewaysWithGaps = 0;
  let gaps = 0;
  for (const m of members) {
    const s = seen.get(m.id) ?? new Set<number>();
    let missing = 0;
    for (let q = 1; q <= recorded.get(m.id)!; q++) if (!s.has(q)) missing++;
    lost += missing;
    if (missing) {
      gatewaysWithGaps++;
      gaps += missing;
    }
  }
  const outboxDepth = members.reduce((a, m) => a + m.svc.info().outbox.depth, 0);
  const dropped = members.reduce((a, m) => a + m.svc.info().outbox.dropped, 0);
  const rssMb = Math.round(process.memoryUsage().rss / 2 ** 20);

  await consumer.endAsync(true);
  for (const m of members) {
    await releaseGatewayEvents(m.gw.core);
    await m.gw.stop();
  }
  await site.close();
  await central.close();

  const report = {
    bench: 'fleet',
    gateways: N,
    tapIntervalMs: TAP_MS,
    outageS: OUTAGE_S,
    taps,
    tapErrors: Object.fromEntries(tapErrors),
    siteRestartAllBackS: Math.round(siteBackMs / 100) / 10,
    siteRestartBrokerConnectsPeakPerS: siteAttempts.peak,
    siteRestartBrokerConnectsSpreadS: siteAttempts.seconds,
    gatewayReconnectAttemptsPeakPerS: clientPeak,
    centralRestartEventsFlowingAgainS: Math.round(centralBackMs / 100) / 10,
    drainAfterTapsStoppedS: Math.round(drainMs / 100) / 10,
    eventsRecorded: totalRecorded,
    eventsDelivered: delivered,
    eventsLost: lost,
    duplicates,
    outOfOrder,
    gatewaysWithSeqGaps: gatewaysWithGaps,
    seqGaps: gaps,
    outboxDepthAtEnd: outboxDepth,
    outboxDropped: dropped,
    rssMb,
    sinceSiteUpToCentralUpS: Math.round((centralUpAt - siteUpAt) / 1000),
  };
  console.log(JSON.stringify(report));
}

await main();
process.exit(0);
