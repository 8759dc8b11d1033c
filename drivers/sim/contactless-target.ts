/**
 * The sim reader's side of a contactless card: the part 3 layer's
 * ContactlessTarget over a card model, called directly (where the PN532
 * driver would go through InDataExchange). Like a reader, it selects a halted
 * card again before the next operation.
 */
import { ContactlessError, type ContactlessTarget, type KeyType } from '../../src/contactless/part3.js';
import { Iso14443Card, MifareClassicCard, MifareUltralightCard, NtagCard, type MifareResult, type SimCard } from './cards/index.js';

function unwrap<T>(r: MifareResult<T>): T {
  if (r.ok) return r.value;
  throw new ContactlessError(r.failure === 'halted' ? 'no-response' : r.failure);
}

export class CardTarget implements ContactlessTarget {
  readonly uid: Buffer;
  readonly ats?: Buffer;
  readonly storage?: { blockSize: number; readSize: number; needsAuth: boolean };
  authenticate?: (block: number, keyType: KeyType, key: Buffer) => Promise<void>;
  readBlock?: (block: number) => Promise<Buffer>;
  writeBlock?: (block: number, data: Buffer) => Promise<void>;
  transmit?: (apdu: Buffer) => Promise<Buffer>;

  private constructor(readonly card: SimCard) {
    this.uid = card.info.uid ?? Buffer.alloc(0);
    if (card instanceof Iso14443Card) {
      this.ats = card.ats;
      this.transmit = async (apdu) => card.process(apdu);
    } else if (card instanceof MifareClassicCard) {
      this.storage = { blockSize: 16, readSize: 16, needsAuth: true };
      const wake = (): void => {
        if (card.isHalted) card.select();
      };
      this.authenticate = async (block, keyType, key) => {
        wake();
        unwrap(card.authenticate(block, keyType, key));
      };
      this.readBlock = async (block) => {
        wake();
        return unwrap(card.read(block));
      };
      this.writeBlock = async (block, data) => {
        wake();
        unwrap(card.write(block, data));
      };
    } else if (card instanceof MifareUltralightCard || card instanceof NtagCard) {
      this.storage = { blockSize: 4, readSize: 16, needsAuth: false };
      this.readBlock = async (page) => unwrap(card.read(page));
      this.writeBlock = async (page, data) => unwrap(card.write(page, data));
    }
  }

  /** The target for a contactless card; undefined for contact cards (no part 3 layer). */
  static for(card: SimCard): CardTarget | undefined {
    return card.info.contactless ? new CardTarget(card) : undefined;
  }

  reset(): void {
    this.card.reset();
  }
}
