import { Type } from '@sinclair/typebox';

/** drivers.vpcd: vsmartcard vicc virtual cards over TCP (owned by drivers/vpcd). */
export const VpcdConfig = Type.Object(
  {
    enabled: Type.Boolean({ default: false, description: 'Listen for vicc virtual cards.' }),
    host: Type.String({ default: '127.0.0.1', description: 'Address to listen on.' }),
    port: Type.Integer({ minimum: 1, maximum: 65535, default: 35963, description: "First slot's TCP port; slot n listens on port+n." }),
    slots: Type.Integer({ minimum: 1, maximum: 16, default: 2, description: 'Number of virtual slots (readers).' }),
    responseTimeoutMs: Type.Integer({
      minimum: 100,
      maximum: 600000,
      default: 10000,
      description: 'How long a vicc may take to answer one APDU or ATR request; after that the call fails with SCARD_E_TIMEOUT and the card counts as removed.',
    }),
  },
  { additionalProperties: false, default: {} },
);
