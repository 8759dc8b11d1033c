import { Type } from '@sinclair/typebox';

/** http: the HTTP API and web UI (owned by src/api/http). */
export const HttpConfig = Type.Object(
  {
    enabled: Type.Boolean({ default: true, description: 'Serve the HTTP API and web UI.' }),
    host: Type.String({ default: '127.0.0.1', description: 'Bind address.' }),
    port: Type.Integer({ minimum: 0, maximum: 65535, default: 8080, description: 'TCP port (0 = any free port).' }),
  },
  { additionalProperties: false, default: {} },
);
