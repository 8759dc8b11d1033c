import { Type, type Static } from '@sinclair/typebox';

/** One APDU of a card profile. */
export const ProfileApdu = Type.Object(
  {
    name: Type.String({ minLength: 1, maxLength: 64, description: 'Key of this result in card.inserted data.profile.results.' }),
    apdu: Type.String({ minLength: 8, maxLength: 1024, description: 'Command APDU in hex, e.g. "FF CA 00 00 00".' }),
    secret: Type.Boolean({
      default: false,
      description: 'Hide the command data and the response data in events and logs (PIN, key). VERIFY / CHANGE REFERENCE DATA are always hidden.',
    }),
    cache: Type.Optional(
      Type.Boolean({
        description:
          "Keep a successful answer in the card's data cache: when every APDU of the profile is cached, the same card (fixed UID) tapped again is answered from the cache without card I/O, until a write command reaches it.",
      }),
    ),
    cacheSecret: Type.Optional(
      Type.Boolean({ description: 'Also cache this APDU when it or its answer carries secrets (never otherwise).' }),
    ),
  },
  { additionalProperties: false },
);

/** A card profile: which cards it applies to and which APDUs run when such a card appears. */
export const CardProfile = Type.Object(
  {
    name: Type.String({ minLength: 1, maxLength: 64 }),
    match: Type.Object(
      {
        contactless: Type.Optional(Type.Boolean({ description: 'Only contactless (true) or only contact (false) cards.' })),
        atrPrefix: Type.Optional(Type.String({ description: 'ATR must start with these bytes (hex).' })),
        reader: Type.Optional(Type.String({ description: 'Reader name must contain this text.' })),
      },
      { additionalProperties: false, default: {} },
    ),
    apdus: Type.Array(ProfileApdu, { minItems: 1, maxItems: 16 }),
  },
  { additionalProperties: false },
);

export const DEFAULT_PROFILES: Static<typeof CardProfile>[] = [
  { name: 'contactless-uid', match: { contactless: true }, apdus: [{ name: 'uid', apdu: 'FF CA 00 00 00', secret: false }] },
];

/** events: the gateway event pipeline and its durable outbox (owned by src/events). */
export const EventsConfig = Type.Object(
  {
    debounceMs: Type.Integer({
      minimum: 0,
      maximum: 60000,
      default: 500,
      description:
        'A card that leaves the field and comes back (same UID/ATR on the same reader) within this time is one tap: neither the removal nor the re-insertion is an event. 0 disables.',
    }),
    historySize: Type.Integer({ minimum: 0, maximum: 100000, default: 500, description: 'Recent events kept in memory for the HTTP API and web UI.' }),
    wiegandByteOrder: Type.Union([Type.Literal('lsb-first'), Type.Literal('msb-first')], {
      default: 'lsb-first',
      description:
        'How UID bytes become Wiegand numbers: lsb-first reads UID0..UID3 as a little-endian number (most MIFARE readers and printed card numbers), msb-first as big-endian.',
    }),
    ndef: Type.Boolean({
      default: true,
      description:
        'Read the NDEF message of Type 2 tags (Ultralight, NTAG21x) and MIFARE Classic (MAD, NFC Forum keys) after the card profile; card.inserted carries data.ndef.records and, for a Home Assistant tag URI, data.haTagId.',
    }),
    profileTimeoutMs: Type.Integer({ minimum: 50, maximum: 60000, default: 3000, description: 'Upper bound for running a card profile before card.inserted is recorded without the rest of its results.' }),
    profiles: Type.Array(CardProfile, {
      default: DEFAULT_PROFILES,
      description: 'Card profiles: APDUs run automatically when a matching card appears; results go into card.inserted. The first matching profile runs.',
    }),
    outbox: Type.Object(
      {
        maxBytes: Type.Integer({
          minimum: 65536,
          maximum: 4294967296,
          default: 16777216,
          description: 'Disk budget of the event outbox (segment files) while the broker is unreachable.',
        }),
        whenFull: Type.Union([Type.Literal('drop-oldest'), Type.Literal('refuse')], {
          default: 'drop-oldest',
          description: 'When the budget is reached or the file system is full: drop the oldest unsent events, or refuse new ones. Either way a counter says how many.',
        }),
        segmentBytes: Type.Integer({
          minimum: 4096,
          maximum: 268435456,
          default: 1048576,
          description: 'Size at which a new segment file is started (clamped to a quarter of maxBytes). Fully acknowledged segments are deleted.',
        }),
        commitDelayMs: Type.Integer({
          minimum: 0,
          maximum: 10000,
          default: 0,
          description: 'Extra wait before a group commit (write + fsync) to batch more events per flash write; 0 = commit at once, batching what arrived meanwhile.',
        }),
        fsync: Type.Boolean({ default: true, description: 'fdatasync every commit. Turning it off trades power-cut safety for flash wear.' }),
        ackFlushMs: Type.Integer({
          minimum: 0,
          maximum: 60000,
          default: 250,
          description:
            "How often the acknowledged position is written (fsync'ed only before acknowledged segments are deleted). After a power cut, events already acknowledged may be sent again (at least once; consumers drop a seq they saw).",
        }),
        memoryEvents: Type.Integer({ minimum: 64, maximum: 1000000, default: 4096, description: 'Unsent events kept in memory; older backlog is read back from the segment files.' }),
      },
      { additionalProperties: false, default: {} },
    ),
  },
  { additionalProperties: false, default: {} },
);

export type EventsConfigT = Static<typeof EventsConfig>;
export type CardProfileT = Static<typeof CardProfile>;
export type OutboxConfigT = Static<typeof EventsConfig.properties.outbox>;
