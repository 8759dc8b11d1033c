/**
 * A MIFARE Classic 1K/4K card spec (drivers/sim/cards) formatted for NDEF as
 * docs/pn532.md §13 describes: MAD1 in sector 0 and, on a 4K, MAD2 in sector
 * 16 (both under the MAD key A, general purpose byte saying the MAD version),
 * the NDEF TLV written through the data blocks of `sectors` in order under the
 * NFC Forum public key A. Works for the sim reader and the PN532 emulator alike.
 */
import { madCrc } from '../../src/contactless/ndef.js';
import { trailerOf } from '../../drivers/sim/cards/index.js';

export interface ClassicNdefLayout {
  type: 'mifare-classic-1k' | 'mifare-classic-4k';
  uid: string;
  /** The NDEF message (encodeNdefMessage). */
  message: Buffer;
  /** NDEF sectors, in the order the TLV runs through them (never 0 or 16). */
  sectors: number[];
  /** Flip a bit of the MAD2's CRC byte. */
  corruptMad2Crc?: boolean;
  /** Other applications' ids for sectors that are not NDEF (sector -> AID). */
  otherAids?: Record<number, number>;
}

const first = (s: number): number => (s < 32 ? s * 4 : 128 + (s - 32) * 16);
const dataBlocks = (s: number): number => (s < 32 ? 3 : 15);
/** Key A, access bits, general purpose byte, key B (AN10787: MAD sectors 78 77 88, NDEF sectors 7F 07 88 with GPB 40). */
const trailer = (keyA: string, access: string, gpb: number): string => `${keyA}${access}${gpb.toString(16).padStart(2, '0')}FFFFFFFFFFFF`;

export function classicNdefSpec(l: ClassicNdefLayout): Record<string, unknown> {
  const k4 = l.type === 'mifare-classic-4k';
  const blocks: Record<number, string> = {};
  const put = (block: number, bytes: Buffer): void => {
    blocks[block] = bytes.toString('hex');
  };
  const mad1 = Buffer.alloc(32); // CRC, info (0: no card publisher sector), AIDs of sectors 1-15
  const mad2 = Buffer.alloc(48); // CRC, info, AIDs of sectors 17-39
  for (const [k, aid] of Object.entries(l.otherAids ?? {})) {
    const s = Number(k);
    if (l.sectors.includes(s) || s === 0 || s === 16 || s > (k4 ? 39 : 15)) throw new Error(`sector ${s} cannot hold another application here`);
    const [mad, at] = s < 16 ? [mad1, 2 + 2 * (s - 1)] : [mad2, 2 + 2 * (s - 17)];
    mad.writeUInt16LE(aid, at);
  }
  for (const s of l.sectors) {
    if (s === 0 || s === 16 || s > (k4 ? 39 : 15)) throw new Error(`sector ${s} cannot hold NDEF on a ${l.type}`);
    const [mad, at] = s < 16 ? [mad1, 2 + 2 * (s - 1)] : [mad2, 2 + 2 * (s - 17)];
    mad[at] = 0xe1; // AID 03E1, little-endian
    mad[at + 1] = 0x03;
  }
  mad1[0] = madCrc(mad1.subarray(1));
  mad2[0] = madCrc(mad2.subarray(1)) ^ (l.corruptMad2Crc ? 0x01 : 0);
  put(1, mad1.subarray(0, 16));
  put(2, mad1.subarray(16));
  blocks[3] = trailer('A0A1A2A3A4A5', '787788', k4 ? 0xc2 : 0xc1);
  if (k4) {
    for (let b = 0; b < 3; b++) put(64 + b, mad2.subarray(16 * b, 16 * b + 16));
    blocks[trailerOf(16)] = trailer('A0A1A2A3A4A5', '787788', 0xc2);
  }
  const len = l.message.length;
  const tlv = Buffer.concat([Buffer.from(len < 0xff ? [0x03, len] : [0x03, 0xff, len >> 8, len & 0xff]), l.message, Buffer.from([0xfe])]);
  let at = 0;
  for (const s of l.sectors) {
    for (let b = 0; b < dataBlocks(s); b++, at += 16) {
      const block = Buffer.alloc(16);
      tlv.copy(block, 0, Math.min(at, tlv.length), Math.min(at + 16, tlv.length));
      put(first(s) + b, block);
    }
    blocks[trailerOf(s)] = trailer('D3F7D3F7D3F7', '7F0788', 0x40);
  }
  if (at < tlv.length) throw new Error(`an NDEF TLV of ${tlv.length} bytes does not fit in sectors ${l.sectors.join(', ')}`);
  return { type: l.type, uid: l.uid, blocks };
}
