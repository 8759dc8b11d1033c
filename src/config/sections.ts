/** Config sections that belong to the daemon itself rather than to one driver or frontend. */
import { Type } from '@sinclair/typebox';

export const LogConfig = Type.Object(
  {
    level: Type.Union(
      ['fatal', 'error', 'warn', 'info', 'debug', 'trace', 'silent'].map((l) => Type.Literal(l)),
      { default: 'info', description: 'pino log level.' },
    ),
  },
  { additionalProperties: false, default: {} },
);

export const StateConfig = Type.Object(
  {
    dir: Type.String({
      minLength: 1,
      default: './var/lib',
      description: 'Directory for persistent state (event outbox, sequence numbers, password hash). /var/lib/scardgate on the appliance.',
    }),
  },
  { additionalProperties: false, default: {} },
);

export const ControlConfig = Type.Object(
  {
    socket: Type.String({
      minLength: 1,
      // sockaddr_un.sun_path: 108 bytes with the terminating NUL.
      maxLength: 107,
      default: './var/run/scardgate.ctl',
      description: 'Unix socket of the local control channel used by scardctl (mode 0660).',
    }),
  },
  { additionalProperties: false, default: {} },
);

export const CoreConfig = Type.Object(
  {
    transmitTimeoutMs: Type.Integer({
      minimum: 100,
      maximum: 600000,
      default: 30000,
      description: 'Upper bound for one exchange with a card before it fails with SCARD_E_TIMEOUT... (drivers may have tighter ones).',
    }),
  },
  { additionalProperties: false, default: {} },
);
