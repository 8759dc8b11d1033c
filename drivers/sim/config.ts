import { Type } from '@sinclair/typebox';
import { CARD_TYPES } from './cards/card.js';

const CardType = Type.Union(
  CARD_TYPES.map((t) => Type.Literal(t)),
  { description: 'Card model.' },
);

/**
 * A card spec: a model name, or an object with `type` and that model's options.
 * The model-specific keys are checked by drivers/sim/cards createCard when the
 * driver starts, with errors naming the key.
 */
export const SimCardSpec = Type.Union(
  [
    CardType,
    Type.Object(
      {
        type: CardType,
        uid: Type.Optional(Type.String({ description: 'Contactless UID, hex (4 or 7 bytes; 10 for ISO 14443-4).' })),
        atr: Type.Optional(Type.String({ description: 'Contact cards: ATR override, hex.' })),
        ats: Type.Optional(Type.String({ description: 'ISO 14443-4: ATS without TL, hex.' })),
        pins: Type.Optional(Type.Array(Type.Object({ ref: Type.Integer(), pin: Type.String() }, { additionalProperties: true }), { description: 'ISO 7816 cards: PINs [{ref, pin, tries?, puk?, pukTries?}] (default: ref 0x81 "1234", 3 tries, PUK "12345678").' })),
      },
      { additionalProperties: true, description: 'Card spec object; other keys depend on the model (files, serial, dataObjects, blocks, keys, pages...).' },
    ),
  ],
  { description: 'A card: a model name (iso7816, iso7816-t0, iso14443-4, mifare-classic-1k, mifare-classic-4k, mifare-ultralight) or a spec object.' },
);

/** drivers.sim: simulated readers (owned by drivers/sim). */
export const SimConfig = Type.Object(
  {
    readers: Type.Array(
      Type.Object(
        {
          name: Type.String({ minLength: 1, maxLength: 100, description: 'Friendly name of the simulated reader.' }),
          card: Type.Optional(SimCardSpec),
        },
        { additionalProperties: false },
      ),
      { default: [], description: 'Simulated readers.' },
    ),
  },
  { additionalProperties: false, default: {} },
);
