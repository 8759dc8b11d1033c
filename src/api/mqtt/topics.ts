/**
 * The whole MQTT API of a gateway in one file: every topic under
 * `<baseTopic>/<gatewayId>/`, its payload type, retain/QoS, and the request
 * methods with their parameter schemas. The MQTT frontend, the README and the
 * web UI's live channel all read it; nothing else spells a topic.
 *
 *   availability                      "online" | "offline"          retained, QoS 1, last will
 *   info                              GatewayInfo                   retained, QoS 1
 *   readers                           ReadersList                   retained, QoS 1
 *   reader/<readerId>/state           ReaderState                   retained, QoS 1 (empty payload = reader gone)
 *   events                            GatewayEvent                  QoS 1, not retained, from the durable outbox
 *   request/<method>                  Request<method>               in
 *   response/<method>                 Response                      QoS 1, not retained (MQTT 5: to the request's response topic)
 *   response                          Response                      the same, for a request topic without a usable method (`request/`)
 */
import { Type, type Static, type TSchema } from '@sinclair/typebox';
import type { GatewayEvent } from '../../events/types.js';

export type { GatewayEvent };

/** The fixed topic names below `<baseTopic>/<gatewayId>/`. */
export const TOPIC = {
  availability: 'availability',
  info: 'info',
  readers: 'readers',
  events: 'events',
  request: 'request',
  response: 'response',
} as const;

/** Topic builders for one gateway. */
export function topicsFor(baseTopic: string, gatewayId: string) {
  const root = `${baseTopic}/${gatewayId}`;
  return {
    root,
    availability: `${root}/${TOPIC.availability}`,
    info: `${root}/${TOPIC.info}`,
    readers: `${root}/${TOPIC.readers}`,
    readerState: (readerId: string) => `${root}/reader/${readerId}/state`,
    events: `${root}/${TOPIC.events}`,
    request: (method: string) => `${root}/${TOPIC.request}/${method}`,
    requestWildcard: `${root}/${TOPIC.request}/#`,
    response: (method: string) => `${root}/${TOPIC.response}/${method}`,
    /** Answers to a request whose method makes no topic (`request/`, `request/a//b`): a `response/#` subscriber gets them too. */
    responseNoMethod: `${root}/${TOPIC.response}`,
  };
}
export type GatewayTopics = ReturnType<typeof topicsFor>;

/** A topic level that is safe to publish: no `+`, `#`, `/`, NUL, control characters, spaces; never empty. */
export function topicSegment(name: string): string {
  const s = name
    .normalize('NFKD')
    .replace(/[^A-Za-z0-9._-]+/g, '_')
    .replace(/_+/g, '_')
    .replace(/^[_.]+|_+$/g, '');
  return s.length ? s.slice(0, 96) : 'reader';
}

/** True when `topic` may be published (no wildcards, no empty level, no NUL). */
export function isPublishableTopic(topic: string): boolean {
  if (!topic.length || topic.includes('+') || topic.includes('#') || topic.includes('\u0000')) return false;
  return topic.split('/').every((level) => level.length > 0);
}

export type Availability = 'online' | 'offline';

export type ReaderPresence = 'present' | 'empty' | 'mute' | 'unavailable';

export interface ReaderState {
  /** Full pcscd-style reader name. */
  reader: string;
  /** The topic segment of this reader. */
  readerId: string;
  state: ReaderPresence;
  /** Hex, empty when no card. */
  atr: string | null;
  /** Contactless UID, hex, UID0 first. */
  uid: string | null;
  protocol: string | null;
  cardType: string | null;
  /** ISO 8601 time the state last changed. */
  since: string;
  driver: string;
  capabilities: { feedback: boolean; simulate: boolean; contactless: boolean };
}

export interface ReadersList {
  readers: Array<{ reader: string; readerId: string; state: ReaderPresence; driver: string }>;
}

export interface GatewayInfo {
  gatewayId: string;
  version: string;
  startedAt: string;
  uptimeS: number;
  readers: number;
  broker: { url: string; connected: boolean; protocolVersion: 4 | 5; retainAvailable: boolean | null };
  outbox: { depth: number; lastSeq: number; ackSeq: number; dropped: number; refused: number; diskBytes: number; policy: string };
  /** Time of this message. */
  time: string;
}

/** Every response: Zigbee2MQTT's shape; `transaction` echoes the request's. */
export type Response<T = unknown> =
  | { status: 'ok'; data: T; transaction?: string | number }
  | { status: 'error'; data: Record<string, never> | { code: number; name: string }; error: string; transaction?: string | number };

// --- request methods -------------------------------------------------------------------------

const Hex = Type.String({ format: 'hex', minLength: 1, maxLength: 2 * 65544 + 1024, description: 'Bytes as hex, e.g. "00 A4 04 00 00".' });
const ApduHex = Type.String({ format: 'apdu', maxLength: 2 * 65544 + 1024, description: 'A command APDU in hex.' });
const ReaderRef = Type.String({ minLength: 1, maxLength: 512, description: 'Reader name or its topic segment (readerId).' });
/** Longest `transaction` string echoed back; a longer one is refused and not echoed. */
export const TRANSACTION_MAX_LENGTH = 256;
const Transaction = Type.Optional(Type.Union([Type.String({ maxLength: TRANSACTION_MAX_LENGTH }), Type.Number()]));
/** A string enum as JSON Schema `enum` (one clear error: "must be one of ..."). */
const Enum = <T extends string>(values: readonly T[], opts: { default?: T; description?: string } = {}) =>
  Type.Unsafe<T>({ type: 'string', enum: [...values], ...opts });
const ShareMode = Type.Optional(Enum(['shared', 'exclusive', 'direct'] as const, { default: 'shared' }));
const Protocols = Type.Optional(Enum(['T0', 'T1', 'any', 'raw'] as const, { default: 'any' }));
const Disposition = Type.Optional(Enum(['leave', 'reset', 'unpower', 'eject'] as const, { default: 'leave' }));

const req = <P extends Record<string, TSchema>>(props: P) => Type.Object({ ...props, transaction: Transaction }, { additionalProperties: false });

/** Request parameter schemas by method; the request topic is `request/<method>`. */
export const REQUESTS = {
  /** The readers list (same as the retained `readers`). */
  readers: req({}),
  /** One reader's state (same as its retained state). */
  'reader/status': req({ reader: ReaderRef }),
  /** Gateway info (same as the retained `info`). */
  info: req({}),
  /** Recent events from memory (the outbox keeps the rest until acknowledged). */
  events: req({ afterSeq: Type.Optional(Type.Integer({ minimum: 0 })), limit: Type.Optional(Type.Integer({ minimum: 1, maximum: 1000 })) }),
  /** Connect, run the APDUs inside one transaction, disconnect. */
  transmit: req({
    reader: ReaderRef,
    apdus: Type.Array(ApduHex, { minItems: 1, maxItems: 64 }),
    shareMode: ShareMode,
    protocol: Protocols,
    /** Stop at the first response whose SW is not 9000/61xx. */
    stopOnError: Type.Optional(Type.Boolean({ default: false })),
  }),
  /** Open a session: a connected handle kept for `leaseMs` after the last use. */
  'session/open': req({
    reader: ReaderRef,
    leaseMs: Type.Optional(Type.Integer({ minimum: 100, maximum: 3600000 })),
    shareMode: ShareMode,
    protocol: Protocols,
    holdTransaction: Type.Optional(Type.Boolean({ description: 'Hold a PC/SC transaction for the whole session (exclusive use of a shared card).' })),
  }),
  'session/transmit': req({ session: Type.String({ minLength: 1, maxLength: 64 }), apdus: Type.Array(ApduHex, { minItems: 1, maxItems: 64 }) }),
  'session/close': req({ session: Type.String({ minLength: 1, maxLength: 64 }), disposition: Disposition }),
  /** SCardControl: IOCTL `code` with `data` on a reader (direct connection, no card needed). */
  control: req({
    reader: ReaderRef,
    code: Type.Integer({ minimum: 0, maximum: 0xffffffff }),
    data: Type.Optional(Type.Union([Hex, Type.Literal('')])),
  }),
  /** SCardControl on an open session's handle (the reader is busy with the session's transaction). */
  'session/control': req({
    session: Type.String({ minLength: 1, maxLength: 64 }),
    code: Type.Integer({ minimum: 0, maximum: 0xffffffff }),
    data: Type.Optional(Type.Union([Hex, Type.Literal('')])),
  }),
  /** LED / buzzer where the reader has them. */
  feedback: req({
    reader: ReaderRef,
    led: Type.Optional(Enum(['off', 'on', 'green', 'red', 'blink'] as const)),
    buzzer: Type.Optional(Type.Object({ ms: Type.Integer({ minimum: 1, maximum: 10000 }), count: Type.Optional(Type.Integer({ minimum: 1, maximum: 20 })) }, { additionalProperties: false })),
  }),
  /** Simulated card insertion on readers that support it (sim driver). */
  /** `card`: a sim card spec (model name or object, see drivers/sim); default an ISO 7816 card. */
  'simulate/insert': req({ reader: ReaderRef, card: Type.Optional(Type.Union([Type.String({ minLength: 1, maxLength: 64 }), Type.Record(Type.String(), Type.Unknown())])) }),
  'simulate/remove': req({ reader: ReaderRef }),
} as const;

export type Method = keyof typeof REQUESTS;
export type RequestOf<M extends Method> = Static<(typeof REQUESTS)[M]>;
export const METHODS = Object.keys(REQUESTS) as Method[];

/** One APDU's answer in transmit / session/transmit responses. */
export interface ApduResult {
  /** The command as sent (secret-bearing data redacted). */
  apdu: string;
  /** Full response (data + SW) in hex; data redacted for secret-bearing commands. */
  response: string;
  /** Response data without SW. */
  data: string;
  sw: string;
  swText: string;
  ok: boolean;
}

export interface TransmitResult {
  reader: string;
  protocol: string | null;
  atr: string;
  responses: ApduResult[];
}

export interface SessionOpened {
  session: string;
  reader: string;
  protocol: string | null;
  atr: string;
  leaseMs: number;
  expiresAt: string;
}

/** Response data type per method. */
export interface ResponseData {
  readers: ReadersList;
  'reader/status': ReaderState;
  info: GatewayInfo;
  events: { events: GatewayEvent[] };
  transmit: TransmitResult;
  'session/open': SessionOpened;
  'session/transmit': { session: string; responses: ApduResult[]; expiresAt: string };
  'session/close': { session: string };
  control: { response: string };
  'session/control': { session: string; response: string; expiresAt: string };
  feedback: Record<string, never>;
  'simulate/insert': Record<string, never>;
  'simulate/remove': Record<string, never>;
}

/** Every Home Assistant tag config of one gateway (to clear them when discovery is turned off). */
export const haTagConfigWildcard = (prefix: string, gatewayId: string): string => `${prefix}/tag/${topicSegment(`scardgate_${gatewayId}`)}/+/config`;

/** Home Assistant tag scanner discovery: `<prefix>/tag/<nodeId>/<objectId>/config`. */
export const haTagConfigTopic = (prefix: string, gatewayId: string, readerId: string): string =>
  `${prefix}/tag/${topicSegment(`scardgate_${gatewayId}`)}/${topicSegment(readerId)}/config`;
