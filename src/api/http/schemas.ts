/** Request schemas (TypeBox -> JSON Schema, checked by fastify before a handler runs). */
import { Type, type Static } from '@sinclair/typebox';
import { SimCardSpec } from '../../../drivers/sim/config.js';

/** Hex text as typed by people ("00 A4 04 00", "00a40400"); parsed strictly by src/iso7816/hex.ts in the handler. */
const Hex = (description: string, maxLength = 2 * 65544 * 2) => Type.String({ maxLength, description });

export const LoginBody = Type.Object({ password: Type.String({ minLength: 1, maxLength: 1024 }) }, { additionalProperties: false });
export type LoginBody = Static<typeof LoginBody>;

export const ReaderParams = Type.Object({ name: Type.String({ minLength: 1, maxLength: 256 }) });
export type ReaderParams = Static<typeof ReaderParams>;

export const ShareMode = Type.Union([Type.Literal('shared'), Type.Literal('exclusive'), Type.Literal('direct')]);
export const Protocol = Type.Union([Type.Literal('any'), Type.Literal('T=0'), Type.Literal('T=1'), Type.Literal('raw')]);

export const TransmitBody = Type.Object(
  {
    reader: Type.String({ minLength: 1, maxLength: 256 }),
    apdu: Type.Optional(Hex('One command APDU in hex')),
    apdus: Type.Optional(Type.Array(Hex('Command APDU in hex'), { minItems: 1, maxItems: 64, description: 'Several APDUs sent in one transaction' })),
    shareMode: Type.Optional(ShareMode),
    protocol: Type.Optional(Protocol),
  },
  { additionalProperties: false },
);
export type TransmitBody = Static<typeof TransmitBody>;

export const SessionOpenBody = Type.Object(
  {
    reader: Type.String({ minLength: 1, maxLength: 256 }),
    shareMode: Type.Optional(ShareMode),
    protocol: Type.Optional(Protocol),
  },
  { additionalProperties: false },
);
export type SessionOpenBody = Static<typeof SessionOpenBody>;

export const SessionParams = Type.Object({ id: Type.String({ minLength: 1, maxLength: 64, pattern: '^[A-Za-z0-9_-]+$' }) });
export type SessionParams = Static<typeof SessionParams>;

export const SessionTransmitBody = Type.Object({ apdu: Hex('Command APDU in hex') }, { additionalProperties: false });
export type SessionTransmitBody = Static<typeof SessionTransmitBody>;

export const ControlBody = Type.Object(
  {
    code: Type.Integer({ minimum: 0, maximum: 0xffffffff, description: 'IOCTL control code (SCARD_CTL_CODE(n) = 0x42000000 + n)' }),
    data: Type.Optional(Hex('Input bytes in hex', 2 * 4096)),
  },
  { additionalProperties: false },
);
export type ControlBody = Static<typeof ControlBody>;

/** The card spec is the sim driver's own schema (one source of truth for card models). */
export const SimulateInsertBody = Type.Object({ card: Type.Optional(SimCardSpec) }, { additionalProperties: false });
export type SimulateInsertBody = Static<typeof SimulateInsertBody>;

export const FeedbackBody = Type.Object(
  {
    led: Type.Optional(Type.Union(['off', 'on', 'green', 'red', 'blink'].map((l) => Type.Literal(l)))),
    buzzer: Type.Optional(Type.Object({ ms: Type.Integer({ minimum: 1, maximum: 5000 }), count: Type.Optional(Type.Integer({ minimum: 1, maximum: 10 })) }, { additionalProperties: false })),
  },
  { additionalProperties: false },
);
export type FeedbackBody = Static<typeof FeedbackBody>;

export const EventsQuery = Type.Object(
  {
    after: Type.Optional(Type.Integer({ minimum: 0, description: 'Only events with seq > after' })),
    limit: Type.Optional(Type.Integer({ minimum: 1, maximum: 1000, default: 100 })),
  },
  { additionalProperties: false },
);
export type EventsQuery = Static<typeof EventsQuery>;

export const LogsQuery = Type.Object(
  {
    after: Type.Optional(Type.Integer({ minimum: -1 })),
    limit: Type.Optional(Type.Integer({ minimum: 1, maximum: 5000, default: 200 })),
  },
  { additionalProperties: false },
);
export type LogsQuery = Static<typeof LogsQuery>;

export const ConfigPutBody = Type.Object({ yaml: Type.String({ maxLength: 1024 * 1024 }) }, { additionalProperties: false });
export type ConfigPutBody = Static<typeof ConfigPutBody>;
