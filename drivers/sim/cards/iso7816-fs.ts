/**
 * The file system of the simulated ISO 7816-4 card: MF/DF/EF tree built from
 * a serialisable spec, FCP/FCI encoding (ISO 7816-4 §5.3.3 tags 62/6F, 80, 82,
 * 83, 84, 88, 8A).
 */
import { parseHex } from '../../../src/iso7816/hex.js';
import { CardSpecError } from './card.js';

/** 'always', 'never', or the reference of a PIN that must be verified (e.g. 0x81). */
export type AccessRule = 'always' | 'never' | number;

export interface EfSpec {
  /** File identifier, 4 hex digits (e.g. "5001"). */
  fid: string;
  /** Short EF identifier 1..30, for READ BINARY with P1 b8 = 1. */
  sfi?: number;
  /** Initial content, hex. */
  data?: string;
  /** Size in bytes; defaults to the data length (content padded with 00). */
  size?: number;
  read?: AccessRule;
  update?: AccessRule;
}

export interface DfSpec {
  fid: string;
  /** DF name (AID), hex, 1..16 bytes. */
  aid?: string;
  children?: Array<DfSpec | EfSpec>;
}

export const isDfSpec = (s: DfSpec | EfSpec): s is DfSpec => 'children' in s || 'aid' in s;

export class Ef {
  readonly kind = 'ef' as const;
  constructor(
    readonly fid: number,
    readonly parent: Df,
    public data: Buffer,
    readonly read: AccessRule,
    readonly update: AccessRule,
    readonly sfi?: number,
  ) {}
}

export class Df {
  readonly kind = 'df' as const;
  readonly children: Array<Df | Ef> = [];
  constructor(
    readonly fid: number,
    readonly parent: Df | undefined,
    readonly name?: Buffer,
  ) {}
  child(fid: number): Df | Ef | undefined {
    for (const c of this.children) if (c.fid === fid) return c;
    return undefined;
  }
}

export type FileNode = Df | Ef;

function fidOf(v: unknown, where: string): number {
  if (typeof v !== 'string' || !/^[0-9a-fA-F]{4}$/.test(v)) throw new CardSpecError(`${where}.fid must be 4 hex digits, got ${JSON.stringify(v)}`);
  return parseInt(v, 16);
}

function ruleOf(v: unknown, where: string): AccessRule {
  if (v === undefined) return 'always';
  if (v === 'always' || v === 'never') return v;
  if (typeof v === 'number' && Number.isInteger(v) && v >= 0 && v <= 0xff) return v;
  throw new CardSpecError(`${where} must be "always", "never" or a PIN reference 0..255, got ${JSON.stringify(v)}`);
}

function hexOf(v: unknown, where: string): Buffer {
  if (typeof v !== 'string') throw new CardSpecError(`${where} must be a hex string, got ${typeof v}`);
  try {
    return parseHex(v);
  } catch (e) {
    throw new CardSpecError(`${where}: ${(e as Error).message}`);
  }
}

const KNOWN_DF_KEYS = new Set(['fid', 'aid', 'children']);
const KNOWN_EF_KEYS = new Set(['fid', 'sfi', 'data', 'size', 'read', 'update']);

/** Build the tree from a spec; throws CardSpecError naming the path of the faulty field. */
export function buildFileSystem(spec: DfSpec, where = 'files'): Df {
  const mf = buildDf(spec, undefined, where);
  if (mf.fid !== 0x3f00) throw new CardSpecError(`${where}.fid: the root must be the MF 3F00, got ${mf.fid.toString(16).toUpperCase().padStart(4, '0')}`);
  return mf;
}

function buildDf(spec: DfSpec, parent: Df | undefined, where: string): Df {
  if (typeof spec !== 'object' || spec === null) throw new CardSpecError(`${where} must be an object`);
  for (const k of Object.keys(spec)) if (!KNOWN_DF_KEYS.has(k)) throw new CardSpecError(`${where}.${k}: unknown key (a DF has fid, aid, children)`);
  const fid = fidOf(spec.fid, where);
  let name: Buffer | undefined;
  if (spec.aid !== undefined) {
    name = hexOf(spec.aid, `${where}.aid`);
    if (name.length < 1 || name.length > 16) throw new CardSpecError(`${where}.aid must be 1..16 bytes, got ${name.length}`);
  }
  const df = new Df(fid, parent, name);
  const kids = spec.children ?? [];
  if (!Array.isArray(kids)) throw new CardSpecError(`${where}.children must be an array`);
  kids.forEach((c, i) => {
    const w = `${where}.children[${i}]`;
    if (typeof c !== 'object' || c === null) throw new CardSpecError(`${w} must be an object`);
    const node = isDfSpec(c) ? buildDf(c, df, w) : buildEf(c, df, w);
    if (df.child(node.fid)) throw new CardSpecError(`${w}.fid ${node.fid.toString(16).toUpperCase()} is used twice in the same DF`);
    df.children.push(node);
  });
  return df;
}

function buildEf(spec: EfSpec, parent: Df, where: string): Ef {
  for (const k of Object.keys(spec)) if (!KNOWN_EF_KEYS.has(k)) throw new CardSpecError(`${where}.${k}: unknown key (an EF has fid, sfi, data, size, read, update)`);
  const fid = fidOf(spec.fid, where);
  const content = spec.data === undefined ? Buffer.alloc(0) : hexOf(spec.data, `${where}.data`);
  let size = content.length;
  if (spec.size !== undefined) {
    if (!Number.isInteger(spec.size) || spec.size < 0 || spec.size > 32767) throw new CardSpecError(`${where}.size must be an integer 0..32767, got ${JSON.stringify(spec.size)}`);
    if (spec.size < content.length) throw new CardSpecError(`${where}.size ${spec.size} is smaller than its data (${content.length} bytes)`);
    size = spec.size;
  }
  if (size > 32767) throw new CardSpecError(`${where}.data is ${size} bytes, at most 32767 are addressable`);
  if (spec.sfi !== undefined && (!Number.isInteger(spec.sfi) || spec.sfi < 1 || spec.sfi > 30)) {
    throw new CardSpecError(`${where}.sfi must be an integer 1..30, got ${JSON.stringify(spec.sfi)}`);
  }
  const data = Buffer.alloc(size);
  content.copy(data);
  return new Ef(fid, parent, data, ruleOf(spec.read, `${where}.read`), ruleOf(spec.update, `${where}.update`), spec.sfi);
}

/** BER-TLV with a one-byte tag and definite length. */
export function tlv(tag: number, value: Uint8Array): Buffer {
  const n = value.length;
  const len = n < 0x80 ? [n] : n < 0x100 ? [0x81, n] : [0x82, n >> 8, n & 0xff];
  return Buffer.concat([Buffer.from([tag, ...len]), value]);
}

/** File control parameters (template 62, or 6F when `template` says so). */
export function fcp(node: FileNode, template = 0x62): Buffer {
  const parts: Buffer[] = [];
  if (node.kind === 'ef') {
    parts.push(tlv(0x80, Buffer.from([node.data.length >> 8, node.data.length & 0xff])));
    parts.push(tlv(0x82, Buffer.from([0x01]))); // working EF, transparent
    parts.push(tlv(0x83, Buffer.from([node.fid >> 8, node.fid & 0xff])));
    if (node.sfi !== undefined) parts.push(tlv(0x88, Buffer.from([node.sfi << 3])));
  } else {
    parts.push(tlv(0x82, Buffer.from([0x38]))); // DF
    parts.push(tlv(0x83, Buffer.from([node.fid >> 8, node.fid & 0xff])));
    if (node.name) parts.push(tlv(0x84, node.name));
  }
  parts.push(tlv(0x8a, Buffer.from([0x05]))); // life cycle: operational, activated
  return tlv(template, Buffer.concat(parts));
}

/** The default tree: MF with EF.DIR-like 2F00 and an ICC serial 2F02, and a demo application DF. */
export const DEMO_AID = 'F0 73 63 61 72 64 67 61 74 65'; // F0 + "scardgate"
export function defaultFileSystem(serialHex: string): DfSpec {
  const aid = DEMO_AID.replace(/ /g, '');
  const app = `4F${(aid.length / 2).toString(16).padStart(2, '0')}${aid}`;
  const dir = `61${(app.length / 2).toString(16).padStart(2, '0')}${app}`;
  return {
    fid: '3F00',
    children: [
      { fid: '2F00', sfi: 30, data: dir },
      { fid: '2F02', sfi: 2, data: `5A${(serialHex.length / 2).toString(16).padStart(2, '0')}${serialHex}` },
      {
        fid: '5000',
        aid,
        children: [
          // "Hello from scardgate" then zeros: readable by all, writable after PIN 81.
          { fid: '5001', sfi: 1, data: Buffer.from('Hello from scardgate').toString('hex'), size: 64, read: 'always', update: 0x81 },
          // A secret: read and write only after PIN 81.
          { fid: '5002', sfi: 2, data: Buffer.from('top secret').toString('hex'), size: 32, read: 0x81, update: 0x81 },
          // Read-only record of 300 bytes, longer than one short response.
          { fid: '5003', sfi: 3, data: Buffer.from(Array.from({ length: 300 }, (_, i) => i & 0xff)).toString('hex'), read: 'always', update: 'never' },
        ],
      },
    ],
  };
}
