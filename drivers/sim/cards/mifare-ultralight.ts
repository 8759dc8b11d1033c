/**
 * MIFARE Ultralight (MF0ICU1) memory model: 16 pages of 4 bytes; pages 0-1
 * and byte 0 of page 2 hold the 7-byte UID and its check bytes, page 2 bytes
 * 2-3 the lock bits, page 3 the OTP area (bits only ever set). READ returns 4
 * pages (wrapping after page 15), WRITE one page.
 */
import type { CardInfo } from '../../../src/driver/contract.js';
import { buildContactlessAtr } from '../../../src/iso7816/atr.js';
import { PROTOCOL } from '../../../src/pcsc/constants.js';
import { resp, SW, type CardType, type SimCard } from './card.js';
import type { MifareResult } from './mifare-classic.js';
import { CardSpecError } from './card.js';
import { checkKeys, hexField, hexString } from './spec-fields.js';

export const ULTRALIGHT_PAGES = 16;
const UL_KEYS = ['type', 'uid', 'pages'];
export const DEFAULT_UL_UID = Buffer.from([0x04, 0x55, 0x4c, 0x53, 0x43, 0x47, 0x54]);

export class MifareUltralightCard implements SimCard {
  readonly type: CardType = 'mifare-ultralight';
  readonly spec: Readonly<Record<string, unknown>> & { type: CardType };
  readonly atr = buildContactlessAtr(0x03, 0x0003);
  /** The part 3 ATR offers T=0 and T=1; the reader answers the pseudo-APDUs either way. */
  readonly protocols = PROTOCOL.T0 | PROTOCOL.T1;
  readonly info: CardInfo;
  readonly interface = 'storage' as const;
  readonly uid: Buffer;
  readonly memory = Buffer.alloc(ULTRALIGHT_PAGES * 4);

  constructor(spec: Record<string, unknown> & { type: 'mifare-ultralight' }) {
    checkKeys(spec, UL_KEYS);
    this.uid = hexField(spec, 'uid', [7]) ?? DEFAULT_UL_UID;
    const u = this.uid;
    // Cascade tag 88 enters BCC0 (ISO 14443-3 double-size UID).
    const m = this.memory;
    m[0] = u[0];
    m[1] = u[1];
    m[2] = u[2];
    m[3] = 0x88 ^ u[0] ^ u[1] ^ u[2];
    u.copy(m, 4, 3, 7);
    m[8] = u[3] ^ u[4] ^ u[5] ^ u[6];
    m[9] = 0x48; // internal byte
    const pages = spec.pages;
    if (pages !== undefined) {
      if (typeof pages !== 'object' || pages === null || Array.isArray(pages)) throw new CardSpecError('pages must be an object {"<page 2..15>": "<8 hex digits>"}');
      for (const [k, v] of Object.entries(pages)) {
        const n = Number(k);
        if (!/^\d+$/.test(k) || n < 2 || n >= ULTRALIGHT_PAGES) throw new CardSpecError(`pages key "${k}" must be a page number 2..${ULTRALIGHT_PAGES - 1} (pages 0-1 hold the UID)`);
        const data = hexField({ [`pages.${k}`]: v }, `pages.${k}`, [4]) as Buffer;
        if (n === 2) data.copy(m, 10, 2, 4);
        else data.copy(m, n * 4);
      }
    }
    this.info = { contactless: true, uid: this.uid, atqa: Buffer.from([0x00, 0x44]), sak: 0x00, type: this.type };
    this.spec = { ...spec, uid: hexString(this.uid) };
  }

  process(_command: Buffer): Buffer {
    return resp(undefined, SW.CLA_UNSUPPORTED);
  }

  reset(): void {}

  /** READ: 16 bytes from `page`, rolling over to page 0 after page 15. */
  read(page: number): MifareResult<Buffer> {
    if (!Number.isInteger(page) || page < 0 || page >= ULTRALIGHT_PAGES) return { ok: false, failure: 'no-such-block' };
    const out = Buffer.alloc(16);
    for (let i = 0; i < 4; i++) this.memory.copy(out, i * 4, ((page + i) % ULTRALIGHT_PAGES) * 4, ((page + i) % ULTRALIGHT_PAGES) * 4 + 4);
    return { ok: true, value: out };
  }

  private pageLocked(page: number): boolean {
    const lock0 = this.memory[10];
    const lock1 = this.memory[11];
    if (page >= 3 && page <= 7) return ((lock0 >> page) & 1) === 1;
    if (page >= 8 && page <= 15) return ((lock1 >> (page - 8)) & 1) === 1;
    return false;
  }

  /** WRITE one page. Page 2 ORs the lock bytes (honouring block-lock bits), page 3 ORs the OTP bits. */
  write(page: number, data: Uint8Array): MifareResult {
    if (!Number.isInteger(page) || page < 0 || page >= ULTRALIGHT_PAGES) return { ok: false, failure: 'no-such-block' };
    if (data.length !== 4) return { ok: false, failure: 'bad-value' };
    if (page < 2) return { ok: false, failure: 'access-denied' };
    const m = this.memory;
    if (page === 2) {
      const lock0 = m[10];
      // Block-locking bits: bit 0 freezes the OTP lock bit (3), bit 1 the bits for pages 4-9, bit 2 those for 10-15.
      let allow0 = 0xff;
      let allow1 = 0xff;
      if (lock0 & 0x01) allow0 &= ~0x08;
      if (lock0 & 0x02) {
        allow0 &= ~0xf0;
        allow1 &= ~0x03;
      }
      if (lock0 & 0x04) allow1 &= ~0xfc;
      m[10] |= data[2] & allow0;
      m[11] |= data[3] & allow1;
      return { ok: true, value: undefined };
    }
    if (this.pageLocked(page)) return { ok: false, failure: 'access-denied' };
    if (page === 3) {
      for (let i = 0; i < 4; i++) m[12 + i] |= data[i];
      return { ok: true, value: undefined };
    }
    Buffer.from(data).copy(m, page * 4);
    return { ok: true, value: undefined };
  }
}
