import { Type } from '@sinclair/typebox';

/** drivers.sim: simulated readers (owned by drivers/sim). */
export const SimConfig = Type.Object(
  {
    readers: Type.Array(
      Type.Object(
        {
          name: Type.String({ minLength: 1, maxLength: 100, description: 'Friendly name of the simulated reader.' }),
          card: Type.Optional(Type.Unknown({ description: 'Card present at start (a card spec, see README).' })),
        },
        { additionalProperties: false },
      ),
      { default: [], description: 'Simulated readers.' },
    ),
  },
  { additionalProperties: false, default: {} },
);
