/**
 * MIFARE Classic 1K / 4K memory model (NXP MF1S50 / MF1S70 §8.6-8.7,
 * docs/pn532.md §9): sectors, trailers with keys A/B and access bits, block 0
 * read-only, value blocks. Native operations only (authenticate, read, write,
 * increment/decrement/restore/transfer); APDUs reach it through PC/SC part 3.
 *
 * Errors follow the card: any failed operation leaves the card halted with its
 * authentication lost (the reader must select it again), as a real card
 * does after a NAK or a failed authentication.
 */
import type { CardInfo } from '../../../src/driver/contract.js';
import { buildContactlessAtr } from '../../../src/iso7816/atr.js';
import { PROTOCOL } from '../../../src/pcsc/constants.js';
import { CardSpecError, resp, SW, type CardType, type SimCard } from './card.js';
import { checkKeys, hexField, hexString } from './spec-fields.js';

export type KeyType = 'A' | 'B';

/** Why a native operation failed. */
export type MifareFailure =
  /** Key mismatch (PN532 status 14). */
  | 'auth-failed'
  /** Block outside the sector last authenticated, or nothing authenticated. */
  | 'not-authenticated'
  /** The access bits forbid it with the key used (or the sector's access bits are corrupt). */
  | 'access-denied'
  | 'no-such-block'
  /** Not a well-formed value block (value operations). */
  | 'bad-value'
  /** The card is halted after an earlier failure and does not answer until selected again. */
  | 'halted';

export type MifareResult<T = void> = { ok: true; value: T } | { ok: false; failure: MifareFailure };

export const TRANSPORT_TRAILER = Buffer.from('FFFFFFFFFFFFFF078069FFFFFFFFFFFF', 'hex');

/** Rights per key: '' none, 'A', 'B' or 'AB'. */
type Rights = '' | 'A' | 'B' | 'AB';
/** Data blocks, indexed by C1C2C3 (C1 as bit 2): read, write, increment, decrement/transfer/restore. */
const DATA_RIGHTS: ReadonlyArray<{ r: Rights; w: Rights; inc: Rights; dec: Rights }> = [
  { r: 'AB', w: 'AB', inc: 'AB', dec: 'AB' }, // 000 transport
  { r: 'AB', w: '', inc: '', dec: 'AB' }, // 001 value, non-rechargeable
  { r: 'AB', w: '', inc: '', dec: '' }, // 010
  { r: 'B', w: 'B', inc: '', dec: '' }, // 011
  { r: 'AB', w: 'B', inc: '', dec: '' }, // 100
  { r: 'B', w: '', inc: '', dec: '' }, // 101
  { r: 'AB', w: 'B', inc: 'B', dec: 'AB' }, // 110 value
  { r: '', w: '', inc: '', dec: '' }, // 111
];
/** Sector trailers, indexed by C1C2C3: key A write, access bits read/write, key B read/write (key A is never readable). */
const TRAILER_RIGHTS: ReadonlyArray<{ kaw: Rights; acr: Rights; acw: Rights; kbr: Rights; kbw: Rights }> = [
  { kaw: 'A', acr: 'A', acw: '', kbr: 'A', kbw: 'A' }, // 000
  { kaw: 'A', acr: 'A', acw: 'A', kbr: 'A', kbw: 'A' }, // 001 transport
  { kaw: '', acr: 'A', acw: '', kbr: 'A', kbw: '' }, // 010
  { kaw: 'B', acr: 'AB', acw: 'B', kbr: '', kbw: 'B' }, // 011
  { kaw: 'B', acr: 'AB', acw: '', kbr: '', kbw: 'B' }, // 100
  { kaw: '', acr: 'AB', acw: 'B', kbr: '', kbw: '' }, // 101
  { kaw: '', acr: 'AB', acw: '', kbr: '', kbw: '' }, // 110
  { kaw: '', acr: 'AB', acw: '', kbr: '', kbw: '' }, // 111
];

/** C1C2C3 of the 4 access groups (blocks 0,1,2 and trailer), or undefined when the inverted copies disagree. */
export function decodeAccessBits(b6: number, b7: number, b8: number): number[] | undefined {
  const out: number[] = [];
  for (let i = 0; i < 4; i++) {
    const c1 = (b7 >> (4 + i)) & 1;
    const c2 = (b8 >> i) & 1;
    const c3 = (b8 >> (4 + i)) & 1;
    if (((b6 >> i) & 1) === c1 || ((b6 >> (4 + i)) & 1) === c2 || ((b7 >> i) & 1) === c3) return undefined;
    out.push((c1 << 2) | (c2 << 1) | c3);
  }
  return out;
}

/** Access bytes 6..8 for the C1C2C3 values of groups 0..3. */
export function encodeAccessBits(groups: readonly number[]): Buffer {
  let b6 = 0;
  let b7 = 0;
  let b8 = 0;
  groups.forEach((g, i) => {
    const c1 = (g >> 2) & 1;
    const c2 = (g >> 1) & 1;
    const c3 = g & 1;
    b6 |= ((c1 ^ 1) << i) | ((c2 ^ 1) << (4 + i));
    b7 |= (c1 << (4 + i)) | ((c3 ^ 1) << i);
    b8 |= (c2 << i) | (c3 << (4 + i));
  });
  return Buffer.from([b6, b7, b8]);
}

const has = (rights: Rights, k: KeyType): boolean => rights.includes(k);

export interface ClassicGeometry {
  blocks: number;
  sectors: number;
}
export const GEOMETRY: Record<'1k' | '4k', ClassicGeometry> = {
  '1k': { blocks: 64, sectors: 16 },
  '4k': { blocks: 256, sectors: 40 },
};

export const sectorOf = (block: number): number => (block < 128 ? block >> 2 : 32 + ((block - 128) >> 4));
export const firstBlockOf = (sector: number): number => (sector < 32 ? sector * 4 : 128 + (sector - 32) * 16);
export const blocksIn = (sector: number): number => (sector < 32 ? 4 : 16);
export const trailerOf = (sector: number): number => firstBlockOf(sector) + blocksIn(sector) - 1;
/** Access group (0..2 data, 3 trailer) of a block; 16-block sectors group data blocks by five. */
function groupOf(block: number): number {
  const s = sectorOf(block);
  const i = block - firstBlockOf(s);
  if (i === blocksIn(s) - 1) return 3;
  return s < 32 ? i : Math.floor(i / 5);
}

const CLASSIC_KEYS = ['type', 'uid', 'atqa', 'sak', 'keyA', 'keyB', 'blocks'];
export const DEFAULT_UID_4 = Buffer.from([0x5c, 0xa7, 0xd6, 0x01]);

export class MifareClassicCard implements SimCard {
  readonly type: CardType;
  readonly spec: Readonly<Record<string, unknown>> & { type: CardType };
  readonly atr: Buffer;
  /** The part 3 ATR offers T=0 and T=1; the reader answers the pseudo-APDUs either way. */
  readonly protocols = PROTOCOL.T0 | PROTOCOL.T1;
  readonly info: CardInfo;
  readonly interface = 'storage' as const;
  readonly uid: Buffer;
  readonly geometry: ClassicGeometry;
  /** The memory, block by block (trailers hold the real keys). */
  readonly memory: Buffer;
  private authSector = -1;
  private authKey: KeyType = 'A';
  private halted = false;

  constructor(spec: Record<string, unknown> & { type: 'mifare-classic-1k' | 'mifare-classic-4k' }) {
    checkKeys(spec, CLASSIC_KEYS);
    this.type = spec.type;
    const k4 = spec.type === 'mifare-classic-4k';
    this.geometry = GEOMETRY[k4 ? '4k' : '1k'];
    this.uid = hexField(spec, 'uid', [4, 7]) ?? DEFAULT_UID_4;
    const atqa = hexField(spec, 'atqa', [2]) ?? Buffer.from([0x00, (this.uid.length === 7 ? 0x40 : 0x00) | (k4 ? 0x02 : 0x04)]);
    const sakV = spec.sak;
    if (sakV !== undefined && (!Number.isInteger(sakV) || (sakV as number) < 0 || (sakV as number) > 255)) throw new CardSpecError(`sak must be a byte 0..255, got ${JSON.stringify(sakV)}`);
    const sak = (sakV as number | undefined) ?? (k4 ? 0x18 : 0x08);
    const keyA = hexField(spec, 'keyA', [6]) ?? Buffer.alloc(6, 0xff);
    const keyB = hexField(spec, 'keyB', [6]) ?? Buffer.alloc(6, 0xff);

    this.memory = Buffer.alloc(this.geometry.blocks * 16);
    for (let s = 0; s < this.geometry.sectors; s++) {
      const t = this.block(trailerOf(s));
      TRANSPORT_TRAILER.copy(t);
      keyA.copy(t, 0);
      keyB.copy(t, 10);
    }
    // Block 0: UID, BCC (4-byte UIDs), SAK, ATQA stored LSB first, manufacturer data.
    const b0 = this.block(0);
    this.uid.copy(b0, 0);
    let p = this.uid.length;
    if (this.uid.length === 4) b0[p++] = this.uid[0] ^ this.uid[1] ^ this.uid[2] ^ this.uid[3];
    b0[p++] = sak;
    b0[p++] = atqa[1];
    b0[p++] = atqa[0];
    Buffer.from('scardgate').copy(b0, p, 0, 16 - p);

    const blocks = spec.blocks;
    if (blocks !== undefined) {
      if (typeof blocks !== 'object' || blocks === null || Array.isArray(blocks)) throw new CardSpecError('blocks must be an object {"<block number>": "<32 hex digits>"}');
      for (const [k, v] of Object.entries(blocks)) {
        const n = Number(k);
        if (!/^\d+$/.test(k) || n >= this.geometry.blocks) throw new CardSpecError(`blocks key "${k}" must be a block number 0..${this.geometry.blocks - 1}`);
        if (n === 0) throw new CardSpecError('blocks.0 is the manufacturer block; set uid/sak/atqa instead');
        const data = hexField({ [`blocks.${k}`]: v }, `blocks.${k}`, [16]) as Buffer;
        data.copy(this.block(n));
      }
    }
    this.atr = buildContactlessAtr(0x03, k4 ? 0x0002 : 0x0001);
    this.info = { contactless: true, uid: this.uid, atqa, sak, type: this.type };
    this.spec = { ...spec, uid: hexString(this.uid) };
  }

  private block(n: number): Buffer {
    return this.memory.subarray(n * 16, n * 16 + 16);
  }

  private trailerRow(sector: number): number[] | undefined {
    const t = this.block(trailerOf(sector));
    return decodeAccessBits(t[6], t[7], t[8]);
  }

  /** Storage cards take no APDUs. */
  process(_command: Buffer): Buffer {
    return resp(undefined, SW.CLA_UNSUPPORTED);
  }

  /** Field reset: authentication lost, card ready to be selected. */
  reset(): void {
    this.select();
  }

  /** REQA / anticollision / select: the card answers again, unauthenticated. */
  select(): void {
    this.halted = false;
    this.authSector = -1;
  }

  get isHalted(): boolean {
    return this.halted;
  }

  private fail<T>(failure: MifareFailure): MifareResult<T> {
    if (failure !== 'halted') {
      this.halted = true;
      this.authSector = -1;
    }
    return { ok: false, failure };
  }

  authenticate(block: number, keyType: KeyType, key: Uint8Array): MifareResult {
    if (this.halted) return { ok: false, failure: 'halted' };
    if (!Number.isInteger(block) || block < 0 || block >= this.geometry.blocks) return this.fail('no-such-block');
    const sector = sectorOf(block);
    const t = this.block(trailerOf(sector));
    const stored = keyType === 'A' ? t.subarray(0, 6) : t.subarray(10, 16);
    if (key.length !== 6 || !stored.equals(Buffer.from(key))) return this.fail('auth-failed');
    this.authSector = sector;
    this.authKey = keyType;
    return { ok: true, value: undefined };
  }

  /** Which key may act, or a failure: block in the authenticated sector, sane access bits, key B usable. */
  private gate(block: number): { sector: number; group: number; row: number; key: KeyType } | MifareFailure {
    if (!Number.isInteger(block) || block < 0 || block >= this.geometry.blocks) return 'no-such-block';
    const sector = sectorOf(block);
    if (sector !== this.authSector) return 'not-authenticated';
    const rows = this.trailerRow(sector);
    if (!rows) return 'access-denied';
    // With key B readable, key B is not a key: the card refuses everything after authenticating with it.
    if (this.authKey === 'B' && has(TRAILER_RIGHTS[rows[3]].kbr, 'A')) return 'access-denied';
    const group = groupOf(block);
    return { sector, group, row: rows[group], key: this.authKey };
  }

  read(block: number): MifareResult<Buffer> {
    if (this.halted) return { ok: false, failure: 'halted' };
    const g = this.gate(block);
    if (typeof g === 'string') return this.fail(g);
    const data = Buffer.from(this.block(block));
    if (g.group === 3) {
      const tr = TRAILER_RIGHTS[g.row];
      data.fill(0, 0, 6); // key A never readable
      if (!has(tr.acr, g.key)) data.fill(0, 6, 10);
      if (!has(tr.kbr, g.key)) data.fill(0, 10, 16);
      return { ok: true, value: data };
    }
    if (!has(DATA_RIGHTS[g.row].r, g.key)) return this.fail('access-denied');
    return { ok: true, value: data };
  }

  write(block: number, data: Uint8Array): MifareResult {
    if (this.halted) return { ok: false, failure: 'halted' };
    if (data.length !== 16) return this.fail('bad-value');
    const g = this.gate(block);
    if (typeof g === 'string') return this.fail(g);
    if (block === 0) return this.fail('access-denied');
    const target = this.block(block);
    if (g.group === 3) {
      const tr = TRAILER_RIGHTS[g.row];
      const ka = has(tr.kaw, g.key);
      const ac = has(tr.acw, g.key);
      const kb = has(tr.kbw, g.key);
      if (!ka && !ac && !kb) return this.fail('access-denied');
      // Only the parts the key may write change; the card writes the rest back as it was.
      if (ka) Buffer.from(data).copy(target, 0, 0, 6);
      if (ac) Buffer.from(data).copy(target, 6, 6, 10);
      if (kb) Buffer.from(data).copy(target, 10, 10, 16);
      return { ok: true, value: undefined };
    }
    if (!has(DATA_RIGHTS[g.row].w, g.key)) return this.fail('access-denied');
    Buffer.from(data).copy(target);
    return { ok: true, value: undefined };
  }

  // ---------------------------------------------------------- value blocks

  private transferBuffer: number | undefined;

  /** Value of a well-formed value block, or undefined. */
  static decodeValue(b: Buffer): number | undefined {
    const v = b.readInt32LE(0);
    if (b.readInt32LE(4) !== ~v || b.readInt32LE(8) !== v) return undefined;
    if (b[12] !== (~b[13] & 0xff) || b[12] !== b[14] || b[13] !== b[15]) return undefined;
    return v;
  }

  static encodeValue(value: number, address: number): Buffer {
    const b = Buffer.alloc(16);
    b.writeInt32LE(value, 0);
    b.writeInt32LE(~value, 4);
    b.writeInt32LE(value, 8);
    b[12] = address & 0xff;
    b[13] = ~address & 0xff;
    b[14] = address & 0xff;
    b[15] = ~address & 0xff;
    return b;
  }

  private valueOp(block: number, right: 'inc' | 'dec', f: (v: number) => number): MifareResult {
    if (this.halted) return { ok: false, failure: 'halted' };
    const g = this.gate(block);
    if (typeof g === 'string') return this.fail(g);
    if (g.group === 3 || !has(DATA_RIGHTS[g.row][right], g.key)) return this.fail('access-denied');
    const v = MifareClassicCard.decodeValue(this.block(block));
    if (v === undefined) return this.fail('bad-value');
    this.transferBuffer = f(v) | 0;
    return { ok: true, value: undefined };
  }

  increment(block: number, delta: number): MifareResult {
    return this.valueOp(block, 'inc', (v) => v + delta);
  }
  decrement(block: number, delta: number): MifareResult {
    return this.valueOp(block, 'dec', (v) => v - delta);
  }
  restore(block: number): MifareResult {
    return this.valueOp(block, 'dec', (v) => v);
  }
  /** Write the transfer buffer (from the last increment/decrement/restore) to a value block. */
  transfer(block: number): MifareResult {
    if (this.halted) return { ok: false, failure: 'halted' };
    const g = this.gate(block);
    if (typeof g === 'string') return this.fail(g);
    if (this.transferBuffer === undefined || g.group === 3 || !has(DATA_RIGHTS[g.row].dec, g.key)) return this.fail('access-denied');
    const addr = this.block(block)[12];
    MifareClassicCard.encodeValue(this.transferBuffer, addr).copy(this.block(block));
    this.transferBuffer = undefined;
    return { ok: true, value: undefined };
  }
}
