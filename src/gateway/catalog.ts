/**
 * Every operation of the gateway: its name (the MQTT method and the control
 * channel command carry the same name), the token scope it needs, and the
 * schema of its parameters. Frontends look operations up here; none of them
 * validates parameters on its own (src/gateway/validate.ts does, for all).
 */
import { Type, type Static, type TSchema } from '@sinclair/typebox';
import { DISPOSITIONS, PIN_PATTERN, PROTOCOLS, SHARE_MODES } from './vocabulary.js';

/** What a token may do: read (look), transmit (drive cards and readers), admin (configuration, tokens, diagnostics). */
export type Scope = 'read' | 'transmit' | 'admin';
export const SCOPES: readonly Scope[] = ['read', 'transmit', 'admin'];

const Hex = Type.String({ format: 'hex', maxLength: 2 * 65544 + 1024, description: 'Bytes as hex, e.g. "00 A4 04 00 00".' });
const Apdu = Type.String({ format: 'apdu', maxLength: 2 * 65544 + 1024, description: 'A command APDU in hex.' });
const Apdus = Type.Array(Apdu, { minItems: 1, maxItems: 64, description: 'Command APDUs in hex, sent in one transaction.' });
const ReaderRef = Type.String({ minLength: 1, maxLength: 512, description: 'Reader: full name, id, 1-based number, or a unique part of the name.' });
const SessionId = Type.String({ minLength: 1, maxLength: 64, description: 'Session id from session/open.' });
const CardId = Type.String({ minLength: 1, maxLength: 64, description: 'Card identifier (UUID) from cache/card.' });
const CacheName = Type.String({ minLength: 1, maxLength: 256, description: 'Lookup name of a cache entry.' });
const Freshness = Type.Integer({ minimum: 0, description: "The card's freshness counter the caller knows (stale otherwise)." });
/** A string enum as JSON Schema `enum` (one clear error: "must be one of ..."). */
const Enum = <T extends string>(values: readonly T[], description: string) => Type.Unsafe<T>({ type: 'string', enum: [...values], description });
const ShareMode = Type.Optional(Enum(SHARE_MODES, 'PC/SC share mode (default shared).'));
const Protocol = Type.Optional(Enum(PROTOCOLS, 'Preferred protocol (default any = T=0 or T=1).'));
const Code = Type.Integer({ minimum: 0, maximum: 0xffffffff, description: 'IOCTL control code (SCARD_CTL_CODE(n) = 0x42000000 + n).' });
const Scopes = Type.Array(Enum(SCOPES, 'Token scope.'), { minItems: 1, maxItems: 3, uniqueItems: true });

const params = <P extends Record<string, TSchema>>(props: P) => Type.Object(props, { additionalProperties: false });

interface Def<S extends TSchema = TSchema> {
  scope: Scope;
  summary: string;
  params: S;
}
const def = <S extends TSchema>(scope: Scope, summary: string, p: S): Def<S> => ({ scope, summary, params: p });

export const OPERATIONS = {
  readers: def('read', 'List readers.', params({})),
  'reader/status': def('read', 'One reader.', params({ reader: ReaderRef })),
  info: def('read', 'Gateway identity, uptime, event outbox, broker.', params({})),
  events: def(
    'read',
    'Recorded events after a sequence number.',
    params({ afterSeq: Type.Optional(Type.Integer({ minimum: 0 })), limit: Type.Optional(Type.Integer({ minimum: 1, maximum: 1000 })) }),
  ),
  transmit: def(
    'transmit',
    'Connect, send the APDUs in one transaction, disconnect.',
    params({ reader: ReaderRef, apdus: Apdus, shareMode: ShareMode, protocol: Protocol, stopOnError: Type.Optional(Type.Boolean({ description: 'Stop at the first status word that is not a success.' })) }),
  ),
  'session/open': def(
    'transmit',
    'Open a session: a card kept connected (and in a transaction) across requests, for leaseMs after its last use.',
    params({
      reader: ReaderRef,
      shareMode: ShareMode,
      protocol: Protocol,
      leaseMs: Type.Optional(Type.Integer({ minimum: 100, maximum: 3600000 })),
      holdTransaction: Type.Optional(Type.Boolean({ description: 'Hold a PC/SC transaction for the whole session (default true).' })),
    }),
  ),
  'session/transmit': def('transmit', "APDUs on an open session's card.", params({ session: SessionId, apdus: Apdus })),
  'session/control': def('transmit', "SCardControl on an open session's handle.", params({ session: SessionId, code: Code, data: Type.Optional(Hex) })),
  'session/close': def(
    'transmit',
    'Close a session; the card is reset unless disposition says otherwise.',
    params({ session: SessionId, disposition: Type.Optional(Enum(DISPOSITIONS, 'What happens to the card (default reset).')) }),
  ),
  control: def('transmit', 'SCardControl on a reader (direct connection, no card needed).', params({ reader: ReaderRef, code: Code, data: Type.Optional(Hex) })),
  feedback: def(
    'transmit',
    'LED and buzzer, where the reader has them.',
    params({
      reader: ReaderRef,
      led: Type.Optional(Enum(['off', 'on', 'green', 'red', 'blink'] as const, 'LED state.')),
      buzzer: Type.Optional(Type.Object({ ms: Type.Integer({ minimum: 1, maximum: 5000 }), count: Type.Optional(Type.Integer({ minimum: 1, maximum: 10 })) }, { additionalProperties: false })),
    }),
  ),
  'simulate/insert': def(
    'transmit',
    'Insert a simulated card (readers with the simulate capability).',
    params({ reader: ReaderRef, card: Type.Optional(Type.Union([Type.String({ minLength: 1, maxLength: 64 }), Type.Record(Type.String(), Type.Unknown())], { description: 'Card model name or spec (default iso7816).' })) }),
  ),
  'simulate/remove': def('transmit', 'Remove the simulated card (an empty reader is an error).', params({ reader: ReaderRef })),
  // The PIN is a secret: its field is "pin", which the logger redacts (src/log/redact.ts), and no message quotes it.
  'simulate/pinpad': def(
    'transmit',
    "Type on a reader's emulated PIN pad (capability pinpad): the PIN then OK, or Cancel, for the prompt of a VERIFY/MODIFY_PIN_DIRECT.",
    params({
      reader: ReaderRef,
      pin: Type.Optional(Type.String({ pattern: PIN_PATTERN, description: 'The digits typed, then OK (1 to 16 of 0-9).' })),
      cancel: Type.Optional(Type.Literal(true, { description: 'Press Cancel instead.' })),
      waitMs: Type.Optional(Type.Integer({ minimum: 0, maximum: 120000, description: 'How long to wait for the reader to prompt (default 10000); keys typed with no prompt are not kept.' })),
    }),
  ),
  // The Smart Card data cache (src/core/data-cache.ts, README "Smart Card data cache"): the card by cardId or by the reader it is in.
  'cache/card': def('read', "The identifier and freshness counter of the card in a reader (the data cache's key).", params({ reader: ReaderRef })),
  'cache/read': def(
    'read',
    "An entry of a card's data cache (SCardReadCache).",
    params({ cardId: Type.Optional(CardId), reader: Type.Optional(ReaderRef), name: CacheName, freshness: Type.Optional(Freshness) }),
  ),
  'cache/write': def(
    'transmit',
    "Store an entry in a card's data cache (SCardWriteCache).",
    params({ cardId: Type.Optional(CardId), reader: Type.Optional(ReaderRef), name: CacheName, data: Hex, freshness: Type.Optional(Freshness) }),
  ),
  'cache/remove': def(
    'transmit',
    "Drop one entry of a card's data cache, or all of them without a name.",
    params({ cardId: Type.Optional(CardId), reader: Type.Optional(ReaderRef), name: Type.Optional(CacheName) }),
  ),
  'cache/list': def('read', 'Data cache entries (names and sizes, no data) and counters.', params({ cardId: Type.Optional(CardId), reader: Type.Optional(ReaderRef) })),
  health: def('read', "Health at a glance: per reader state, uptime, exchanges and errors by PC/SC code, last error, link retries, firmware; per gateway MQTT link, outbox, event rate, CPU, memory, disk; events per minute per reader over the last hour.", params({})),
  diagnostics: def('admin', 'Internal state of every part.', params({})),
  'config/get': def('admin', 'The configuration file and the running configuration, secrets masked.', params({})),
  'config/validate': def('admin', 'Check an edited configuration file without applying it.', params({ yaml: Type.String({ maxLength: 1024 * 1024 }) })),
  'config/apply': def('admin', 'Validate, save and apply an edited configuration file.', params({ yaml: Type.String({ maxLength: 1024 * 1024 }) })),
  // Guided reader set-up (reader-setup.ts): what the board offers, and a live probe of a candidate reader.
  'setup/devices': def('admin', "The board's serial ports, I2C buses and USB CCID devices, the drivers that take readers, the emulated CCID readers and profiles.", params({})),
  'setup/probe': def(
    'admin',
    "Start a candidate reader's driver on its own for a moment: firmware, PC/SC names (CCID), then optionally a test tap.",
    params({
      driver: Type.String({ pattern: '^[a-z0-9]{1,32}$', description: 'Driver of the candidate reader (setup/devices lists them).' }),
      reader: Type.Record(Type.String(), Type.Unknown(), { description: "The candidate: an item of the driver's reader list; for CCID { usbId } or a drivers.ccid.emulate entry." }),
      tapWaitMs: Type.Optional(Type.Integer({ minimum: 0, maximum: 30000, description: 'Wait this long for a card after the reader answers (0 = firmware only).' })),
      testCard: Type.Optional(Type.Unknown({ description: 'Emulated CCID readers only: a card (drivers/sim spec) inserted on the emulator for the test tap.' })),
    }),
  ),
  'tokens/list': def('admin', 'API tokens (never the token text).', params({})),
  'tokens/create': def('admin', 'Create an API token; its text is in this answer only.', params({ name: Type.String({ minLength: 1, maxLength: 64 }), scopes: Type.Optional(Scopes) })),
  'tokens/revoke': def('admin', 'Revoke an API token by name or id.', params({ name: Type.String({ minLength: 1, maxLength: 64 }) })),
} as const;

export type Operation = keyof typeof OPERATIONS;
export type ParamsOf<O extends Operation> = Static<(typeof OPERATIONS)[O]['params']>;
export const OPERATION_NAMES = Object.keys(OPERATIONS) as Operation[];

export const isOperation = (name: string): name is Operation => Object.hasOwn(OPERATIONS, name);

/** May a caller holding `scopes` run `op`? admin implies transmit implies read. */
export function allowed(op: Operation, scopes: readonly Scope[]): boolean {
  const need = SCOPES.indexOf(OPERATIONS[op].scope);
  return scopes.some((s) => SCOPES.indexOf(s) >= need);
}
