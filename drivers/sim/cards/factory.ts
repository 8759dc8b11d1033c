/** createCard: the one entry point from a serialisable spec to a card model. */
import { CARD_TYPES, CardSpecError, type CardType, type SimCard } from './card.js';
import { Iso14443Card, Iso7816Card } from './iso7816-card.js';
import { MifareClassicCard } from './mifare-classic.js';
import { MifareUltralightCard } from './mifare-ultralight.js';
import { NtagCard } from './ntag.js';

/** A card spec: `type` picks the model, the other keys are the model's options (see README / drivers/sim/config.ts). */
export type CardSpec = { type: CardType } & Record<string, unknown>;

/**
 * Validate a spec and build the card. A string is taken as `{type: <string>}`.
 * Throws CardSpecError (a PcscError with SCARD_E_INVALID_PARAMETER) naming the
 * faulty field.
 */
export function createCard(spec: unknown): SimCard {
  if (typeof spec === 'string') spec = { type: spec };
  if (typeof spec !== 'object' || spec === null || Array.isArray(spec)) {
    throw new CardSpecError(`expected an object with a "type" (one of ${CARD_TYPES.join(', ')}), got ${spec === null ? 'null' : Array.isArray(spec) ? 'an array' : typeof spec}`);
  }
  const s = spec as Record<string, unknown>;
  if (typeof s.type !== 'string' || !(CARD_TYPES as readonly string[]).includes(s.type)) {
    throw new CardSpecError(`type must be one of ${CARD_TYPES.join(', ')}, got ${JSON.stringify(s.type)}`);
  }
  const type = s.type as CardType;
  switch (type) {
    case 'iso7816':
    case 'iso7816-t0':
    case 'iso7816-t1-tpdu':
      return new Iso7816Card({ ...s, type });
    case 'iso14443-4':
      return new Iso14443Card({ ...s, type });
    case 'mifare-classic-1k':
    case 'mifare-classic-4k':
      return new MifareClassicCard({ ...s, type });
    case 'mifare-ultralight':
      return new MifareUltralightCard({ ...s, type });
    case 'ntag213':
    case 'ntag215':
    case 'ntag216':
      return new NtagCard({ ...s, type });
  }
}
