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
    mode: Type.String({
      pattern: '^0?[0-7]{3}$',
      default: '0660',
      description: 'Socket file mode, octal. pcscd uses 0666; 0660 limits clients to the owner and `group`.',
    }),
    group: Type.Optional(
      Type.String({
        minLength: 1,
        description: 'Group (name or numeric gid) that owns the socket, so its members may use the readers.',
      }),
    ),
  },
  { additionalProperties: false, default: {} },
);
