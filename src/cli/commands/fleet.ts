/**
 * scardctl fleet --broker URL [--base TOPIC] [--follow]: every gateway on a
 * broker from its retained topics; with --follow, the events of all of them,
 * de-duplicated by (gatewayId, seq), with gaps reported and filled by the
 * `events` request (afterSeq) while the gateway still has them in memory.
 * Talks MQTT only (no control socket).
 */
import { randomBytes } from 'node:crypto';
import { readFileSync } from 'node:fs';
import mqtt, { type MqttClient } from 'mqtt';
import { MQTT_CLIENT_USER, mqttPasswordPath } from '../../api/mqtt/broker-auth.js';
import { FleetView, type GatewayRow } from '../fleet-view.js';
import { UsageError, type Command, type CommandIo } from './command.js';
import { stateDirFromArgs } from './passwd-state.js';
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
  passwordFile?: string;
  /** The gateway's state directory (--state-dir, --config or the default): where the built-in broker's credential is. */
  stateDir: string;
}

function parseArgs(all: string[]): FleetArgs {
  const { stateDir, rest: args } = stateDirFromArgs('fleet', all);
  const a: FleetArgs = { broker: '', base: 'scardgate', follow: false, waitMs: 1500, stateDir };
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
    else if (k === '--password-file') a.passwordFile = v();
    else throw new UsageError(`fleet: unknown argument ${JSON.stringify(k)} (usage: scardctl fleet ${fleet.usage})`);
  }
  if (!a.broker) throw new UsageError(`fleet: missing --broker URL (usage: scardctl fleet ${fleet.usage})`);
  if (!/^(mqtts?|wss?):\/\//.test(a.broker)) throw new UsageError(`fleet: --broker must be an mqtt://, mqtts://, ws:// or wss:// URL, got ${JSON.stringify(a.broker)}`);
  if (!Number.isInteger(a.waitMs) || a.waitMs < 0) throw new UsageError('fleet: --wait-ms must be a whole number of milliseconds');
  if (/[+#]/.test(a.base) || !a.base) throw new UsageError('fleet: --base must be a topic without + or #');
  if (a.password !== undefined && a.passwordFile !== undefined) throw new UsageError('fleet: give --password or --password-file, not both');
  return a;
}

const LOOPBACK = new Set(['127.0.0.1', 'localhost', '[::1]', '::1']);

/**
 * The MQTT login: --username with --password or --password-file (the file's
 * first line; user `scardgate` when no --username, the built-in broker's);
 * with neither, for a broker on this machine, the built-in broker's generated
 * credential from the gateway's state directory when this user may read it
 * (mode 0640: the scardgate group). Never sent to a broker elsewhere.
 */
export function fleetLogin(a: Pick<FleetArgs, 'broker' | 'username' | 'password' | 'passwordFile' | 'stateDir'>): { username: string; password: string; from: string } | undefined {
  const firstLine = (file: string): string => readFileSync(file, 'utf8').split('\n')[0].trim();
  if (a.passwordFile !== undefined) {
    let password: string;
    try {
      password = firstLine(a.passwordFile);
    } catch (e) {
      throw new UsageError(`fleet: cannot read --password-file ${a.passwordFile}: ${(e as Error).message}`);
    }
    return { username: a.username ?? MQTT_CLIENT_USER, password, from: a.passwordFile };
  }
  if (a.password !== undefined) return { username: a.username ?? MQTT_CLIENT_USER, password: a.password, from: '--password' };
  const url = new URL(a.broker);
  // A user name given (option or URL) is the caller's login: mqtt.js takes the URL's own.
  if (a.username !== undefined || url.username !== '') return undefined;
  if (!LOOPBACK.has(url.hostname)) return undefined;
  const file = mqttPasswordPath(a.stateDir);
  try {
    return { username: MQTT_CLIENT_USER, password: firstLine(file), from: file };
  } catch {
    return undefined;
  }
}

function table(rows: GatewayRow[]): string[] {
  const head = ['GATEWAY', 'AVAILABILITY', 'VERSION', 'READERS', 'OUTBOX', 'LAST SEQ', 'GAPS', 'LAST EVENT'];
  const cells = rows.map((r) => [r.gatewayId, r.availability, r.version, String(r.readers), r.outboxDepth === null ? '-' : String(r.outboxDepth), r.lastSeq === null ? '-' : String(r.lastSeq), String(r.gaps), r.lastEvent ?? '-']);
  const w = head.map((h, i) => Math.max(h.length, ...cells.map((c) => c[i].length)));
  return [head, ...cells].map((c) => c.map((x, i) => (i === c.length - 1 ? x : x.padEnd(w[i]))).join('  '));
}

export const fleet: Command = {
  name: 'fleet',
  usage: '--broker URL [--base TOPIC] [--follow] [--wait-ms N] [--username U] [--password-file FILE | --password P] [--state-dir DIR | --config FILE]',
  summary: 'list the gateways on an MQTT broker; --follow prints all their events, de-duplicated',
  async run(io: CommandIo) {
    const a = parseArgs(io.args);
    // Other local users see a command line (ps, /proc): a password there is no secret.
    if (a.password !== undefined) io.err('scardctl: warning: --password is visible to other users of this machine; use --password-file');
    const login = fleetLogin(a);
    const view = new FleetView();
    let client: MqttClient;
    const connect = (protocolVersion: 4 | 5): Promise<MqttClient> =>
      mqtt.connectAsync(a.broker, {
        protocolVersion,
        clientId: `scardctl-fleet-${randomBytes(4).toString('hex')}`,
        reconnectPeriod: a.follow ? 1000 : 0,
        connectTimeout: 10000,
        ...(login ? { username: login.username, password: login.password } : {}),
      });
    try {
      try {
        client = await connect(5);
      } catch (e) {
        // A 3.1.1 broker (the gateway's built-in one) refuses an MQTT 5 CONNECT this way.
        if (!/protocol version/i.test((e as Error).message)) throw e;
        client = await connect(4);
      }
    } catch (e) {
      const hint = login
        ? ` (logged in as ${login.username} with the password from ${login.from})`
        : '; a broker that wants a login: --username and --password-file, or for the built-in broker --state-dir DIR (or --config FILE) of the gateway, whose mqtt-password this user must be able to read';
      io.err(`scardctl: cannot connect to ${safeUrl(a.broker)}: ${(e as Error).message}${hint}`);
      return 1;
    }
    // MQTT 5: answers to our own topic (response topic); 3.1.1 has none, so the gateway answers on its
    // response/events topic and the transaction id picks ours out.
    const v5 = client.options.protocolVersion === 5;
    const transaction = randomBytes(6).toString('hex');
    const replyTopic = `${a.base}/scardctl-fleet/${randomBytes(6).toString('hex')}`;
    const print = (ev: GatewayEvent): void => {
      if (io.json) io.out(JSON.stringify({ event: ev }));
      else io.out(`${ev.gatewayId} #${ev.seq} ${ev.time} ${ev.type} ${ev.reader}${typeof ev.data.uid === 'string' ? ` uid ${ev.data.uid}` : ''}`);
    };
    const responses = `${a.base}/+/response/events`;
    const isAnswer = (topic: string): boolean => (v5 ? topic === replyTopic : topic.startsWith(`${a.base}/`) && topic.endsWith('/response/events'));
    client.on('message', (topic, payload, packet) => {
      if (isAnswer(topic)) {
        // Answers of the gap-filling `events` requests: the events feed the same de-duplication.
        try {
          const resp = JSON.parse(payload.toString()) as { status: string; transaction?: unknown; data?: { events?: GatewayEvent[] } };
          if (!v5 && resp.transaction !== transaction) return;
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
        const request = { afterSeq: r.gap.from - 1, limit: Math.min(1000, r.gap.to - r.gap.from + 1), ...(v5 ? {} : { transaction }) };
        client.publish(`${a.base}/${r.gap.gatewayId}/request/events`, JSON.stringify(request), { qos: 1, ...(v5 ? { properties: { responseTopic: replyTopic } } : {}) });
      }
      if (r.event) print(r.event);
      void packet;
    });
    const topics = ['availability', 'info', 'readers'].map((k) => `${a.base}/+/${k}`);
    if (a.follow) topics.push(`${a.base}/+/events`, v5 ? replyTopic : responses);
    await client.subscribeAsync(topics, { qos: 1 });
    // The broker queues a subscription's retained messages before it answers the next SUBSCRIBE, so a second
    // round trip bounds the wait. (Not a publish to ourselves: the built-in broker refuses a client's publish under
    // the base topic other than a request, and closes the connection.)
    await client.subscribeAsync(`${replyTopic}/probe`, { qos: 1 });
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
