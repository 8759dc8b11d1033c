/**
 * What every simulated card model offers, whoever hosts it: the sim driver,
 * the PN532 emulator (through its contactless face), the fast vicc card of
 * the benchmarks. No dependency on any driver, so each emulator can reuse it.
 */
import type { CardInfo } from '../../../src/driver/contract.js';
import { SCARD } from '../../../src/pcsc/constants.js';
import { PcscError } from '../../../src/pcsc/error.js';

/** Card model names a spec may ask for. */
export const CARD_TYPES = [
  'iso7816',
  'iso7816-t0',
  'iso7816-t1-tpdu',
  'iso14443-4',
  'mifare-classic-1k',
  'mifare-classic-4k',
  'mifare-ultralight',
  'ntag213',
  'ntag215',
  'ntag216',
] as const;
export type CardType = (typeof CARD_TYPES)[number];

/**
 * How the host must talk to the card:
 * - 'apdu': whole command APDUs in, whole responses out (T=1 contact cards, ISO 14443-4);
 * - 'tpdu-t0': T=0 TPDUs (header + P3 [+ data]); the host runs GET RESPONSE / 6Cxx;
 * - 'tpdu-t1': T=1 blocks through `exchangeBlock`; the host runs the T=1 block protocol;
 * - 'storage': no APDUs at all; native memory operations (MIFARE), reached through PC/SC part 3.
 */
export type CardInterface = 'apdu' | 'tpdu-t0' | 'tpdu-t1' | 'storage';

export interface SimCard {
  readonly type: CardType;
  /** The spec the card was made from, with defaults filled in (serialisable; JSON round-trips). */
  readonly spec: Readonly<Record<string, unknown>> & { type: CardType };
  /** The ATR a reader returns for this card (contact ATR, or the PC/SC part 3 synthesised one for contactless cards). */
  readonly atr: Buffer;
  /** PROTOCOL.* bitmask the card offers. */
  readonly protocols: number;
  readonly info: CardInfo;
  readonly interface: CardInterface;
  /**
   * One exchange, synchronous and without latency: a command APDU (interface
   * 'apdu') or a T=0 TPDU ('tpdu-t0') in, response bytes ending in SW1 SW2 out.
   * Never throws: malformed input gets a status word (67 00...).
   * Storage cards answer 6E 00 here; use their native operations.
   */
  process(command: Buffer): Buffer;
  /**
   * T=1 TPDU cards ('tpdu-t1'): one block in, one block out (src/iso7816/t1-card.ts);
   * an empty result means the card stayed silent (block waiting time expired).
   */
  exchangeBlock?(block: Buffer): Promise<Buffer>;
  /** Power cycle / warm reset: volatile state (selection, PIN verification, authentication) is lost, memory is kept. */
  reset(): void;
}

/** A spec that createCard refuses; the message names the field and what was expected. */
export class CardSpecError extends PcscError {
  constructor(detail: string) {
    super(SCARD.E_INVALID_PARAMETER, `card spec: ${detail}`);
    this.name = 'CardSpecError';
  }
}

/** Response bytes from data and SW. */
export function resp(data: Uint8Array | undefined, sw: number): Buffer {
  if (!data || data.length === 0) return Buffer.from([(sw >> 8) & 0xff, sw & 0xff]);
  const out = Buffer.allocUnsafe(data.length + 2);
  out.set(data, 0);
  out[data.length] = (sw >> 8) & 0xff;
  out[data.length + 1] = sw & 0xff;
  return out;
}

export const SW = {
  OK: 0x9000,
  EOF_WARNING: 0x6282,
  WRONG_LENGTH: 0x6700,
  LOGICAL_CHANNEL_UNSUPPORTED: 0x6881,
  SM_UNSUPPORTED: 0x6882,
  CHAINING_UNSUPPORTED: 0x6884,
  INCOMPATIBLE_FILE: 0x6981,
  SECURITY_NOT_SATISFIED: 0x6982,
  AUTH_BLOCKED: 0x6983,
  CONDITIONS_NOT_SATISFIED: 0x6985,
  NO_CURRENT_EF: 0x6986,
  WRONG_DATA: 0x6a80,
  FUNC_NOT_SUPPORTED: 0x6a81,
  FILE_NOT_FOUND: 0x6a82,
  WRONG_P1P2: 0x6a86,
  REF_DATA_NOT_FOUND: 0x6a88,
  WRONG_OFFSET: 0x6b00,
  INS_UNSUPPORTED: 0x6d00,
  CLA_UNSUPPORTED: 0x6e00,
  FAILED: 0x6300,
  MEMORY_FAILURE: 0x6581,
} as const;
