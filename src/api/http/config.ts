import { Type } from '@sinclair/typebox';

/** http: the HTTP API and web UI (owned by src/api/http). */
export const HttpConfig = Type.Object(
  {
    enabled: Type.Boolean({ default: true, description: 'Serve the HTTP API and web UI.' }),
    host: Type.String({ default: '127.0.0.1', description: 'Bind address.' }),
    allowedHosts: Type.Array(Type.String({ minLength: 1, maxLength: 253 }), {
      default: [],
      maxItems: 64,
      description:
        "Host names the web UI and API answer to besides the board's own addresses and host name and localhost (DNS rebinding guard), e.g. [gateway.example.com]; other Host headers get 421.",
    }),
    port: Type.Integer({ minimum: 0, maximum: 65535, default: 8080, description: 'TCP port (0 = any free port).' }),
    tls: Type.Object(
      {
        cert: Type.String({ default: '', description: 'PEM certificate file of the appliance; with tls.key set, the UI is served over HTTPS only.' }),
        key: Type.String({ default: '', description: 'PEM private key file matching tls.cert.' }),
      },
      { additionalProperties: false, default: {} },
    ),
    sessionIdleMinutes: Type.Integer({
      minimum: 1,
      maximum: 10080,
      default: 720,
      description: 'A technician session ends after this many minutes without a request.',
    }),
    sessionMaxHours: Type.Integer({
      minimum: 1,
      maximum: 8760,
      default: 168,
      description: 'A technician session ends this many hours after login, however much it is used (a password change ends every session at once).',
    }),
    loginAttemptsPerMinute: Type.Integer({
      minimum: 1,
      maximum: 1000,
      default: 5,
      description: 'Login attempts allowed per client address per minute (429 beyond).',
    }),
    bodyLimitBytes: Type.Integer({
      minimum: 1024,
      maximum: 4194304,
      default: 262144,
      description: 'Largest request body accepted (413 beyond).',
    }),
    requestTimeoutMs: Type.Integer({
      minimum: 1000,
      maximum: 600000,
      default: 15000,
      description: 'A request (headers and body) must arrive within this time, or its connection is closed (408): a slow-loris client cannot hold connections open.',
    }),
    webRoot: Type.String({ default: '', description: 'Directory of the built web UI; empty = dist/web of this installation.' }),
    logLines: Type.Integer({ minimum: 10, maximum: 100000, default: 2000, description: 'Recent log lines kept in memory for the logs view.' }),
  },
  { additionalProperties: false, default: {} },
);
