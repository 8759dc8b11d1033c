import { Type, type Static } from '@sinclair/typebox';

/** mqtt: the MQTT frontend (owned by src/api/mqtt). */
export const MqttConfig = Type.Object(
  {
    enabled: Type.Boolean({ default: true, description: 'Publish to an MQTT broker.' }),
    url: Type.String({
      default: 'embedded',
      description: "Broker URL (mqtt://, mqtts://, ws://, wss://) or 'embedded' for the built-in broker on 127.0.0.1.",
    }),
    baseTopic: Type.String({
      minLength: 1,
      pattern: '^[^#+]+$',
      default: 'scardgate',
      description: 'Base topic; every topic is <baseTopic>/<gatewayId>/... No + or #.',
    }),
    protocolVersion: Type.Union([Type.Literal(5), Type.Literal(4)], { default: 5, description: 'MQTT 5 or 3.1.1 (4).' }),
    clientId: Type.String({ default: '', description: "Client id; default 'scardgate-<gatewayId>'." }),
    username: Type.String({ default: '', description: 'Broker user name.' }),
    password: Type.String({ default: '', description: 'Broker password (never logged or published).' }),
    ca: Type.String({ default: '', description: 'PEM file of the CA that signed the broker certificate (mqtts/wss).' }),
    cert: Type.String({ default: '', description: 'PEM client certificate file (TLS client authentication).' }),
    key: Type.String({ default: '', description: 'PEM private key file of the client certificate.' }),
    rejectUnauthorized: Type.Boolean({ default: true, description: 'Refuse a broker certificate that does not verify.' }),
    clean: Type.Boolean({ default: true, description: 'Clean session (true) or persistent session (false: the broker keeps subscriptions and queued requests).' }),
    keepaliveS: Type.Integer({ minimum: 0, maximum: 65535, default: 30, description: 'Keep-alive interval in seconds.' }),
    reconnectMinMs: Type.Integer({ minimum: 100, maximum: 600000, default: 1000, description: 'First reconnect delay; doubles after each failure.' }),
    reconnectMaxMs: Type.Integer({ minimum: 100, maximum: 3600000, default: 30000, description: 'Largest reconnect delay.' }),
    inflight: Type.Integer({ minimum: 1, maximum: 65535, default: 100, description: 'Events published and not yet acknowledged by the broker at most.' }),
    maxRequestBytes: Type.Integer({ minimum: 256, maximum: 1048576, default: 65536, description: 'Larger request payloads are refused with an error response.' }),
    maxConcurrentRequests: Type.Integer({ minimum: 1, maximum: 1024, default: 16, description: 'Requests worked on at once; more wait in arrival order.' }),
    maxQueuedRequests: Type.Integer({
      minimum: 0,
      maximum: 100000,
      default: 256,
      description: 'Requests waiting at most; beyond that a request is answered at once with a busy error (a flooding client cannot hold up the others or the memory).',
    }),
    maxSessions: Type.Integer({ minimum: 0, maximum: 1000, default: 16, description: 'Open APDU sessions at most (session/open).' }),
    maxLeaseMs: Type.Integer({ minimum: 1000, maximum: 3600000, default: 300000, description: 'Longest lease a session may ask for.' }),
    infoIntervalS: Type.Integer({ minimum: 0, maximum: 86400, default: 60, description: 'Re-publish gateway info (uptime, outbox depth) this often; 0 = on changes only.' }),
    embedded: Type.Object(
      {
        host: Type.String({ default: '127.0.0.1', description: 'Address of the built-in broker.' }),
        port: Type.Integer({ minimum: 0, maximum: 65535, default: 1883, description: 'Port of the built-in broker (0 = any free port).' }),
      },
      { additionalProperties: false, default: {} },
    ),
    homeassistant: Type.Object(
      {
        enabled: Type.Boolean({ default: false, description: 'Publish Home Assistant MQTT discovery so card taps appear as HA tag scans.' }),
        discoveryPrefix: Type.String({ minLength: 1, default: 'homeassistant', description: 'Home Assistant discovery prefix.' }),
      },
      { additionalProperties: false, default: {} },
    ),
  },
  { additionalProperties: false, default: {} },
);

export type MqttConfigT = Static<typeof MqttConfig>;
