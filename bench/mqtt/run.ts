/**
 * MQTT frontend benchmark against a local Debian Mosquitto (loopback):
 *  1. card event -> subscriber latency: from asking the sim reader to present a
 *     card to a subscriber holding the card.inserted (default profile FF CA
 *     run, event fsync'ed in the outbox, published QoS 1);
 *  2. one-shot transmit request -> response: latency one at a time, and
 *     throughput with several requests in flight (mqtt.js client, simulated card);
 *  3. sustained events/s through the durable outbox until the broker has
 *     acknowledged them all, and bytes written to disk per event.
 * Each figure set also gives this disk's own append + fdatasync latency: the
 * outbox cannot publish an event faster than the disk makes it durable.
 * NO_FSYNC=1 runs the same with events.outbox.fsync off (the software path alone).
 * Ends with one JSON object per line.
 */
import { readFileSync, promises as fsp } from 'node:fs';
import { join } from 'node:path';
import { performance } from 'node:perf_hooks';
import mqtt from 'mqtt';
import { startTestGateway } from '../../test/helpers/gateway.js';
import { startMosquitto } from '../../test/mqtt/mosquitto.js';
import type { MqttService } from '../../src/api/mqtt/service.js';
import type { GatewayEvents } from '../../src/events/pipeline.js';

const TAPS = Number(process.env.TAPS ?? 500);
const SEQ_REQUESTS = Number(process.env.SEQ_REQUESTS ?? 1000);
const PAR_REQUESTS = Number(process.env.PAR_REQUESTS ?? 10000);
const PARALLEL = Number(process.env.PARALLEL ?? 32);
const EVENTS = Number(process.env.EVENTS ?? 50000);
const ROOT = 'scardgate/bench-gw';

const pct = (xs: number[], p: number): number => {
  const s = [...xs].sort((a, b) => a - b);
  return s[Math.min(s.length - 1, Math.floor((p / 100) * s.length))];
};
const r3 = (x: number): number => Math.round(x * 1000) / 1000;

function diskWrites(): number {
  // Bytes this process caused to be sent to the block layer (page cache write-back included).
  const m = /write_bytes:\s*(\d+)/.exec(readFileSync('/proc/self/io', 'utf8'));
  return m ? Number(m[1]) : NaN;
}

/** What the disk itself costs: a 200-byte append + fdatasync, as one outbox commit of one event. */
async function fsyncBaseline(dir: string, n = 300): Promise<number[]> {
  const fh = await fsp.open(join(dir, 'fsync-baseline'), 'a');
  const lat: number[] = [];
  for (let i = 0; i < n; i++) {
    const t0 = performance.now();
    await fh.write(Buffer.alloc(200, 0x41));
    await fh.datasync();
    lat.push(performance.now() - t0);
  }
  await fh.close();
  return lat;
}

// No broker persistence: the broker's own fsyncs would compete with the gateway's on the same disk.
const m = await startMosquitto({ persistence: false });
const gw = await startTestGateway({
  services: ['mqtt'],
  logLevel: 'silent',
  config: { gatewayId: 'bench-gw', mqtt: { url: m.url }, events: { debounceMs: 0, historySize: 100, outbox: { fsync: process.env.NO_FSYNC !== '1' } } },
});
const baseline = await fsyncBaseline(gw.dir);
const svc = gw.gateway.services.find((s) => s.name === 'mqtt') as unknown as MqttService;
while (!svc.info().broker.connected) await new Promise((r) => setTimeout(r, 20));
const client = await mqtt.connectAsync(m.url, { protocolVersion: 5 });
// As the gateway does: no Nagle delay between the chunks of one MQTT packet.
(client.stream as { setNoDelay?: (b: boolean) => void }).setNoDelay?.(true);
await client.subscribeAsync([`${ROOT}/events`, `${ROOT}/response/#`], { qos: 1 });

const waiters = new Map<string, (t: number) => void>();
let eventsSeen = 0;
client.on('message', (topic, payload) => {
  const t = performance.now();
  if (topic === `${ROOT}/events`) {
    eventsSeen++;
    const ev = JSON.parse(payload.toString());
    if (ev.type === 'card.inserted') waiters.get(`uid:${ev.data.uid}`)?.(t);
    return;
  }
  const r = JSON.parse(payload.toString());
  waiters.get(`tx:${r.transaction}`)?.(t);
});
const wait = (key: string): Promise<number> =>
  new Promise((resolve) =>
    waiters.set(key, (t) => {
      waiters.delete(key);
      resolve(t);
    }),
  );

// 1. card event -> subscriber latency
const readers = gw.core.readers();
const cl = readers.find((r) => r.capabilities.contactless)!.name;
const contact = readers.find((r) => r.name.includes('Contact Reader B'))!.name;
const eventLat: number[] = [];
const ioTaps0 = diskWrites();
const stTaps0 = (gw.gateway.context.api.events() as GatewayEvents).outbox.stats();
let removals = 0;
client.on('message', (topic, payload) => {
  if (topic === `${ROOT}/events` && JSON.parse(payload.toString()).type === 'card.removed') removals++;
});
for (let i = 0; i < TAPS; i++) {
  // The previous card leaves first, and its card.removed is delivered: a tap is measured on its own, as at a door.
  const before = removals;
  await gw.core.simulateRemove(cl).catch(() => undefined);
  const until = Date.now() + 5000;
  while (removals === before && Date.now() < until) await new Promise((r) => setTimeout(r, 1));
  const uid = (0x30000000 + i).toString(16).toUpperCase();
  const got = wait(`uid:${uid}`);
  const t0 = performance.now();
  await gw.core.simulateInsert(cl, { type: 'mifare-classic-1k', uid });
  eventLat.push((await got) - t0);
}
// Single taps each get their own commit: what one tap costs the flash (two events: removal and insertion).
const evTaps = gw.gateway.context.api.events() as GatewayEvents;
const stTaps1 = evTaps.outbox.stats();
const ioTaps1 = diskWrites();
const eventFigures = {
  bench: 'mqtt-card-event-latency',
  fsync: process.env.NO_FSYNC !== '1',
  taps: TAPS,
  p50_ms: r3(pct(eventLat, 50)),
  p99_ms: r3(pct(eventLat, 99)),
  max_ms: r3(Math.max(...eventLat)),
  disk_fdatasync_p50_ms: r3(pct(baseline, 50)),
  disk_fdatasync_p99_ms: r3(pct(baseline, 99)),
  events_per_commit: r3((stTaps1.lastSeq - stTaps0.lastSeq) / (stTaps1.commits - stTaps0.commits)),
  app_bytes_per_event: r3((stTaps1.bytesWritten - stTaps0.bytesWritten) / (stTaps1.lastSeq - stTaps0.lastSeq)),
  disk_bytes_per_event: r3((ioTaps1 - ioTaps0) / (stTaps1.lastSeq - stTaps0.lastSeq)),
};
console.log(
  `card event -> subscriber: p50 ${eventFigures.p50_ms} ms, p99 ${eventFigures.p99_ms} ms over ${TAPS} taps (this disk: one append + fdatasync p50 ${eventFigures.disk_fdatasync_p50_ms} ms, p99 ${eventFigures.disk_fdatasync_p99_ms} ms)`,
);

// 2. one-shot transmit request -> response
let txn = 0;
const transmit = async (): Promise<number> => {
  const tx = `b${txn++}`;
  const got = wait(`tx:${tx}`);
  const t0 = performance.now();
  client.publish(`${ROOT}/request/transmit`, JSON.stringify({ reader: contact, apdus: ['0084000008'], transaction: tx }), { qos: 1 });
  return (await got) - t0;
};
for (let i = 0; i < 50; i++) await transmit();
const seqLat: number[] = [];
for (let i = 0; i < SEQ_REQUESTS; i++) seqLat.push(await transmit());
const parLat: number[] = [];
let issued = 0;
const tPar = performance.now();
await Promise.all(
  Array.from({ length: PARALLEL }, async () => {
    while (issued < PAR_REQUESTS) {
      issued++;
      parLat.push(await transmit());
    }
  }),
);
const parSecs = (performance.now() - tPar) / 1000;
const transmitFigures = {
  bench: 'mqtt-oneshot-transmit',
  sequential_requests: SEQ_REQUESTS,
  sequential_p50_ms: r3(pct(seqLat, 50)),
  sequential_p99_ms: r3(pct(seqLat, 99)),
  parallel_in_flight: PARALLEL,
  parallel_requests: PAR_REQUESTS,
  parallel_req_per_s: Math.round(PAR_REQUESTS / parSecs),
  parallel_p50_ms: r3(pct(parLat, 50)),
  parallel_p99_ms: r3(pct(parLat, 99)),
};
console.log(
  `one-shot transmit: sequential p50 ${transmitFigures.sequential_p50_ms} ms; ${PARALLEL} in flight: ${transmitFigures.parallel_req_per_s} req/s, p50 ${transmitFigures.parallel_p50_ms} ms`,
);

// 3. sustained events through the durable outbox (fsync'ed group commits) until acknowledged by the broker
const events = gw.gateway.context.api.events() as GatewayEvents;
const st0 = events.outbox.stats();
const seenBefore = eventsSeen;
const io0 = diskWrites();
const tEv = performance.now();
const target = st0.lastSeq + EVENTS;
for (let i = 0; i < EVENTS; i++) {
  events.record('card.inserted', cl, { uid: (0x40000000 + i).toString(16).toUpperCase(), synthetic: true });
  // Let the loop breathe so group commits and publishes interleave with production.
  if (i % 500 === 499) await new Promise((r) => setImmediate(r));
}
while (events.outbox.stats().ackSeq < target) await new Promise((r) => setTimeout(r, 5));
const evSecs = (performance.now() - tEv) / 1000;
while (eventsSeen - seenBefore < EVENTS) await new Promise((r) => setTimeout(r, 5));
// The acknowledged position is written lazily; wait for it so its bytes are counted.
await new Promise((r) => setTimeout(r, 600));
const st1 = events.outbox.stats();
const io1 = diskWrites();
const outboxFigures = {
  bench: 'mqtt-outbox-throughput',
  fsync: process.env.NO_FSYNC !== '1',
  events: EVENTS,
  events_per_s: Math.round(EVENTS / evSecs),
  commits: st1.commits - st0.commits,
  events_per_commit: r3(EVENTS / (st1.commits - st0.commits)),
  app_bytes_per_event: r3((st1.bytesWritten - st0.bytesWritten) / EVENTS),
  disk_bytes_per_event: r3((io1 - io0) / EVENTS),
};
console.log(
  `durable outbox: ${outboxFigures.events_per_s} events/s acknowledged by the broker; ${outboxFigures.app_bytes_per_event} bytes/event appended (${outboxFigures.disk_bytes_per_event} bytes/event at the block layer), ${outboxFigures.events_per_commit} events per fsync`,
);

await client.endAsync();
await gw.stop();
await m.close();
console.log(JSON.stringify(eventFigures));
console.log(JSON.stringify(transmitFigures));
console.log(JSON.stringify(outboxFigures));
