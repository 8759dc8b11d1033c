import { Type, type Static } from '@sinclair/typebox';

const Hex16 = (description: string) => Type.Optional(Type.String({ pattern: '^[0-9A-Fa-f]{32}$', description }));

export const OsdpCpReaderConfig = Type.Object(
  {
    address: Type.Integer({ minimum: 0, maximum: 126, description: 'The reader\'s OSDP address on the bus (0-126; set on the reader, often with DIP switches or the vendor tool).' }),
    name: Type.String({ minLength: 1, maxLength: 100, default: 'OSDP Reader', description: 'Friendly name (PC/SC reader name prefix).' }),
    secure: Type.Boolean({ default: true, description: 'Talk to this reader over the Secure Channel (AES-128). Off only for readers without it.' }),
    scbk: Hex16('The reader\'s Secure Channel Base Key, 32 hex digits (keep the config file 0600). Without it the SCBK-D install key is used, which is not secure.'),
    installKey: Type.Boolean({
      default: false,
      description: 'Commissioning: when the reader refuses scbk, open a session with SCBK-D (a reader fresh from the factory in install mode) and install scbk with osdp_KEYSET.',
    }),
    cardHoldMs: Type.Integer({ minimum: 50, maximum: 60000, default: 500, description: 'A card read counts as a card present for this long (PC/SC clients see it inserted, then removed).' }),
  },
  { additionalProperties: false },
);

export const OsdpCpBusConfig = Type.Object(
  {
    path: Type.String({ minLength: 1, description: 'Serial device of the RS-485 adapter, e.g. /dev/ttyUSB0.' }),
    baudRate: Type.Union([9600, 19200, 38400, 57600, 115200, 230400].map((b) => Type.Literal(b)), { default: 9600, description: 'Line speed, 8N1 (the readers must be set to the same).' }),
    pollIntervalMs: Type.Integer({ minimum: 0, maximum: 10000, default: 50, description: 'Pause between two rounds of osdp_POLL over the readers of this bus.' }),
    replyTimeoutMs: Type.Integer({ minimum: 20, maximum: 2000, default: 200, description: 'How long a reader has to answer (200 ms in the standard; the packets\' wire time is added).' }),
    retries: Type.Integer({ minimum: 0, maximum: 10, default: 2, description: 'Same-bytes retransmissions of a command whose reply is missing or damaged.' }),
    offlineAfterMs: Type.Integer({ minimum: 100, maximum: 600000, default: 8000, description: 'A reader with no valid reply for this long becomes unavailable; it is retried and comes back by itself.' }),
    reconnectMs: Type.Integer({ minimum: 50, maximum: 600000, default: 1000, description: 'How often an unavailable reader is tried again.' }),
    trace: Type.Boolean({ default: false, description: 'Log every packet of this bus (log level info; keys never shown).' }),
    traceCardData: Type.Boolean({ default: false, description: 'With trace: show card numbers and keypad digits instead of their length.' }),
    readers: Type.Array(OsdpCpReaderConfig, { minItems: 1, description: 'The OSDP readers (PDs) on this bus.' }),
  },
  { additionalProperties: false },
);

/** drivers.osdp: OSDP readers on RS-485 buses, the gateway as control panel (owned by drivers/osdp). */
export const OsdpCpConfig = Type.Object(
  {
    buses: Type.Array(OsdpCpBusConfig, { default: [], description: 'RS-485 buses with OSDP readers (see README "OSDP").' }),
  },
  { additionalProperties: false, default: {} },
);

export type OsdpCpConfigT = Static<typeof OsdpCpConfig>;
export type OsdpCpBusConfigT = Static<typeof OsdpCpBusConfig>;
export type OsdpCpReaderConfigT = Static<typeof OsdpCpReaderConfig>;
