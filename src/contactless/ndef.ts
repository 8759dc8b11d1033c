/**
 * NDEF on NFC Forum Type 2 tags (MIFARE Ultralight, NTAG21x) and on MIFARE
 * Classic (MAD), read through PC/SC part 3 pseudo-APDUs so it works on every
 * contactless reader: the layout facts are in docs/pn532.md §12-§14.
 *
 * Records come out as type / id / payload, the payload also decoded where its
 * type says how: well-known Text ("T": language + text) and URI ("U": prefix
 * code + rest); anything else as hex.
 */

/** One NDEF record as events carry it. */
export interface NdefRecord {
  /** TNF name: empty, well-known, media, absolute-uri, external, unknown, unchanged. */
  tnf: string;
  /** Record type as text (e.g. "T", "U", "text/plain"). */
  type: string;
  id?: string;
  /** Decoded payload for Text and URI records. */
  text?: string;
  lang?: string;
  uri?: string;
  /** Payload bytes in hex (always). */
  payloadHex: string;
}

export class NdefError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'NdefError';
  }
}

const TNF = ['empty', 'well-known', 'media', 'absolute-uri', 'external', 'unknown', 'unchanged', 'reserved'];

/** URI identifier codes of the URI record type (NFC Forum RTD URI). */
export const URI_PREFIXES = [
  '', 'http://www.', 'https://www.', 'http://', 'https://', 'tel:', 'mailto:', 'ftp://anonymous:anonymous@', 'ftp://ftp.', 'ftps://', 'sftp://', 'smb://',
  'nfs://', 'ftp://', 'dav://', 'news:', 'telnet://', 'imap:', 'rtsp://', 'urn:', 'pop:', 'sip:', 'sips:', 'tftp:', 'btspp://', 'btl2cap://', 'btgoep://',
  'tcpobex://', 'irdaobex://', 'file://', 'urn:epc:id:', 'urn:epc:tag:', 'urn:epc:pat:', 'urn:epc:raw:', 'urn:epc:', 'urn:nfc:',
];

/** Decode an NDEF message (the value of an NDEF TLV). Throws NdefError naming what is wrong. */
export function parseNdefMessage(msg: Uint8Array): NdefRecord[] {
  const out: NdefRecord[] = [];
  let i = 0;
  let chunked: { rec: NdefRecord; parts: Buffer[] } | undefined;
  while (i < msg.length) {
    const hdr = msg[i++];
    const sr = (hdr & 0x10) !== 0;
    const il = (hdr & 0x08) !== 0;
    const cf = (hdr & 0x20) !== 0;
    const me = (hdr & 0x40) !== 0;
    const tnf = hdr & 0x07;
    const need = (n: number, what: string): void => {
      if (i + n > msg.length) throw new NdefError(`NDEF record ${out.length + 1}: ${what} runs past the end of the message`);
    };
    need(1, 'type length');
    const typeLen = msg[i++];
    need(sr ? 1 : 4, 'payload length');
    const payloadLen = sr ? msg[i++] : ((msg[i] << 24) | (msg[i + 1] << 16) | (msg[i + 2] << 8) | msg[i + 3]) >>> 0;
    if (!sr) i += 4;
    let idLen = 0;
    if (il) {
      need(1, 'id length');
      idLen = msg[i++];
    }
    need(typeLen, 'type');
    const type = Buffer.from(msg.subarray(i, i + typeLen));
    i += typeLen;
    need(idLen, 'id');
    const id = Buffer.from(msg.subarray(i, i + idLen));
    i += idLen;
    need(payloadLen, 'payload');
    const payload = Buffer.from(msg.subarray(i, i + payloadLen));
    i += payloadLen;
    if (chunked) {
      if (tnf !== 6) throw new NdefError('NDEF chunk continuation without TNF "unchanged"');
      chunked.parts.push(payload);
      if (!cf) {
        out.push(finish(chunked.rec, Buffer.concat(chunked.parts)));
        chunked = undefined;
      }
    } else {
      const rec: NdefRecord = { tnf: TNF[tnf], type: type.toString('latin1'), payloadHex: '' };
      if (idLen) rec.id = id.toString('latin1');
      if (cf) chunked = { rec, parts: [payload] };
      else out.push(finish(rec, payload));
    }
    if (me) break;
  }
  if (chunked) throw new NdefError('NDEF message ends inside a chunked record');
  return out;
}

function finish(rec: NdefRecord, payload: Buffer): NdefRecord {
  rec.payloadHex = payload.toString('hex').toUpperCase();
  if (rec.tnf === 'well-known' && rec.type === 'U' && payload.length >= 1) {
    rec.uri = (URI_PREFIXES[payload[0]] ?? '') + payload.subarray(1).toString('utf8');
  } else if (rec.tnf === 'well-known' && rec.type === 'T' && payload.length >= 1) {
    const status = payload[0];
    const langLen = status & 0x3f;
    rec.lang = payload.subarray(1, 1 + langLen).toString('ascii');
    const body = payload.subarray(1 + langLen);
    rec.text = status & 0x80 ? (body.length % 2 ? undefined : Buffer.from(body).swap16().toString('utf16le')) : body.toString('utf8');
  } else if (rec.tnf === 'absolute-uri') {
    rec.uri = rec.type;
  }
  return rec;
}

/** Encode records (tests, emulators, a future write path): Text, URI, or raw type/payload. */
export function encodeNdefMessage(records: ({ text: string; lang?: string } | { uri: string } | { tnf: number; type: string; payload: Uint8Array; id?: string })[]): Buffer {
  const parts: Buffer[] = [];
  records.forEach((r, k) => {
    let tnf: number;
    let type: Buffer;
    let payload: Buffer;
    let id = Buffer.alloc(0);
    if ('text' in r) {
      const lang = Buffer.from(r.lang ?? 'en', 'ascii');
      tnf = 1;
      type = Buffer.from('T');
      payload = Buffer.concat([Buffer.from([lang.length]), lang, Buffer.from(r.text, 'utf8')]);
    } else if ('uri' in r) {
      let code = 0;
      URI_PREFIXES.forEach((p, c) => {
        if (p && r.uri.startsWith(p) && p.length > URI_PREFIXES[code].length) code = c;
      });
      tnf = 1;
      type = Buffer.from('U');
      payload = Buffer.concat([Buffer.from([code]), Buffer.from(r.uri.slice(URI_PREFIXES[code].length), 'utf8')]);
    } else {
      tnf = r.tnf;
      type = Buffer.from(r.type, 'latin1');
      payload = Buffer.from(r.payload);
      if (r.id) id = Buffer.from(r.id, 'latin1');
    }
    const sr = payload.length < 256;
    const hdr = (k === 0 ? 0x80 : 0) | (k === records.length - 1 ? 0x40 : 0) | (sr ? 0x10 : 0) | (id.length ? 0x08 : 0) | tnf;
    const len = sr ? Buffer.from([payload.length]) : Buffer.from([payload.length >>> 24, (payload.length >> 16) & 0xff, (payload.length >> 8) & 0xff, payload.length & 0xff]);
    parts.push(Buffer.from([hdr, type.length]), len, id.length ? Buffer.from([id.length]) : Buffer.alloc(0), type, id, payload);
  });
  return Buffer.concat(parts);
}

/**
 * Walk the TLV blocks of a Type 2 data area (or the concatenated MIFARE
 * Classic NDEF sectors) and return the first NDEF message TLV's value, or
 * undefined when there is none (Terminator or end first). `more` says the
 * bytes given end before the TLV does (the caller reads on).
 */
export function findNdefTlv(area: Uint8Array): { message?: Buffer; more?: number } {
  let i = 0;
  while (i < area.length) {
    const t = area[i];
    if (t === 0x00) {
      i++;
      continue;
    }
    if (t === 0xfe) return {};
    if (i + 2 > area.length) return { more: i + 2 - area.length };
    let len = area[i + 1];
    let hdr = 2;
    if (len === 0xff) {
      if (i + 4 > area.length) return { more: i + 4 - area.length };
      len = (area[i + 2] << 8) | area[i + 3];
      hdr = 4;
    }
    if (t === 0x03) {
      if (i + hdr + len > area.length) return { more: i + hdr + len - area.length };
      return { message: Buffer.from(area.subarray(i + hdr, i + hdr + len)) };
    }
    i += hdr + len;
  }
  return {};
}

/** Home Assistant companion app tags: https://www.home-assistant.io/tag/<id> (docs/pn532.md §14). */
const HA_TAG = /^https:\/\/www\.home-assistant\.io\/tag\/([^/?#\s]+)$/;

/** The Home Assistant tag id in a tag's records, if a URI record carries one. */
export function homeAssistantTagId(records: NdefRecord[]): string | undefined {
  for (const r of records) {
    const m = r.uri ? HA_TAG.exec(r.uri) : null;
    if (m) return decodeURIComponent(m[1]);
  }
  return undefined;
}

/** Sends one APDU, resolves with the response (data + SW1 SW2). */
export type ApduFn = (apdu: Buffer) => Promise<Buffer>;

const sw = (r: Buffer): number => (r.length >= 2 ? (r[r.length - 2] << 8) | r[r.length - 1] : 0);
const readBinary = async (tx: ApduFn, block: number, le: number, what: string): Promise<Buffer> => {
  const r = await tx(Buffer.from([0xff, 0xb0, (block >> 8) & 0xff, block & 0xff, le]));
  if (sw(r) !== 0x9000) throw new NdefError(`${what}: READ BINARY block ${block} answered ${sw(r).toString(16).padStart(4, '0')}`);
  return r.subarray(0, r.length - 2);
};

/** Largest Type 2 NDEF area read (NTAG216 user memory is 872 bytes). */
const MAX_AREA = 1024;

/** NDEF message of a Type 2 tag: Capability Container at page 3, data area from page 4. Undefined: not NDEF formatted. */
export async function readType2Ndef(tx: ApduFn): Promise<Buffer | undefined> {
  const first = await readBinary(tx, 3, 16, 'Type 2 CC');
  if (first[0] !== 0xe1) return undefined; // no NDEF magic number
  const size = Math.min(first[2] * 8, MAX_AREA);
  let area = Buffer.from(first.subarray(4));
  let page = 7;
  for (;;) {
    const f = findNdefTlv(area.subarray(0, size));
    if (f.message) return f.message;
    if (!f.more || area.length >= size) return undefined;
    area = Buffer.concat([area, await readBinary(tx, page, 16, 'Type 2 data area')]);
    page += 4;
  }
}

/** MAD key A and the NFC Forum public key A of NDEF sectors (docs/pn532.md §13). */
const MAD_KEY = Buffer.from('A0A1A2A3A4A5', 'hex');
const NDEF_KEY = Buffer.from('D3F7D3F7D3F7', 'hex');
const NDEF_AID = 0x03e1;

/** CRC-8 of a MAD (polynomial 0x1D, preset 0xC7) over all its bytes but the CRC: 31 for the MAD1, 47 for the MAD2. */
export function madCrc(bytes: Uint8Array): number {
  let crc = 0xc7;
  for (const b of bytes) {
    crc ^= b;
    for (let k = 0; k < 8; k++) crc = crc & 0x80 ? ((crc << 1) ^ 0x1d) & 0xff : (crc << 1) & 0xff;
  }
  return crc;
}

/** First block and number of data blocks of a MIFARE Classic sector: 4K sectors 32-39 have 15 + trailer (docs/pn532.md §13). */
const classicSector = (s: number): { first: number; data: number } => (s < 32 ? { first: s * 4, data: 3 } : { first: 128 + (s - 32) * 16, data: 15 });

/** The sectors a MAD marks NDEF (AID 03E1): `mad` is CRC, info, then one little-endian AID per sector from `firstSector` on. */
function ndefSectors(mad: Buffer, firstSector: number): number[] {
  const out: number[] = [];
  for (let k = 0; 2 + 2 * k + 1 < mad.length; k++) if ((mad[2 + 2 * k] | (mad[3 + 2 * k] << 8)) === NDEF_AID) out.push(firstSector + k);
  return out;
}

export interface ClassicNdef {
  /** The NDEF message TLV's value; absent: no MAD, no NDEF sector, no NDEF TLV, or the message is cut. */
  message?: Buffer;
  /** Why sectors 17-39 of a 4K were not read although the message goes on there (its MAD2 is not valid). */
  mad2Error?: string;
}

/**
 * NDEF message of a MIFARE Classic 1K/4K: the sectors the MAD1 (sector 0)
 * marks NDEF, then on a 4K whose general purpose byte says MAD version 2 those
 * the MAD2 (sector 16) marks. The MAD2 is read only when the message goes on
 * past the MAD1's sectors; a MAD2 that fails its CRC (or refuses the MAD key)
 * stops the read at sector 15 and is reported, not thrown.
 */
export async function readClassicNdef(tx: ApduFn, fourK = false): Promise<ClassicNdef> {
  const auth = async (block: number, slot: number): Promise<boolean> =>
    sw(await tx(Buffer.from([0xff, 0x86, 0x00, 0x00, 0x05, 0x01, 0x00, block, 0x60, slot]))) === 0x9000;
  const load = async (key: Buffer, slot: number): Promise<void> => {
    const r = await tx(Buffer.concat([Buffer.from([0xff, 0x82, 0x00, slot, 0x06]), key]));
    if (sw(r) !== 0x9000) throw new NdefError(`LOAD KEYS answered ${sw(r).toString(16)}`);
  };
  const readBlocks = async (first: number, count: number, what: string): Promise<Buffer> => {
    const parts: Buffer[] = [];
    for (let b = first; b < first + count; b++) parts.push(await readBinary(tx, b, 16, what));
    return Buffer.concat(parts);
  };
  await load(MAD_KEY, 0);
  await load(NDEF_KEY, 1);
  if (!(await auth(1, 0))) return {}; // no MAD key: not NFC formatted
  const mad1 = await readBlocks(1, 2, 'MAD');
  if (madCrc(mad1.subarray(1)) !== mad1[0]) throw new NdefError('MAD CRC mismatch');
  // A 4K has a MAD2 when the general purpose byte (sector 0 trailer, byte 9) says MAD version 2; reading a trailer never fails.
  const hasMad2 = fourK && ((await readBlocks(3, 1, 'MAD trailer'))[9] & 0x03) === 0x02;

  let area = Buffer.alloc(0);
  /** Read on through `sectors`: the result, or undefined when the TLV goes on past them. */
  const readOn = async (sectors: number[]): Promise<ClassicNdef | undefined> => {
    for (const s of sectors) {
      const { first, data } = classicSector(s);
      if (!(await auth(first, 1))) throw new NdefError(`NDEF sector ${s}: public key A refused`);
      for (let b = 0; b < data; b++) area = Buffer.concat([area, await readBinary(tx, first + b, 16, `NDEF sector ${s}`)]);
      const f = findNdefTlv(area);
      if (f.message) return { message: f.message };
      if (!f.more) return {};
    }
    return undefined;
  };
  const fromMad1 = await readOn(ndefSectors(mad1, 1));
  if (fromMad1) return fromMad1;
  if (!hasMad2) return {};
  if (!(await auth(64, 0))) return { mad2Error: 'MAD2 (sector 16) refused the MAD key: sectors 17-39 not read' };
  const mad2 = await readBlocks(64, 3, 'MAD2');
  if (madCrc(mad2.subarray(1)) !== mad2[0]) return { mad2Error: 'MAD2 CRC mismatch: sectors 17-39 not read' };
  return (await readOn(ndefSectors(mad2, 17))) ?? {};
}

/** Card types whose NDEF this module reads. */
export function ndefFamily(cardType: string | null | undefined): 'type2' | 'classic' | undefined {
  if (!cardType) return undefined;
  if (cardType === 'mifare-ultralight' || cardType.startsWith('ntag')) return 'type2';
  if (cardType === 'mifare-classic-1k' || cardType === 'mifare-classic-4k') return 'classic';
  return undefined;
}
