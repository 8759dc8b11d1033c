import { Type, type Static } from '@sinclair/typebox';
import { CARD_FORMATS } from '../../osdp/formats.js';

export const OsdpPdConfig = Type.Object(
  {
    address: Type.Integer({ minimum: 0, maximum: 126, description: 'OSDP address the panel polls for this door (0-126). A COMSET from the panel overrides it (kept in the state directory).' }),
    reader: Type.String({ minLength: 1, description: 'Gateway reader behind this address: its full name or the start of it (e.g. "Simulated Reader", "PN532 NFC").' }),
    format: Type.Union(CARD_FORMATS.map((f) => Type.Literal(f)), {
      default: 'wiegand26',
      description: 'What a card read sends in osdp_RAW: wiegand26 (H10301), wiegand34, wiegand37 (H10304), wiegand40, or uid (the UID bits). See docs/osdp.md §7.',
    }),
    byteOrder: Type.Union([Type.Literal('lsb-first'), Type.Literal('msb-first')], { default: 'lsb-first', description: 'UID0..3 read little-endian (lsb-first) or big-endian into the card number.' }),
    secureChannel: Type.Boolean({ default: true, description: 'Offer the Secure Channel (AES-128).' }),
    scbk: Type.Optional(
      Type.String({
        pattern: '^[0-9A-Fa-f]{32}$',
        description: 'Secure Channel Base Key, 32 hex digits. Without it the PD stays in install mode (SCBK-D) until the panel sends osdp_KEYSET; that key is stored in the state directory (0600).',
      }),
    ),
    enforceSecure: Type.Boolean({ default: false, description: 'Refuse SCBK-D (no install mode) and every command outside a secure session but ID/CAP and the handshake.' }),
  },
  { additionalProperties: false },
);

/** osdp: the gateway as OSDP reader(s) to an access panel (owned by src/api/osdp). */
export const OsdpConfig = Type.Object(
  {
    enabled: Type.Boolean({ default: false, description: 'Answer an access panel as OSDP PD(s) on a serial port.' }),
    path: Type.String({ minLength: 1, default: '/dev/ttyUSB0', description: 'Serial device of the RS-485 adapter wired to the panel.' }),
    baudRate: Type.Union([9600, 19200, 38400, 57600, 115200, 230400].map((b) => Type.Literal(b)), {
      default: 9600,
      description: 'Line speed, 8N1. A COMSET from the panel overrides it (kept in the state directory).',
    }),
    sessionTimeoutMs: Type.Integer({ minimum: 1000, maximum: 600000, default: 8000, description: 'A secure session with no valid secure command for this long ends.' }),
    vendorCode: Type.String({ pattern: '^[0-9A-Fa-f]{6}$', default: '000000', description: 'IEEE OUI reported in osdp_PDID (hex).' }),
    model: Type.Integer({ minimum: 0, maximum: 255, default: 1, description: 'Model number in osdp_PDID.' }),
    serial: Type.Integer({ minimum: 0, maximum: 4294967295, default: 1, description: 'Serial number in osdp_PDID (add the PD index for each further address).' }),
    trace: Type.Boolean({ default: false, description: 'Log every packet (log level info; keys never shown).' }),
    traceCardData: Type.Boolean({ default: false, description: 'With trace: show card numbers instead of their length.' }),
    pds: Type.Array(OsdpPdConfig, { default: [], description: 'One entry per door: OSDP address -> gateway reader.' }),
  },
  { additionalProperties: false, default: {} },
);

export type OsdpConfigT = Static<typeof OsdpConfig>;
export type OsdpPdConfigT = Static<typeof OsdpPdConfig>;
