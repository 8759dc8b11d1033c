/**
 * An MQTT client floods `request/...` (ROUNDS x N requests published at once,
 * a mix of transmits, info, readers, events and bad JSON) while a second,
 * well-behaved client sends one `info` request every 50 ms: its latency
 * during the flood vs before, the flooder's answers (ok / busy), and the
 * gateway's memory (RSS, heap) before, after, and after IDLE_MS idle.
 * In-process gateway (real core, sim driver, MQTT frontend) on a real Mosquitto.
 */
import mqtt from 'mqtt';
import { startTestGateway } from '../../test/helpers/gateway.js';
import { startMosquitto } from '../../test/mqtt/mosquitto.js';

const N = Number(process.env.N ?? 3500);
const ROUNDS = Number(process.env.ROUNDS ?? 3);
const IDLE_MS = Number(process.env.IDLE_MS ?? 60000);
const ROOT = 'scardgate/test-gw';
const mb = (x: number): number => Math.round((x / 2 ** 20) * 10) / 10;
const mem = () => {
  const u = process.memoryUsage();
  return { rssMb: mb(u.rss), heapUsedMb: mb(u.heapUsed), heapTotalMb: mb(u.heapTotal) };
};
const pct = (xs: number[], p: number): number => {
  const s = [...xs].sort((a, b) => a - b);
  return s.length ? Math.round(s[Math.min(s.length - 1, Math.floor((p / 100) * s.length))] * 10) / 10 : NaN;
};

const m = await startMosquitto({ persistence: false });
const gw = await startTestGateway({ services: ['mqtt'], logLevel: 'warn', config: { mqtt: { url: m.url } } });
await new Promise((r) => setTimeout(r, 2000));
const idle = mem();

// The well-behaved client: one info request every 50 ms, latency per answer.
const good = await mqtt.connectAsync(m.url, { protocolVersion: 5 });
await good.subscribeAsync('good/reply', { qos: 1 });
const sentAt = new Map<number, number>();
const lat: Array<{ at: number; ms: number }> = [];
good.on('message', (_t, _p, packet) => {
  const id = Number(packet.properties?.correlationData?.toString());
  const t0 = sentAt.get(id);
  if (t0 !== undefined) lat.push({ at: t0, ms: performance.now() - t0 });
});
let gid = 0;
const ticker = setInterval(() => {
  const id = gid++;
  sentAt.set(id, performance.now());
  good.publish(`${ROOT}/request/info`, '{}', { qos: 1, properties: { responseTopic: 'good/reply', correlationData: Buffer.from(String(id)) } });
}, 50);
await new Promise((r) => setTimeout(r, 2000));
const baseline = lat.map((x) => x.ms);

const flood = await mqtt.connectAsync(m.url, { protocolVersion: 5 });
await flood.subscribeAsync(`${ROOT}/response/#`, { qos: 1 });
let answers = 0;
let busy = 0;
flood.on('message', (_t, p) => {
  answers++;
  if (p.includes('"busy:')) busy++;
});
const kinds = [
  ['transmit', '{"reader":"Simulated Contact Reader B 01 00","apdus":["00A4040007A0000000031010","0084000008"]}'],
  ['info', '{}'],
  ['readers', '{}'],
  ['events', '{"afterSeq":0,"limit":100}'],
  ['transmit', '{bad json'],
  ['reader/status', '{"reader":"Simulated Contactless Reader 02 00"}'],
];
const floodStart = performance.now();
for (let round = 0; round < ROUNDS; round++) {
  for (let i = 0; i < N; i++) {
    const [k, p] = kinds[i % kinds.length];
    flood.publish(`${ROOT}/request/${k}`, p, { qos: 1 });
  }
  const deadline = performance.now() + 120000;
  while (answers < N * (round + 1) && performance.now() < deadline) await new Promise((r) => setTimeout(r, 20));
}
const floodMs = performance.now() - floodStart;
const during = lat.filter((x) => x.at >= floodStart && x.at <= floodStart + floodMs).map((x) => x.ms);
const afterFlood = mem();
clearInterval(ticker);
await new Promise((r) => setTimeout(r, IDLE_MS));
const afterIdle = mem();
const svc = gw.gateway.services.find((s) => s.name === 'mqtt')!;
const diag = svc.diagnostics?.() ?? {};
await good.endAsync();
await flood.endAsync();
await gw.stop();
await m.close();
console.log(
  JSON.stringify({
    bench: 'hostile-mqtt-flood',
    requests: N * ROUNDS,
    answered: answers,
    busy,
    floodS: Math.round(floodMs / 100) / 10,
    otherClientInfoP50MsBefore: pct(baseline, 50),
    otherClientInfoP99MsBefore: pct(baseline, 99),
    otherClientInfoP50MsDuring: pct(during, 50),
    otherClientInfoP99MsDuring: pct(during, 99),
    otherClientAnswersDuring: during.length,
    rssMbIdle: idle.rssMb,
    rssMbAfterFlood: afterFlood.rssMb,
    rssMbAfterIdle: afterIdle.rssMb,
    heapUsedMbIdle: idle.heapUsedMb,
    heapUsedMbAfterFlood: afterFlood.heapUsedMb,
    heapUsedMbAfterIdle: afterIdle.heapUsedMb,
    idleS: IDLE_MS / 1000,
    peakWaiting: diag.requestsPeakWaiting,
  }),
);
process.exit(0);
