/**
 * The MQTT frontend: availability (last will), retained gateway info, readers
 * list and per-reader state, events from the durable outbox (QoS 1, in order,
 * acknowledged back into the outbox), and request/response over the gateway's
 * operations (src/gateway). Callers over MQTT hold the read and transmit
 * scopes: configuration, tokens and diagnostics are not reachable from a broker.
 */
import { readFileSync } from 'node:fs';
import mqtt, { type IClientOptions, type IClientPublishOptions, type MqttClient, type IPublishPacket, type IConnackPacket } from 'mqtt';
import { sectionWithDefaults } from '../../config/load-compiled.js';
import type { Logger } from 'pino';
import type { Service, ServiceContext } from '../../daemon/service.js';
import type { GatewayEvents } from '../../events/pipeline.js';
import type { Scope } from '../../gateway/catalog.js';
import { errorBody, invalid } from '../../gateway/errors.js';
import type { Reader } from '../../gateway/readers.js';
import type { MqttConfigT } from './config.js';
import { startEmbeddedBroker, type EmbeddedBroker } from './broker.js';
import { brokerCredentials, mqttPasswordPath } from './broker-auth.js';
import { haTagValueTemplate } from './ha-tag.js';
import { parseRequest } from './requests.js';
import { Backoff } from './backoff.js';
import { RequestGate } from './request-gate.js';
import { trimHeapSoon } from '../../daemon/heap-trim.js';
import { SCARD } from '../../pcsc/constants.js';
import { PcscError } from '../../pcsc/error.js';
import { haTagConfigTopic, haTagConfigWildcard, isPublishableTopic, topicsFor, type GatewayInfo, type GatewayTopics, type Response } from './topics.js';

/** What a request over MQTT may do (the broker's ACL decides who may publish requests at all). */
const MQTT_CALLER = { owner: 'mqtt', scopes: ['read', 'transmit'] as Scope[], label: 'mqtt' };

/** How long after connecting we wait for our own retained availability to come back before deciding the broker keeps none. */
const RETAIN_PROBE_MS = 2000;

export function mqttConfigOf(config: unknown): MqttConfigT {
  return sectionWithDefaults(config, 'mqtt');
}

/** The URL without credentials, for logs and info. */
export function safeUrl(url: string): string {
  try {
    const u = new URL(url);
    if (u.password) u.password = '***';
    return u.toString();
  } catch {
    return url.replace(/\/\/[^@/]*@/, '//***@');
  }
}

/** Requests pending at once that make a burst worth a heap trim afterwards. */
const BURST_REQUESTS = 200;

/** Errors of reaching the broker at all (no MQTT conversation took place). */
const TRANSPORT_ERRORS = new Set(['ECONNREFUSED', 'EHOSTUNREACH', 'ENETUNREACH', 'ENOTFOUND', 'EAI_AGAIN', 'ETIMEDOUT', 'EADDRNOTAVAIL']);
const isTransportError = (e: Error): boolean => TRANSPORT_ERRORS.has(String((e as { code?: unknown }).code));

export class MqttService implements Service {
  readonly name = 'mqtt';
  private readonly cfg: MqttConfigT;
  private readonly log: Logger;
  private topics!: GatewayTopics;
  private client?: MqttClient;
  private broker?: EmbeddedBroker;
  private events?: GatewayEvents;
  private url = '';
  /** The gateway's own login on the built-in broker (in memory only). */
  private embeddedLogin?: { username: string; password: string };
  private protocolVersion: 4 | 5 = 5;
  private connected = false;
  private stopping = false;
  /** null until probed. */
  private retainKept: boolean | null = null;
  private retainAllowed = true;
  private probeTimer?: NodeJS.Timeout;
  private infoTimer?: NodeJS.Timeout;
  private inflight = 0;
  private connectedAt = 0;
  private quickDrops = 0;
  private connectSent = false;
  private connackSeen = false;
  private refusedConnects = 0;
  /** The current attempt failed before any broker could answer (refused, unreachable): says nothing about retain. */
  private transportFailed = false;
  private readonly backoff: Backoff;
  private readonly gate: RequestGate;
  private lastState = new Map<string, string>();
  private lastReaders = '';
  private counters = { requests: 0, requestErrors: 0, published: 0, connects: 0, connectionErrors: 0 };
  private lastError = '';

  constructor(private readonly ctx: ServiceContext) {
    this.cfg = mqttConfigOf(ctx.config);
    this.log = ctx.log.child({ module: 'mqtt' });
    this.gate = new RequestGate(this.cfg.maxConcurrentRequests, this.cfg.maxQueuedRequests);
    this.backoff = new Backoff(this.cfg.reconnectMinMs, Math.max(this.cfg.reconnectMinMs, this.cfg.reconnectMaxMs));
  }

  async start(): Promise<void> {
    const cfg = this.cfg;
    this.topics = topicsFor(cfg.baseTopic, this.ctx.gatewayId);
    for (const t of [this.topics.availability, this.topics.events, this.topics.readerState('x')]) {
      if (!isPublishableTopic(t)) throw new Error(`mqtt.baseTopic / gatewayId make an invalid topic "${t}" (empty level, + or #)`);
    }
    this.events = this.ctx.api.events() as GatewayEvents | undefined;
    if (!this.events) throw new Error('the events service is not running: MQTT publishes from its outbox');
    try {
      await this.startClient(this.events);
    } catch (e) {
      // A failed start (bad certificate file, port refused) leaves nothing behind.
      await this.stop().catch(() => undefined);
      throw e;
    }
  }

  private async startClient(events: GatewayEvents): Promise<void> {
    const cfg = this.cfg;
    this.url = cfg.url;
    this.protocolVersion = cfg.protocolVersion;
    if (!this.url || this.url === 'embedded') {
      const credentials = await brokerCredentials(this.ctx.config.state.dir);
      try {
        this.broker = await startEmbeddedBroker(cfg.embedded.host, cfg.embedded.port, {
          credentials,
          baseTopic: cfg.baseTopic,
          root: this.topics.root,
          gatewayClientId: this.clientId(),
          haPrefix: cfg.homeassistant.enabled ? cfg.homeassistant.discoveryPrefix : undefined,
        });
      } catch (e) {
        // A broker already on that port is not ours: sending it our events and taking its requests would give
        // the card to whoever started it. Say so rather than fall back.
        if ((e as { cause?: { code?: string } }).cause?.code === 'EADDRINUSE') {
          throw new Error(
            `mqtt.embedded: ${cfg.embedded.host}:${cfg.embedded.port} is already in use (another broker?). Set mqtt.url (with username/password) to use that broker, or mqtt.embedded.port to a free port.`,
            { cause: e },
          );
        }
        throw e;
      }
      this.url = this.broker.url;
      this.protocolVersion = 4;
      this.embeddedLogin = credentials.gateway;
      this.log.info(
        { url: this.url, credential: mqttPasswordPath(this.ctx.config.state.dir) },
        'built-in MQTT broker listening (try: mosquitto_sub -u scardgate -P "$(cat <credential>)" -t "%s/#" -v)',
        cfg.baseTopic,
      );
    }
    this.ctx.api.contributeInfo('broker', () => this.broker_());
    this.ctx.api.on('reader', this.onReader);
    this.ctx.api.on('reader-removed', this.onReaderRemoved);
    events.outbox.on('recorded', this.onRecorded);
    this.connect();
    if (cfg.infoIntervalS > 0) {
      this.infoTimer = setInterval(() => this.periodic(), cfg.infoIntervalS * 1000);
      this.infoTimer.unref?.();
    }
  }

  private clientId(): string {
    return this.cfg.clientId || `scardgate-${this.ctx.gatewayId}`;
  }

  private clientOptions(): IClientOptions {
    const c = this.cfg;
    const file = (key: 'ca' | 'cert' | 'key'): Buffer | undefined => {
      if (!c[key]) return undefined;
      try {
        return readFileSync(c[key]);
      } catch (e) {
        throw new Error(`mqtt.${key}: cannot read ${c[key]}: ${(e as Error).message}`, { cause: e });
      }
    };
    const opts: IClientOptions = {
      protocolVersion: this.protocolVersion,
      clientId: this.clientId(),
      clean: c.clean,
      keepalive: c.keepaliveS,
      reconnectPeriod: this.backoff.next(),
      connectTimeout: 10000,
      queueQoSZero: false,
      // The cache is 65536 two-byte buffers built on the first packet (~15 ms on the way to ready, for the embedded
      // broker too: one mqtt-packet); packet ids and lengths are written just as well without it.
      writeCache: false,
      // A refused CONNACK (bad credentials, retain not supported) is retried with back-off like a lost connection: a gateway keeps trying.
      reconnectOnConnackError: true,
      resubscribe: true,
      will: { topic: this.topics.availability, payload: Buffer.from('offline'), qos: 1, retain: true },
      rejectUnauthorized: c.rejectUnauthorized,
    };
    if (this.protocolVersion === 5 && !c.clean) opts.properties = { sessionExpiryInterval: 0xffffffff };
    if (c.username) opts.username = c.username;
    if (c.password) opts.password = c.password;
    if (this.embeddedLogin) Object.assign(opts, this.embeddedLogin);
    const ca = file('ca');
    const cert = file('cert');
    const key = file('key');
    if (ca) opts.ca = ca;
    if (cert) opts.cert = cert;
    if (key) opts.key = key;
    return opts;
  }

  private connect(): void {
    const client = mqtt.connect(this.url, this.clientOptions());
    this.client = client;
    client.on('connect', (connack) => this.onConnect(connack));
    client.on('message', (topic, payload, packet) => this.onMessage(topic, payload, packet));
    client.on('packetsend', (p) => {
      if (p.cmd === 'connect') {
        this.connectSent = true;
        this.connackSeen = false;
        this.transportFailed = false;
      }
    });
    client.on('packetreceive', (p) => {
      if (p.cmd === 'connack') this.connackSeen = true;
    });
    client.on('close', () => {
      // A 3.1.1 broker without retain support refuses a retained will by closing before CONNACK.
      // mqtt.js writes CONNECT before the TCP connect completes, so a refused connect (broker down) looks the same: not counted.
      if (this.connectSent && !this.connackSeen && !this.connected && !this.transportFailed && this.retainAllowed && client.options.will?.retain) {
        if (++this.refusedConnects >= 2) this.noRetain('the broker closes the connection before CONNACK while our will is retained');
      }
      this.connectSent = false;
      if (this.connected && !this.stopping) this.log.warn({ url: safeUrl(this.url) }, 'MQTT connection lost; events queue in the outbox');
      // MQTT 3.1.1 has no way to say "retain not supported": such a broker just drops a client that publishes retained.
      // Two connections in a row dropped right after our retained publishes, with no retained copy seen: stop retaining.
      if (this.connected && this.retainAllowed && this.retainKept !== true && performance.now() - this.connectedAt < RETAIN_PROBE_MS) {
        if (++this.quickDrops >= 2) this.noRetain('the broker drops the connection after retained publishes');
      } else if (this.connected) {
        this.quickDrops = 0;
      }
      this.connected = false;
      clearTimeout(this.probeTimer);
      // Exponential back-off with full jitter between reconnect attempts (src/api/mqtt/backoff.ts), reset by a successful connect.
      client.options.reconnectPeriod = this.backoff.next();
    });
    client.on('error', (e) => {
      this.counters.connectionErrors++;
      if (isTransportError(e)) this.transportFailed = true;
      // MQTT 5 reason code 0x9A: the broker refuses retained messages, the will included.
      if ((e as { code?: number }).code === 0x9a || /retain not supported/i.test(e.message)) this.noRetain(e.message);
      if (e.message !== this.lastError) this.log.warn({ url: safeUrl(this.url), err: e }, 'MQTT connection error');
      this.lastError = e.message;
    });
  }

  /** Switch to publishing without the retain flag (will included) and re-publishing state periodically. */
  private noRetain(why: string): void {
    if (!this.retainAllowed) return;
    this.retainAllowed = false;
    this.retainKept = false;
    if (this.client?.options.will) this.client.options.will.retain = false;
    this.log.warn({ reason: why }, 'the broker keeps no retained messages: publishing state without retain and re-publishing it periodically');
  }

  private onConnect(connack: IConnackPacket): void {
    // mqtt-packet writes a packet in several chunks; with Nagle on, a response after a PUBACK waits for the broker's delayed ACK (~40 ms).
    (this.client?.stream as { setNoDelay?: (b: boolean) => void } | undefined)?.setNoDelay?.(true);
    this.connected = true;
    this.connectedAt = performance.now();
    this.refusedConnects = 0;
    this.counters.connects++;
    this.backoff.reset();
    this.lastError = '';
    this.log.info({ url: safeUrl(this.url), protocolVersion: this.protocolVersion, sessionPresent: connack.sessionPresent }, 'MQTT connected');
    const client = this.client!;
    if (connack.properties?.retainAvailable === false) this.noRetain('CONNACK retain available: false');
    this.publishAllState();
    if (!this.cfg.homeassistant.enabled) this.clearHaDiscovery();
    client.subscribe(
      [this.topics.requestWildcard, this.topics.availability],
      { qos: 1 },
      (err) => err && this.log.warn({ err }, 'MQTT subscribe failed (ACL?): requests will not be answered'),
    );
    if (this.retainAllowed) {
      clearTimeout(this.probeTimer);
      if (this.retainKept !== true) {
        this.probeTimer = setTimeout(() => {
          if (this.retainKept === true || !this.connected) return;
          this.retainKept = false;
          this.log.warn('the broker did not return our retained availability: it keeps no retained messages; state is re-published periodically');
          this.publishAllState();
        }, RETAIN_PROBE_MS);
        this.probeTimer.unref?.();
      }
    }
    this.pump();
  }

  /** `queue`: hand to the client even between CONNACK and 'connect' (requests of a resumed session arrive then). */
  private publish(topic: string, payload: string | Buffer, opts: IClientPublishOptions, queue = false): void {
    if (!this.client || (!this.connected && !queue)) return;
    if (!isPublishableTopic(topic)) {
      this.log.error({ topic }, 'refusing to publish to an unsafe topic');
      return;
    }
    if (opts.retain && !this.retainAllowed) opts = { ...opts, retain: false };
    this.client.publish(topic, payload, opts, (err) => {
      if (err && !this.stopping) this.log.debug({ topic, err }, 'MQTT publish failed');
    });
  }

  private publishRetained(topic: string, body: unknown): void {
    this.publish(topic, typeof body === 'string' ? body : JSON.stringify(body), { qos: 1, retain: true });
  }

  private publishAllState(): void {
    this.publishRetained(this.topics.availability, 'online');
    this.publishRetained(this.topics.info, this.info());
    this.lastReaders = '';
    this.lastState.clear();
    const { readers } = this.ctx.api.readers();
    this.publishReaders();
    for (const r of readers) this.publishReaderState(r);
    if (this.cfg.homeassistant.enabled) for (const r of readers) this.publishHaTag(r);
  }

  private periodic(): void {
    if (!this.connected) return;
    if (this.retainKept === false) this.publishAllState();
    else this.publishRetained(this.topics.info, this.info());
  }

  /** The retained readers list: the answer to request/readers, re-published when it changes. */
  private publishReaders(): void {
    const body = JSON.stringify(this.ctx.api.readers());
    if (body === this.lastReaders) return;
    this.lastReaders = body;
    this.publishRetained(this.topics.readers, body);
  }

  private publishReaderState(r: Reader): void {
    const body = JSON.stringify(r);
    if (this.lastState.get(r.name) === body) return;
    this.lastState.set(r.name, body);
    this.publishRetained(this.topics.readerState(r.id), body);
  }

  private publishHaTag(r: Reader): void {
    // Tag scans need a UID: contactless readers only.
    if (!r.capabilities.contactless) return;
    const id = r.id;
    const gw = this.ctx.gatewayId;
    this.publishRetained(haTagConfigTopic(this.cfg.homeassistant.discoveryPrefix, gw, id), {
      topic: this.topics.events,
      value_template: haTagValueTemplate(r.name),
      device: {
        identifiers: [`scardgate_${gw}`],
        name: `scardgate ${gw}`,
        manufacturer: 'scardgate',
        model: 'smart card reader gateway',
        sw_version: this.ctx.version,
      },
      qos: 1,
    });
  }

  /** A reader appeared or changed (rendered by the gateway, UID learnt from events included). */
  private readonly onReader = (r: Reader): void => {
    const known = this.lastState.has(r.name);
    this.publishReaderState(r);
    this.publishReaders();
    if (!known) {
      if (this.cfg.homeassistant.enabled) this.publishHaTag(r);
      this.publishRetained(this.topics.info, this.info());
    }
  };

  private readonly onReaderRemoved = (r: { name: string; id: string }): void => {
    // An empty retained payload deletes the retained state of a reader that is gone.
    this.publish(this.topics.readerState(r.id), '', { qos: 1, retain: true });
    if (this.cfg.homeassistant.enabled) this.publish(haTagConfigTopic(this.cfg.homeassistant.discoveryPrefix, this.ctx.gatewayId, r.id), '', { qos: 1, retain: true });
    this.lastState.delete(r.name);
    this.publishReaders();
    this.publishRetained(this.topics.info, this.info());
  };

  /**
   * Discovery turned off: delete the tag configs a previous run retained (HA would keep showing the scanners).
   * They are found by subscribing to this gateway's configs for a while; the broker hands over the retained ones.
   */
  private clearHaDiscovery(): void {
    const client = this.client;
    if (!client || !this.retainAllowed) return;
    const wildcard = haTagConfigWildcard(this.cfg.homeassistant.discoveryPrefix, this.ctx.gatewayId);
    const prefix = wildcard.slice(0, wildcard.indexOf('+'));
    const onMessage = (topic: string, payload: Buffer, packet: IPublishPacket): void => {
      if (packet.retain && payload.length && topic.startsWith(prefix) && topic.endsWith('/config')) this.publish(topic, '', { qos: 1, retain: true });
    };
    client.on('message', onMessage);
    client.subscribe(wildcard, { qos: 1 }, (err) => {
      if (err) {
        client.off('message', onMessage);
        return;
      }
      const t = setTimeout(() => {
        client.off('message', onMessage);
        client.unsubscribe(wildcard);
      }, RETAIN_PROBE_MS);
      t.unref?.();
    });
  }

  /** A clean stop: retained info and reader states say the gateway no longer serves them (a crash leaves that to the will). */
  private async publishStopped(client: MqttClient): Promise<void> {
    const retain = this.retainAllowed;
    const info = this.info();
    const now = new Date().toISOString();
    const gone = (r: Reader): Reader => ({ ...r, state: 'unavailable', atr: null, uid: null, protocol: null, cardType: null, card: null, since: now });
    const list = this.ctx.api.readers();
    const readers = list.readers.map(gone);
    const pubs: Array<Promise<unknown>> = [
      client.publishAsync(this.topics.info, JSON.stringify({ ...info, broker: { ...info.broker, connected: false } }), { qos: 1, retain }),
      client.publishAsync(this.topics.readers, JSON.stringify({ ...list, readers }), { qos: 1, retain }),
    ];
    for (const st of readers) pubs.push(client.publishAsync(this.topics.readerState(st.id), JSON.stringify(st), { qos: 1, retain }));
    await Promise.all(pubs);
  }

  private readonly onRecorded = (): void => this.pump();

  /** Hand recorded events to the client in order, at most `inflight` unacknowledged; acknowledged ones leave the outbox. */
  private pump(): void {
    const outbox = this.events?.outbox;
    if (!outbox || !this.client || !this.connected || this.stopping) return;
    while (this.inflight < this.cfg.inflight) {
      const ev = outbox.next();
      if (!ev) return;
      this.inflight++;
      this.client.publish(this.topics.events, JSON.stringify(ev), { qos: 1, retain: false }, (err) => {
        this.inflight--;
        if (err) {
          // Only when the client is being ended: the event stays in the outbox for the next start.
          if (!this.stopping) this.log.debug({ seq: ev.seq, err }, 'event publish failed');
          return;
        }
        this.counters.published++;
        outbox.ack(ev.seq);
        this.pump();
      });
    }
  }

  private onMessage(topic: string, payload: Buffer, packet: IPublishPacket): void {
    if (topic === this.topics.availability) {
      if (packet.retain && this.retainKept !== true) {
        this.retainKept = true;
        clearTimeout(this.probeTimer);
      }
      // Someone (or a stale will) marked us offline while we are connected: correct it.
      if (payload.toString() === 'offline' && this.connected && !this.stopping) this.publishRetained(this.topics.availability, 'online');
      return;
    }
    const prefix = this.topics.request('');
    if (!topic.startsWith(prefix)) return;
    const method = topic.slice(prefix.length);
    if (!this.gate.submit(() => this.onRequest(method, payload, packet))) void this.onRequest(method, payload, packet, true);
    // A burst: once it is over, let V8 give its garbage back (src/daemon/heap-trim.ts).
    if (this.gate.pending >= BURST_REQUESTS) trimHeapSoon();
  }

  /** `busy`: refused unread because too many requests are waiting (src/api/mqtt/request-gate.ts). */
  private async onRequest(method: string, payload: Buffer, packet: IPublishPacket, busy = false): Promise<void> {
    this.counters.requests++;
    const parsed = parseRequest(method, payload, this.cfg.maxRequestBytes);
    let resp: Response;
    if (busy) {
      resp = { status: 'error', error: errorBody(new PcscError(SCARD.E_SERVER_TOO_BUSY, `${this.cfg.maxQueuedRequests} requests already waiting (mqtt.maxQueuedRequests); try again later`)) };
    } else if (parsed.ok && packet.retain) {
      // A retained request is stored by the broker and handed to us again at every (re)subscribe: it would run at every restart.
      resp = { status: 'error', error: errorBody(invalid('request published with the retain flag refused (it would run again at every restart); publish requests without retain')) };
    } else if (!parsed.ok) {
      resp = { status: 'error', error: parsed.error };
    } else {
      try {
        resp = { status: 'ok', data: await this.ctx.api.call(parsed.method, parsed.params, MQTT_CALLER) };
      } catch (e) {
        resp = { status: 'error', error: errorBody(e) };
      }
    }
    if (resp.status === 'error') {
      this.counters.requestErrors++;
      this.log.debug({ method, error: resp.error.message }, 'request refused');
    }
    const transaction = parsed.transaction;
    if (transaction !== undefined) resp.transaction = transaction;
    const props = packet.properties;
    const opts: IClientPublishOptions = { qos: 1, retain: false };
    let topic = this.topics.response(method);
    if (props?.responseTopic && isPublishableTopic(props.responseTopic)) {
      topic = props.responseTopic;
      if (props.correlationData) opts.properties = { correlationData: props.correlationData };
    }
    if (!isPublishableTopic(topic)) topic = this.topics.responseNoMethod;
    this.publish(topic, JSON.stringify(resp), opts, true);
  }

  /** The retained info: the gateway's, with this frontend's broker and the outbox it publishes from. */
  info(): GatewayInfo & Required<Pick<GatewayInfo, 'broker'>> & { outbox: NonNullable<GatewayInfo['outbox']> } {
    const i = this.ctx.api.info();
    return { ...i, broker: i.broker ?? this.broker_(), outbox: i.outbox ?? { depth: 0, lastSeq: 0, ackSeq: 0, dropped: 0, refused: 0, diskBytes: 0, policy: '' } };
  }

  /** This frontend's part of the gateway info. */
  private broker_(): NonNullable<GatewayInfo['broker']> {
    return { url: safeUrl(this.url), connected: this.connected, protocolVersion: this.protocolVersion, retainAvailable: this.retainKept };
  }

  async stop(): Promise<void> {
    if (this.stopping) return;
    this.stopping = true;
    clearInterval(this.infoTimer);
    clearTimeout(this.probeTimer);
    this.ctx.api.off('reader', this.onReader);
    this.ctx.api.off('reader-removed', this.onReaderRemoved);
    this.ctx.api.contributeInfo('broker', undefined);
    this.events?.outbox.off('recorded', this.onRecorded);
    for (const s of this.ctx.api.sessions.list(MQTT_CALLER.owner)) await this.ctx.api.sessions.close(MQTT_CALLER.owner, s.id).catch(() => undefined);
    const client = this.client;
    if (client) {
      // Let in-flight events be acknowledged (bounded), then say offline ourselves: a clean shutdown is not a crash.
      const deadline = performance.now() + 2000;
      while (this.connected && this.inflight > 0 && performance.now() < deadline) await new Promise((r) => setTimeout(r, 10));
      if (this.connected) {
        // Unsubscribe first: the broker would echo our own "offline" back (we follow the availability topic), and the
        // PUBACK for it, written after end() closed the stream, failed with "write after end".
        await Promise.race([
          client
            .unsubscribeAsync([this.topics.requestWildcard, this.topics.availability])
            .catch(() => undefined)
            .then(() => this.publishStopped(client))
            .then(() => client.publishAsync(this.topics.availability, 'offline', { qos: 1, retain: this.retainAllowed }))
            .catch(() => undefined),
          new Promise((r) => setTimeout(r, 2000)),
        ]);
      }
      await Promise.race([client.endAsync(false).catch(() => undefined), new Promise((r) => setTimeout(r, 2000))]);
    }
    this.connected = false;
    await this.broker?.close();
    this.events = undefined;
  }

  diagnostics(): Record<string, unknown> {
    return {
      url: safeUrl(this.url),
      connected: this.connected,
      protocolVersion: this.protocolVersion,
      retainAvailable: this.retainKept,
      inflight: this.inflight,
      sessions: this.ctx.api.sessions.list(MQTT_CALLER.owner).length,
      requestsPending: this.gate.pending,
      requestsBusy: this.gate.refused,
      requestsPeakWaiting: this.gate.peakWaiting,
      embeddedBroker: this.broker ? `${this.broker.host}:${this.broker.port}` : null,
      ...this.counters,
      outbox: this.events?.outbox.stats(),
      recordFailures: this.events?.stats().recordFailures ?? 0,
    };
  }

  addresses(): Record<string, string> {
    return { mqtt: safeUrl(this.url), mqttTopics: `${this.topics.root}/#` };
  }

  /** The topics of this gateway (tests, tools). */
  topicTree(): GatewayTopics {
    return this.topics;
  }
}
