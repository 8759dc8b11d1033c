/**
 * ISO/IEC 7816-3 Answer-To-Reset parser, PC/SC Part 3 contactless ATR builder
 * and PPS request/response helpers (docs/iso7816.md §1, §2, §7).
 *
 * parseAtr never throws for a byte sequence that starts like an ATR: defects
 * (truncation, bad TCK, trailing bytes...) go to `errors`/`warnings`, so the core
 * can still decide what to do with a quirky card. Only hopeless input (empty,
 * not bytes, TS not 3B/3F) throws AtrError.
 */
import { parseHex, toHex, hexByte } from './hex.js';

export class AtrError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'AtrError';
  }
}

/** FI -> [Fi, fmax MHz]; undefined entries are RFU. */
export const FI_TABLE: ReadonlyArray<readonly [number, number] | undefined> = [
  [372, 4], [372, 5], [558, 6], [744, 8], [1116, 12], [1488, 16], [1860, 20], undefined,
  undefined, [512, 5], [768, 7.5], [1024, 10], [1536, 15], [2048, 20], undefined, undefined,
];
/** DI -> Di; undefined entries are RFU. */
export const DI_TABLE: ReadonlyArray<number | undefined> = [
  undefined, 1, 2, 4, 8, 16, 32, 64, 12, 20, undefined, undefined, undefined, undefined, undefined, undefined,
];

export const ATR_MAX_LENGTH = 33;

/** One group of interface bytes TAi TBi TCi TDi (i from 1). */
export interface AtrInterfaceGroup {
  i: number;
  ta?: number;
  tb?: number;
  tc?: number;
  td?: number;
  /** Protocol T announced by TDi (TDi & 0x0F), when TDi is present. */
  tdProtocol?: number;
  /** The T these bytes qualify: T of TD(i-1) (T=0 for i = 1,2 when global). */
  qualifies?: number;
}

export interface CompactTlv {
  tag: number;
  length: number;
  value: Buffer;
  name: string;
}

export interface ContactlessInfo {
  rid: Buffer;
  /** SS byte. */
  standard: number;
  standardName: string;
  /** NN NN as a 16-bit number. */
  cardName: number;
  cardNameText: string;
  rfu: Buffer;
}

export interface HistoricalBytes {
  category: number;
  categoryName: string;
  objects: CompactTlv[];
  /** Status indicator (category 00: last 3 bytes; category 80: tag 8). */
  status?: { lcs?: number; sw?: number };
  /** Category 10: DIR data reference. */
  dirDataReference?: number;
  /** PC/SC Part 3 contactless storage card (RID A0 00 00 03 06). */
  contactless?: ContactlessInfo;
}

export interface T1Parameters {
  ifsc: number;
  bwi: number;
  cwi: number;
  edc: 'lrc' | 'crc';
}

export interface ParsedAtr {
  bytes: Buffer;
  hex: string;
  ts: number;
  convention: 'direct' | 'inverse';
  t0: number;
  /** K: number of historical bytes announced by T0. */
  historicalCount: number;
  groups: AtrInterfaceGroup[];
  historical: Buffer;
  historicalInfo?: HistoricalBytes;
  /** TCK must be present when some TDi announces T other than 0. */
  tckRequired: boolean;
  tck?: number;
  /** undefined when no TCK is present. */
  tckValid?: boolean;
  /** Bytes after the expected end (a TCK on a T=0-only ATR, or garbage). */
  extraBytes: Buffer;
  /** FI/DI as offered by TA1 (default 1/1). */
  fi: number;
  di: number;
  /** Decoded Fi, Di and fmax (MHz); undefined when TA1 uses an RFU value. */
  Fi?: number;
  Di?: number;
  fmaxMHz?: number;
  /** TC1: extra guard time in etu (255 = minimum guard time). */
  n: number;
  /** TC2: T=0 waiting time integer (default 10). */
  wi: number;
  /** T=1 parameters from the first TA/TB/TC after a TD with T=1 (i >= 3), with defaults; undefined if T=1 is not offered. */
  t1?: T1Parameters;
  /** T=15 global: clock stop indicator (0..3) and class indicator (6 bits). */
  clockStop?: number;
  classIndicator?: number;
  /** Offered transmission protocols (T=15 excluded); [0] when no TD1. */
  protocols: number[];
  /** TA2 present: the card is in specific mode and only `specificProtocol` may be used. */
  specificMode: boolean;
  specificProtocol?: number;
  /** TA2 b8 = 0: the card could switch to negotiable mode after a warm reset. */
  canChangeMode?: boolean;
  /** TA2 b5 = 1: transmission parameters are implicit (TA1 does not apply). */
  implicitParameters?: boolean;
  /** The protocol to use without PPS (specific T, else T of TD1, else T=0). */
  defaultProtocol: number;
  /** Negotiable mode with TA1 other than 11: a PPS is needed to use the faster rate. */
  ppsUseful: boolean;
  errors: string[];
  warnings: string[];
}

const popcount4 = (y: number): number => ((y >> 0) & 1) + ((y >> 1) & 1) + ((y >> 2) & 1) + ((y >> 3) & 1);

const COMPACT_TAGS: Record<number, string> = {
  0x1: 'country code',
  0x2: 'issuer identification number',
  0x3: 'card service data',
  0x4: 'initial access data',
  0x5: "card issuer's data",
  0x6: 'pre-issuing data',
  0x7: 'card capabilities',
  0x8: 'status indicator',
  0xf: 'application identifier',
};

/** PC/SC Part 3 SS byte (standard). */
export const CONTACTLESS_STANDARDS: ReadonlyMap<number, string> = new Map([
  [0x00, 'no information given'],
  [0x01, 'ISO 14443 A, part 1'],
  [0x02, 'ISO 14443 A, part 2'],
  [0x03, 'ISO 14443 A, part 3'],
  [0x04, 'ISO 14443 A, part 4'],
  [0x05, 'ISO 14443 B, part 1'],
  [0x06, 'ISO 14443 B, part 2'],
  [0x07, 'ISO 14443 B, part 3'],
  [0x09, 'ISO 15693, part 1'],
  [0x0a, 'ISO 15693, part 2'],
  [0x0b, 'ISO 15693, part 3'],
  [0x0c, 'ISO 15693, part 4'],
  [0x0d, 'contact (7816-10) I2C'],
  [0x0e, 'contact (7816-10) extended I2C'],
  [0x0f, 'contact (7816-10) 2WBP'],
  [0x10, 'contact (7816-10) 3WBP'],
  [0x11, 'FeliCa'],
  [0x40, 'low frequency contactless'],
]);

/** PC/SC Part 3 NN NN (card name); 00xx values are PC/SC-registered, Fxxx are vendor (ACS) extensions. */
export const CONTACTLESS_CARD_NAMES: ReadonlyMap<number, string> = new Map([
  [0x0001, 'MIFARE Classic 1K'],
  [0x0002, 'MIFARE Classic 4K'],
  [0x0003, 'MIFARE Ultralight'],
  [0x0026, 'MIFARE Mini'],
  [0x0030, 'Topaz and Jewel'],
  [0x0036, 'MIFARE Plus SL1 2K'],
  [0x0037, 'MIFARE Plus SL1 4K'],
  [0x003a, 'MIFARE Ultralight C'],
  [0xf004, 'Topaz and Jewel (vendor code)'],
  [0xf011, 'FeliCa 212K (vendor code)'],
  [0xf012, 'FeliCa 424K (vendor code)'],
]);

export const PCSC_RID = Buffer.from([0xa0, 0x00, 0x00, 0x03, 0x06]);

function parseCompactTlv(b: Buffer, warnings: string[]): CompactTlv[] {
  const out: CompactTlv[] = [];
  let p = 0;
  while (p < b.length) {
    const tag = b[p] >> 4;
    const len = b[p] & 0x0f;
    if (p + 1 + len > b.length) {
      warnings.push(`historical bytes: COMPACT-TLV object tag ${tag.toString(16).toUpperCase()} length ${len} overruns the ${b.length} historical bytes`);
      out.push({ tag, length: len, value: Buffer.from(b.subarray(p + 1)), name: COMPACT_TAGS[tag] ?? 'unknown' });
      break;
    }
    out.push({ tag, length: len, value: Buffer.from(b.subarray(p + 1, p + 1 + len)), name: COMPACT_TAGS[tag] ?? 'unknown' });
    p += 1 + len;
  }
  return out;
}

function statusFromTlv(v: Buffer): { lcs?: number; sw?: number } {
  if (v.length === 1) return { lcs: v[0] };
  if (v.length === 2) return { sw: (v[0] << 8) | v[1] };
  if (v.length >= 3) return { lcs: v[0], sw: (v[1] << 8) | v[2] };
  return {};
}

/** Interpret historical bytes per ISO 7816-4 §8.1.1 (category indicator + COMPACT-TLV) and PC/SC Part 3. */
export function parseHistoricalBytes(h: Uint8Array, warnings: string[] = []): HistoricalBytes | undefined {
  const b = Buffer.from(h);
  if (b.length === 0) return undefined;
  const category = b[0];
  if (category === 0x80) {
    const rest = b.subarray(1);
    const info: HistoricalBytes = { category, categoryName: 'COMPACT-TLV data objects', objects: [] };
    // PC/SC Part 3: "4F len RID ..." uses a full length byte after tag 4F (not the compact header).
    if (rest.length >= 2 && rest[0] === 0x4f) {
      const len = rest[1];
      const aid = rest.subarray(2, 2 + len);
      if (aid.length < len) warnings.push(`historical bytes: application identifier 4F announces ${len} bytes but ${aid.length} remain`);
      info.objects.push({ tag: 0x4f, length: len, value: Buffer.from(aid), name: 'application identifier (PC/SC)' });
      if (aid.length >= 8 && aid.subarray(0, 5).equals(PCSC_RID)) {
        const standard = aid[5];
        const cardName = (aid[6] << 8) | aid[7];
        info.contactless = {
          rid: Buffer.from(PCSC_RID),
          standard,
          standardName: CONTACTLESS_STANDARDS.get(standard) ?? `RFU standard ${hexByte(standard)}`,
          cardName,
          cardNameText: CONTACTLESS_CARD_NAMES.get(cardName) ?? `unknown card name ${toHex([aid[6], aid[7]], '')}`,
          rfu: Buffer.from(aid.subarray(8)),
        };
      }
      const tail = rest.subarray(2 + len);
      if (tail.length > 0) info.objects.push(...parseCompactTlv(Buffer.from(tail), warnings));
    } else {
      info.objects = parseCompactTlv(Buffer.from(rest), warnings);
    }
    const st = info.objects.find((o) => o.tag === 0x8);
    if (st) info.status = statusFromTlv(st.value);
    return info;
  }
  if (category === 0x00) {
    const info: HistoricalBytes = { category, categoryName: 'COMPACT-TLV data objects followed by a 3-byte status indicator', objects: [] };
    if (b.length < 4) {
      warnings.push(`historical bytes: category 00 needs a 3-byte status indicator, only ${b.length - 1} bytes follow`);
      return info;
    }
    info.objects = parseCompactTlv(Buffer.from(b.subarray(1, b.length - 3)), warnings);
    info.status = statusFromTlv(Buffer.from(b.subarray(b.length - 3)));
    return info;
  }
  if (category === 0x10) {
    const info: HistoricalBytes = { category, categoryName: 'DIR data reference', objects: [] };
    if (b.length >= 2) info.dirDataReference = b[1];
    else warnings.push('historical bytes: category 10 without a DIR data reference byte');
    return info;
  }
  if (category >= 0x81 && category <= 0x8f) return { category, categoryName: 'RFU', objects: [] };
  return { category, categoryName: 'proprietary', objects: [] };
}

/** XOR of bytes. */
export const xorAll = (b: Uint8Array, from = 0, to = b.length): number => {
  let x = 0;
  for (let i = from; i < to; i++) x ^= b[i];
  return x;
};

/** Parse an ATR given as bytes or hex text. Throws AtrError only for hopeless input. */
export function parseAtr(input: Uint8Array | string): ParsedAtr {
  let bytes: Buffer;
  if (typeof input === 'string') {
    try {
      bytes = parseHex(input);
    } catch (e) {
      throw new AtrError(`ATR is not valid hex: ${(e as Error).message}`);
    }
  } else if (input instanceof Uint8Array) {
    bytes = Buffer.from(input);
  } else {
    throw new AtrError('ATR must be bytes or hex text');
  }
  if (bytes.length === 0) throw new AtrError('ATR is empty');
  const ts = bytes[0];
  if (ts !== 0x3b && ts !== 0x3f) {
    const hint = ts === 0x03 ? ' (03 is an inverse-convention TS read without decoding; the reader should deliver 3F)' : '';
    throw new AtrError(`invalid TS ${hexByte(ts)}: an ATR starts with 3B (direct) or 3F (inverse convention)${hint}`);
  }
  const errors: string[] = [];
  const warnings: string[] = [];
  const r: ParsedAtr = {
    bytes,
    hex: toHex(bytes),
    ts,
    convention: ts === 0x3b ? 'direct' : 'inverse',
    t0: 0,
    historicalCount: 0,
    groups: [],
    historical: Buffer.alloc(0),
    tckRequired: false,
    extraBytes: Buffer.alloc(0),
    fi: 1,
    di: 1,
    n: 0,
    wi: 10,
    protocols: [],
    specificMode: false,
    defaultProtocol: 0,
    ppsUseful: false,
    errors,
    warnings,
  };
  if (bytes.length < 2) {
    errors.push('ATR truncated: T0 missing after TS');
    finish(r);
    return r;
  }
  r.t0 = bytes[1];
  r.historicalCount = r.t0 & 0x0f;
  let p = 2;
  let y = r.t0 >> 4;
  let i = 1;
  let prevT: number | undefined; // T of TD(i-1)
  let truncated = false;
  while (true) {
    const g: AtrInterfaceGroup = { i };
    if (prevT !== undefined) g.qualifies = prevT;
    const need = popcount4(y);
    if (p + need > bytes.length) truncated = true;
    if (y & 1 && p < bytes.length) g.ta = bytes[p++];
    if (y & 2 && p < bytes.length) g.tb = bytes[p++];
    if (y & 4 && p < bytes.length) g.tc = bytes[p++];
    if (y & 8 && p < bytes.length) g.td = bytes[p++];
    if (g.td !== undefined) g.tdProtocol = g.td & 0x0f;
    if (need > 0) r.groups.push(g);
    if (truncated) {
      errors.push(`ATR truncated in interface bytes of group ${i} (${bytes.length} bytes)`);
      break;
    }
    if (g.td === undefined) break;
    y = g.td >> 4;
    prevT = g.td & 0x0f;
    i++;
  }
  const tds = r.groups.filter((g) => g.tdProtocol !== undefined).map((g) => g.tdProtocol as number);
  r.tckRequired = tds.some((t) => t !== 0);
  if (!truncated) {
    const hEnd = p + r.historicalCount;
    r.historical = Buffer.from(bytes.subarray(p, Math.min(hEnd, bytes.length)));
    if (hEnd > bytes.length) {
      errors.push(`ATR truncated: T0 announces ${r.historicalCount} historical bytes, only ${bytes.length - p} present`);
    } else {
      p = hEnd;
      if (r.tckRequired) {
        if (p < bytes.length) {
          r.tck = bytes[p++];
          r.tckValid = xorAll(bytes, 1, p) === 0;
          if (!r.tckValid) {
            const expected = xorAll(bytes, 1, p - 1);
            errors.push(`TCK mismatch: ATR has ${hexByte(r.tck)}, XOR of T0..last historical byte gives ${hexByte(expected)}`);
          }
        } else {
          errors.push('TCK missing: required because a TDi announces a protocol other than T=0');
        }
      }
      if (p < bytes.length) {
        r.extraBytes = Buffer.from(bytes.subarray(p));
        if (!r.tckRequired && r.extraBytes.length === 1 && xorAll(bytes, 1) === 0) {
          warnings.push('T=0-only ATR carries a (valid) TCK byte it does not need');
          r.tck = r.extraBytes[0];
          r.tckValid = true;
        } else {
          warnings.push(`${r.extraBytes.length} unexpected byte(s) after the end of the ATR: ${toHex(r.extraBytes)}`);
        }
      }
    }
  }
  if (bytes.length > ATR_MAX_LENGTH) warnings.push(`ATR is ${bytes.length} bytes, longer than the ${ATR_MAX_LENGTH}-byte maximum`);
  if (r.historical.length > 0) r.historicalInfo = parseHistoricalBytes(r.historical, warnings);
  finish(r);
  return r;
}

function finish(r: ParsedAtr): void {
  const g = (i: number): AtrInterfaceGroup | undefined => r.groups.find((x) => x.i === i);
  const g1 = g(1);
  const g2 = g(2);
  if (g1?.ta !== undefined) {
    r.fi = g1.ta >> 4;
    r.di = g1.ta & 0x0f;
  }
  const f = FI_TABLE[r.fi];
  r.Fi = f?.[0];
  r.fmaxMHz = f?.[1];
  r.Di = DI_TABLE[r.di];
  if (f === undefined) r.errors.push(`TA1 ${hexByte((r.fi << 4) | r.di)}: FI=${r.fi} is RFU`);
  if (r.Di === undefined) r.errors.push(`TA1 ${hexByte((r.fi << 4) | r.di)}: DI=${r.di} is RFU`);
  if (g1?.tc !== undefined) r.n = g1.tc;
  if (g1?.tb !== undefined && g1.tb !== 0) r.warnings.push(`TB1=${hexByte(g1.tb)}: programming voltage bytes are deprecated`);
  if (g2?.tc !== undefined) {
    r.wi = g2.tc;
    if (r.wi === 0) r.errors.push('TC2=00: WI 0 is reserved');
  }
  // Offered protocols: every T announced by a TDi (T=15 is global, not a protocol).
  const set = new Set<number>();
  for (const x of r.groups) if (x.tdProtocol !== undefined && x.tdProtocol !== 15) set.add(x.tdProtocol);
  if (g1?.td === undefined) set.add(0);
  // T=1 and T=15 specific bytes: the first group i >= 3 qualified by that T.
  for (const x of r.groups) {
    if (x.i < 3) continue;
    if (x.qualifies === 1 && r.t1 === undefined) {
      r.t1 = { ifsc: 32, bwi: 4, cwi: 13, edc: 'lrc' };
      if (x.ta !== undefined) {
        if (x.ta === 0x00 || x.ta === 0xff) {
          r.errors.push(`TA${x.i}=${hexByte(x.ta)}: invalid IFSC, using ${x.ta === 0 ? 32 : 254}`);
          r.t1.ifsc = x.ta === 0 ? 32 : 254;
        } else r.t1.ifsc = x.ta;
      }
      if (x.tb !== undefined) {
        r.t1.bwi = x.tb >> 4;
        r.t1.cwi = x.tb & 0x0f;
        if (r.t1.bwi > 9) r.warnings.push(`TB${x.i}=${hexByte(x.tb)}: BWI ${r.t1.bwi} is RFU (above 9)`);
      }
      if (x.tc !== undefined) {
        r.t1.edc = x.tc & 1 ? 'crc' : 'lrc';
        if (x.tc & 0xfe) r.warnings.push(`TC${x.i}=${hexByte(x.tc)}: bits other than b1 are RFU`);
      }
    }
    if (x.qualifies === 15 && r.clockStop === undefined && x.ta !== undefined) {
      r.clockStop = x.ta >> 6;
      r.classIndicator = x.ta & 0x3f;
    }
  }
  if (set.has(1) && r.t1 === undefined) r.t1 = { ifsc: 32, bwi: 4, cwi: 13, edc: 'lrc' };
  if (g2?.ta !== undefined) {
    r.specificMode = true;
    r.specificProtocol = g2.ta & 0x0f;
    r.canChangeMode = (g2.ta & 0x80) === 0;
    r.implicitParameters = (g2.ta & 0x10) !== 0;
    r.defaultProtocol = r.specificProtocol;
    if (!set.has(r.specificProtocol)) r.warnings.push(`TA2 selects T=${r.specificProtocol}, which no TDi offers`);
  } else {
    const first = g1?.tdProtocol;
    if (first !== undefined && first !== 15) r.defaultProtocol = first;
    else r.defaultProtocol = set.size > 0 ? Math.min(...set) : 0;
  }
  if (set.size === 0) set.add(r.defaultProtocol);
  r.protocols = [...set].sort((a, b) => a - b);
  r.ppsUseful = !r.specificMode && ((r.fi !== 1 && r.fi !== 0) || r.di !== 1) && r.Fi !== undefined && r.Di !== undefined;
}

export interface AtrTiming {
  /** Elementary time unit in µs with the Fi/Di in use. */
  etuUs: number;
  /** T=0 work waiting time in ms: 960 × WI × Fi / f. */
  wwtMs: number;
  /** T=1 block waiting time in ms: 11 etu + 2^BWI × 960 × 372 / f. */
  bwtMs: number;
  /** T=1 character waiting time in ms: (11 + 2^CWI) etu. */
  cwtMs: number;
  /** T=1 block guard time in ms: 22 etu. */
  bgtMs: number;
}

/**
 * Waiting times a TPDU transport needs for its timeouts (docs/iso7816.md §1).
 * `useTa1`: the TA1 rate is in force (after a successful PPS, or in specific mode);
 * otherwise the default Fi = 372, Di = 1 applies.
 */
export function atrTiming(a: ParsedAtr, opts: { clockHz?: number; useTa1?: boolean } = {}): AtrTiming {
  const f = opts.clockHz ?? 4_000_000;
  const useTa1 = (opts.useTa1 ?? (a.specificMode && !a.implicitParameters)) && a.Fi !== undefined && a.Di !== undefined;
  const Fi = useTa1 ? (a.Fi as number) : 372;
  const Di = useTa1 ? (a.Di as number) : 1;
  const etu = Fi / Di / f;
  const t1 = a.t1 ?? { ifsc: 32, bwi: 4, cwi: 13, edc: 'lrc' };
  const ms = (s: number): number => s * 1000;
  return {
    etuUs: etu * 1e6,
    wwtMs: ms((960 * a.wi * Fi) / f),
    bwtMs: ms(11 * etu + (2 ** t1.bwi * 960 * 372) / f),
    cwtMs: ms((11 + 2 ** t1.cwi) * etu),
    bgtMs: ms(22 * etu),
  };
}

/** Compute TCK for an ATR without its TCK (XOR of T0..last byte). */
export const atrTck = (atrWithoutTck: Uint8Array): number => xorAll(atrWithoutTck, 1);

/**
 * PC/SC Part 3 ATR for a contactless storage card (MIFARE Classic, Ultralight...):
 * 3B 8F 80 01 80 4F 0C A0 00 00 03 06 SS NN NN 00 00 00 00 TCK.
 */
export function buildContactlessAtr(standard: number, cardName: number): Buffer {
  if (!Number.isInteger(standard) || standard < 0 || standard > 0xff) throw new RangeError(`standard byte must be 0..255, got ${standard}`);
  if (!Number.isInteger(cardName) || cardName < 0 || cardName > 0xffff) throw new RangeError(`card name must be 0..0xFFFF, got ${cardName}`);
  const body = Buffer.from([0x3b, 0x8f, 0x80, 0x01, 0x80, 0x4f, 0x0c, ...PCSC_RID, standard, cardName >> 8, cardName & 0xff, 0, 0, 0, 0]);
  return Buffer.concat([body, Buffer.from([atrTck(body)])]);
}

/**
 * PC/SC Part 3 ATR for an ISO 14443-4 card: 3B 8n 80 01 <historical bytes> TCK.
 * Type A: the ATS historical bytes. More than 15 are cut to 15 (T0 has 4 bits),
 * as reader firmware does.
 */
export function buildIso14443Atr(historical: Uint8Array): Buffer {
  const h = Buffer.from(historical).subarray(0, 15);
  const body = Buffer.concat([Buffer.from([0x3b, 0x80 | h.length, 0x80, 0x01]), h]);
  return Buffer.concat([body, Buffer.from([atrTck(body)])]);
}

/** Type B: historical bytes = application data (4) + protocol info (3) + MBLI << 4. */
export function buildIso14443bAtr(applicationData: Uint8Array, protocolInfo: Uint8Array, mbli = 0): Buffer {
  if (applicationData.length !== 4) throw new RangeError(`ATQB application data must be 4 bytes, got ${applicationData.length}`);
  if (protocolInfo.length !== 3) throw new RangeError(`ATQB protocol info must be 3 bytes, got ${protocolInfo.length}`);
  return buildIso14443Atr(Buffer.concat([Buffer.from(applicationData), Buffer.from(protocolInfo), Buffer.from([(mbli & 0x0f) << 4])]));
}

// ---------------------------------------------------------------- PPS

export interface PpsRequest {
  protocol: number;
  /** TA1-coded FI|DI byte for PPS1; omitted = keep default. */
  fidi?: number;
  /** PPS2 (SPU). */
  spu?: number;
}

/** Build PPSS PPS0 [PPS1] [PPS2] PCK. */
export function buildPps(req: PpsRequest): Buffer {
  if (!Number.isInteger(req.protocol) || req.protocol < 0 || req.protocol > 14) throw new RangeError(`PPS protocol must be T=0..14, got ${req.protocol}`);
  const out = [0xff, req.protocol];
  if (req.fidi !== undefined) {
    if (!Number.isInteger(req.fidi) || req.fidi < 0 || req.fidi > 0xff) throw new RangeError(`PPS1 must be a byte, got ${req.fidi}`);
    out[1] |= 0x10;
    out.push(req.fidi);
  }
  if (req.spu !== undefined) {
    if (!Number.isInteger(req.spu) || req.spu < 0 || req.spu > 0xff) throw new RangeError(`PPS2 must be a byte, got ${req.spu}`);
    out[1] |= 0x20;
    out.push(req.spu);
  }
  out.push(xorAll(Uint8Array.from(out)));
  return Buffer.from(out);
}

export interface ParsedPps {
  protocol: number;
  pps1?: number;
  pps2?: number;
  pps3?: number;
}

/** Parse a PPS frame; returns an error text instead of throwing. */
export function parsePps(b: Uint8Array): { pps?: ParsedPps; error?: string } {
  if (b.length < 3) return { error: `PPS too short: ${b.length} bytes, at least 3 (PPSS PPS0 PCK)` };
  if (b[0] !== 0xff) return { error: `PPSS is ${hexByte(b[0])}, expected FF` };
  const pps0 = b[1];
  const n = 3 + ((pps0 >> 4) & 1) + ((pps0 >> 5) & 1) + ((pps0 >> 6) & 1);
  if (pps0 & 0x80) return { error: `PPS0 ${hexByte(pps0)}: b8 is reserved and must be 0` };
  if (b.length !== n) return { error: `PPS length ${b.length}, PPS0 ${hexByte(pps0)} announces ${n}` };
  if (xorAll(b) !== 0) return { error: `PCK mismatch: got ${hexByte(b[n - 1])}, expected ${hexByte(xorAll(b, 0, n - 1))}` };
  const pps: ParsedPps = { protocol: pps0 & 0x0f };
  let p = 2;
  if (pps0 & 0x10) pps.pps1 = b[p++];
  if (pps0 & 0x20) pps.pps2 = b[p++];
  if (pps0 & 0x40) pps.pps3 = b[p];
  return { pps };
}

export interface PpsResult {
  ok: boolean;
  /** Negotiated protocol and TA1-coded FI|DI (11 = default) when ok. */
  protocol?: number;
  fidi?: number;
  reason?: string;
}

/**
 * Check a card's PPS response against the request: success is an exact echo,
 * or an echo without PPS1 (card keeps the default rate FI|DI = 11).
 */
export function checkPpsResponse(request: Uint8Array, response: Uint8Array): PpsResult {
  const q = parsePps(request);
  if (!q.pps) return { ok: false, reason: `bad PPS request: ${q.error}` };
  const a = parsePps(response);
  if (!a.pps) return { ok: false, reason: `bad PPS response: ${a.error}` };
  if (a.pps.protocol !== q.pps.protocol) return { ok: false, reason: `PPS response selects T=${a.pps.protocol}, request asked T=${q.pps.protocol}` };
  if (Buffer.from(request).equals(Buffer.from(response))) return { ok: true, protocol: q.pps.protocol, fidi: q.pps.pps1 ?? 0x11 };
  if (a.pps.pps1 === undefined && a.pps.pps2 === q.pps.pps2 && a.pps.pps3 === undefined) {
    return { ok: true, protocol: q.pps.protocol, fidi: 0x11 };
  }
  if (a.pps.pps1 !== undefined && a.pps.pps1 !== q.pps.pps1) {
    return { ok: false, reason: `PPS response PPS1 ${hexByte(a.pps.pps1)} differs from requested ${q.pps.pps1 === undefined ? 'none' : hexByte(q.pps.pps1)}` };
  }
  return { ok: false, reason: `PPS response ${toHex(response)} does not match request ${toHex(request)}` };
}
