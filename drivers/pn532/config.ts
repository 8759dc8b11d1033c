import { Type } from '@sinclair/typebox';

/** drivers.pn532: PN532 NFC modules (owned by drivers/pn532). */
export const Pn532Config = Type.Object(
  {
    readers: Type.Array(Type.Unknown(), { default: [], description: 'PN532 modules (see README).' }),
  },
  { additionalProperties: false, default: {} },
);
