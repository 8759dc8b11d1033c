/**
 * scardctl fleet --broker URL [--base TOPIC] [--follow]: every gateway on a
 * broker from its retained topics; with --follow, the events of all of them,
 * de-duplicated by (gatewayId, seq), with gaps reported and filled by the
 * `events` request (afterSeq) while the gateway still has them in memory.
 * Talks MQTT only (no control socket).
 */
import { randomBytes } from 'node:crypto';
import mqtt, { type MqttClient } from 'mqtt';
import { FleetView, type GatewayRow } from '../fleet-view.js';
import { UsageError, type Command, type CommandIo } from './command.js';
import type { GatewayEvent } from '../../api/mqtt/topics.js';

/** The URL without its password, for messages. */
function safeUrl(url: string): string {
  return url.replace(/\/\/([^:@/]*):[^@/]*@/, '//$1:***@');
}

interface FleetArgs {
  broker: string;
  base: string;
  follow: boolean;
  waitMs: number;
  username?: string;
  password?: string;
}

function parseArgs(args: string[]): FleetArgs {
  const a: FleetArgs = { broker: '', base: 'scardgate', follow: false, waitMs: 1500 };
  for (let i = 0; i < args.length; i++) {
    const k = args[i];
    const v = (): string => {
      const x = args[++i];
      if (x === undefined || x === '') throw new UsageError(`fleet: ${k} needs a value`);
      return x;
    };
    if (k === '--broker' || k === '-b') a.broker = v();
    else if (k === '--base') a.base = v();
    else if (k === '--follow' || k === '-f') a.follow = true;
    else if (k === '--wait-ms') a.waitMs = Number(v());
    else if (k === '--username') a.username = v();
    else if (k === '--password') a.password = v();
    else throw new UsageError(`fleet: unknown argument ${JSON.stringify(k)} (usage: scardctl fleet ${fleet.usage})`);
  }
  if (!a.broker) throw new UsageError(`fleet: missing --broker URL (usage: scardctl fleet ${fleet.usage})`);
  if (!/^(mqtts?|wss?):\/\//.test(a.broker)) throw new UsageError(`fleet: --broker must be an mqtt://, mqtts://, ws:// or wss:// URL, got ${JSON.stringify(a.broker)}`);
  if (!Number.isInteger(a.waitMs) || a.waitMs < 0) throw new UsageError('fleet: --wait-ms must be a whole number of milliseconds');
  if (/[+#]/.test(a.base) || !a.base) throw new UsageError('fleet: --base must be a topic without + or #');
  return a;
}

function table(rows: GatewayRow[]): string[] {
  const head = ['GATEWAY', 'AVAILABILITY', 'VERSION', 'READERS', 'OUTBOX', 'LAST SEQ', 'GAPS', 'LAST EVENT'];
  const cells = rows.map((r) => [r.gatewayId, r.availability, r.version, String(r.readers), r.outboxDepth === null ? '-' : String(r.outboxDepth), r.lastSeq === null ? '-' : String(r.lastSeq), String(r.gaps), r.lastEvent ?? '-']);
  const w = head.map((h, i) => Math.max(h.length, ...cells.map((c) => c[i].length)));
  return [head, ...cells].map((c) => c.map((x, i) => (i === c.length - 1 ? x : x.padEnd(w[i]))).join('  '));
}

export const fleet: Command = {
  name: 'fleet',
  usage: '--broker URL [--base TOPIC] [--follow] [--wait-ms N] [--username U --password P]',
  summary: 'list the gateways on an MQTT broker; --follow prints all their events, de-duplicated',
  async run(io: CommandIo) {
    const a = parseArgs(io.args);
    const view = new FleetView();
    let client: MqttClient;
    try {
      client = await mqtt.connectAsync(a.broker, {
        protocolVersion: 5,
        clientId: `scardctl-fleet-${randomBytes(4).toString('hex')}`,
        reconnectPeriod: a.follow ? 1000 : 0,
        connectTimeout: 10000,
        ...(a.username ? { username: a.username, password: a.password } : {}),
      });
    } catch (e) {
      io.err(`scardctl: cannot connect to ${safeUrl(a.broker)}: ${(e as Error).message}`);
      return 1;
    }
    const replyTopic = `${a.base}/scardctl-fleet/${randomBytes(6).toString('hex')}`;
    const print = (ev: GatewayEvent): void => {
      if (io.json) io.out(JSON.stringify({ event: ev }));
      else io.out(`${ev.gatewayId} #${ev.seq} ${ev.time} ${ev.type} ${ev.reader}${typeof ev.data.uid === 'string' ? ` uid ${ev.data.uid}` : ''}`);
    };
    client.on('message', (topic, payload, packet) => {
      if (topic === replyTopic) {
        // Answers of the gap-filling `events` requests: the events feed the same de-duplication.
        try {
          const resp = JSON.parse(payload.toString()) as { status: string; data?: { events?: GatewayEvent[] } };
          for (const ev of resp.data?.events ?? []) {
            const r = view.message(a.base, `${a.base}/${ev.gatewayId}/events`, Buffer.from(JSON.stringify(ev)));
            if (r.event) print(r.event);
          }
        } catch {
          // Not ours to judge: a malformed answer fills nothing.
        }
        return;
      }
      const r = view.message(a.base, topic, payload);
      if (!a.follow) return;
      if (r.gap) {
        if (io.json) io.out(JSON.stringify({ gap: r.gap }));
        else io.out(`${r.gap.gatewayId}: seq ${r.gap.from}..${r.gap.to} missing; asking the gateway (events afterSeq ${r.gap.from - 1})`);
        client.publish(`${a.base}/${r.gap.gatewayId}/request/events`, JSON.stringify({ afterSeq: r.gap.from - 1, limit: Math.min(1000, r.gap.to - r.gap.from + 1) }), {
          qos: 1,
          properties: { responseTopic: replyTopic },
        });
      }
      if (r.event) print(r.event);
      void packet;
    });
    const topics = ['availability', 'info', 'readers'].map((k) => `${a.base}/+/${k}`);
    if (a.follow) topics.push(`${a.base}/+/events`, replyTopic);
    await client.subscribeAsync(topics, { qos: 1 });
    // The broker sends retained messages right after SUBACK; a round trip of our own (QoS 1 to ourselves) bounds the wait.
    const probe = `${replyTopic}/probe`;
    await client.subscribeAsync(probe, { qos: 1 });
    const probed = new Promise<void>((resolve) => client.on('message', (t) => t === probe && resolve()));
    await client.publishAsync(probe, 'x', { qos: 1 });
    await Promise.race([probed, new Promise((r) => setTimeout(r, 5000))]);
    await new Promise((r) => setTimeout(r, a.waitMs));
    const rows = view.rows();
    if (io.json) io.out(JSON.stringify({ gateways: rows }));
    else if (rows.length === 0) io.out(`no gateways under ${a.base}/ on ${safeUrl(a.broker)}`);
    else for (const line of table(rows)) io.out(line);
    if (a.follow) {
      if (!io.json) io.out('following events (Ctrl-C to stop)');
      await new Promise<void>((resolve) => io.signal.addEventListener('abort', () => resolve(), { once: true }));
      if (!io.json && view.duplicates) io.out(`${view.duplicates} duplicate deliveries dropped`);
    }
    await client.endAsync(true);
    return 0;
  },
};
