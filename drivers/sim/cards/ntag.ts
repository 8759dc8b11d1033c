/**
 * NXP NTAG213 / NTAG215 / NTAG216 (NFC Forum Type 2 tags) memory model
 * (docs/pn532.md §10): 4-byte pages; pages 0-2 hold the 7-byte UID, its check
 * bytes and the static lock bytes, page 3 the Capability Container (one-time
 * programmable), user memory from page 4, then the dynamic lock bytes and the
 * configuration pages. GET_VERSION names the product; READ returns 4 pages
 * and rolls over to page 0 after the last one; WRITE writes one page.
 * A spec may pre-load an NDEF message (written as an NDEF TLV at page 4).
 */
import type { CardInfo } from '../../../src/driver/contract.js';
import { buildContactlessAtr } from '../../../src/iso7816/atr.js';
import { PROTOCOL } from '../../../src/pcsc/constants.js';
import { CardSpecError, resp, SW, type CardType, type SimCard } from './card.js';
import type { MifareResult } from './mifare-classic.js';
import { checkKeys, hexField, hexString } from './spec-fields.js';

export type NtagType = 'ntag213' | 'ntag215' | 'ntag216';

/** Per product: total pages, CC size byte (user bytes / 8), GET_VERSION storage size byte. */
export const NTAG_GEOMETRY: Record<NtagType, { pages: number; ccSize: number; versionSize: number }> = {
  ntag213: { pages: 45, ccSize: 0x12, versionSize: 0x0f },
  ntag215: { pages: 135, ccSize: 0x3e, versionSize: 0x11 },
  ntag216: { pages: 231, ccSize: 0x6d, versionSize: 0x13 },
};

const NTAG_KEYS = ['type', 'uid', 'ndef'];
export const DEFAULT_NTAG_UID = Buffer.from([0x04, 0x4e, 0x54, 0x41, 0x47, 0x32, 0x31]);

export class NtagCard implements SimCard {
  readonly type: CardType;
  readonly spec: Readonly<Record<string, unknown>> & { type: CardType };
  /** PC/SC part 3 names no NTAG: the Ultralight card name (00 03), as readers commonly report these tags. */
  readonly atr = buildContactlessAtr(0x03, 0x0003);
  readonly protocols = PROTOCOL.T0 | PROTOCOL.T1;
  readonly info: CardInfo;
  readonly interface = 'storage' as const;
  readonly uid: Buffer;
  readonly pages: number;
  readonly memory: Buffer;
  readonly version: Buffer;

  constructor(spec: Record<string, unknown> & { type: NtagType }) {
    checkKeys(spec, NTAG_KEYS);
    const g = NTAG_GEOMETRY[spec.type];
    this.type = spec.type;
    this.pages = g.pages;
    this.memory = Buffer.alloc(g.pages * 4);
    this.version = Buffer.from([0x00, 0x04, 0x04, 0x02, 0x01, 0x00, g.versionSize, 0x03]);
    this.uid = hexField(spec, 'uid', [7]) ?? DEFAULT_NTAG_UID;
    const u = this.uid;
    const m = this.memory;
    m[0] = u[0];
    m[1] = u[1];
    m[2] = u[2];
    m[3] = 0x88 ^ u[0] ^ u[1] ^ u[2];
    u.copy(m, 4, 3, 7);
    m[8] = u[3] ^ u[4] ^ u[5] ^ u[6];
    m[9] = 0x48;
    // Capability Container: NDEF magic E1, mapping version 1.0, data area size, read/write access
    Buffer.from([0xe1, 0x10, g.ccSize, 0x00]).copy(m, 12);
    const userEnd = (g.pages - 5) * 4;
    // an empty NDEF message TLV and the terminator, as a freshly formatted tag has
    Buffer.from([0x03, 0x00, 0xfe]).copy(m, 16);
    // CFG0: AUTH0 = FF (no password protection); CFG1 ACCESS 00
    m[(g.pages - 4) * 4 + 3] = 0xff;
    const ndef = hexField(spec, 'ndef', [0, userEnd - 16 - 5, 'range'] as [number, number, 'range']);
    if (ndef) {
      const tlv =
        ndef.length < 0xff
          ? Buffer.concat([Buffer.from([0x03, ndef.length]), ndef, Buffer.from([0xfe])])
          : Buffer.concat([Buffer.from([0x03, 0xff, ndef.length >> 8, ndef.length & 0xff]), ndef, Buffer.from([0xfe])]);
      if (16 + tlv.length > userEnd) throw new CardSpecError(`ndef: ${ndef.length} bytes do not fit the ${spec.type} user memory`);
      tlv.copy(m, 16);
    }
    this.info = { contactless: true, uid: this.uid, atqa: Buffer.from([0x00, 0x44]), sak: 0x00, type: this.type };
    this.spec = { ...spec, uid: hexString(this.uid), ...(ndef ? { ndef: hexString(ndef) } : {}) };
  }

  process(_command: Buffer): Buffer {
    return resp(undefined, SW.CLA_UNSUPPORTED);
  }

  reset(): void {}

  /** GET_VERSION (60): vendor 04 (NXP), type 04 (NTAG), subtype, version, storage size, protocol. */
  getVersion(): Buffer {
    return Buffer.from(this.version);
  }

  /** READ: 16 bytes from `page`, rolling over to page 0 after the last page; the password pages read as zeros. */
  read(page: number): MifareResult<Buffer> {
    if (!Number.isInteger(page) || page < 0 || page >= this.pages) return { ok: false, failure: 'no-such-block' };
    const out = Buffer.alloc(16);
    for (let i = 0; i < 4; i++) {
      const p = (page + i) % this.pages;
      if (p < this.pages - 2) this.memory.copy(out, i * 4, p * 4, p * 4 + 4);
    }
    return { ok: true, value: out };
  }

  /** WRITE one page: not the UID pages; the CC (page 3) only ORs bits in; static lock bits honoured for pages 3-15. */
  write(page: number, data: Uint8Array): MifareResult {
    if (!Number.isInteger(page) || page < 0 || page >= this.pages) return { ok: false, failure: 'no-such-block' };
    if (data.length !== 4) return { ok: false, failure: 'bad-value' };
    if (page < 2) return { ok: false, failure: 'access-denied' };
    const m = this.memory;
    if (page === 2) {
      m[10] |= data[2];
      m[11] |= data[3];
      return { ok: true, value: undefined };
    }
    const lock = page <= 7 ? (m[10] >> page) & 1 : page <= 15 ? (m[11] >> (page - 8)) & 1 : 0;
    if (lock) return { ok: false, failure: 'access-denied' };
    if (page === 3) {
      for (let i = 0; i < 4; i++) m[12 + i] |= data[i];
      return { ok: true, value: undefined };
    }
    Buffer.from(data).copy(m, page * 4);
    return { ok: true, value: undefined };
  }
}
