import { Type } from '@sinclair/typebox';

/** pcsc: the pcscd-compatible socket (owned by src/api/pcsc). */
export const PcscConfig = Type.Object(
  {
    enabled: Type.Boolean({ default: true, description: 'Serve the pcsc-lite client protocol.' }),
    socket: Type.String({
      minLength: 1,
      maxLength: 107,
      default: './var/run/pcscd.comm',
      description: 'Socket path (clients: PCSCLITE_CSOCK_NAME; /run/pcscd/pcscd.comm when replacing pcscd).',
    }),
  },
  { additionalProperties: false, default: {} },
);
