/**
 * Struct layouts of pcsc-lite 1.9.9's client protocol (winscard_msg.h) and of
 * the public API types the C client fills them from, per platform ABI.
 *
 * One table of fields; offsets and sizes are derived from the C alignment
 * rules of each ABI rather than written out, so adding a platform is one entry
 * in ABIS. Wire structs only use fixed-width fields and come out identical on
 * every ABI here; the API types (DWORD = unsigned long, pointers) do not, and
 * they show up on the wire through the client's sizeof(SCARD_IO_REQUEST).
 */
import { arch, endianness } from 'node:os';
import { LIMITS } from '../../pcsc/constants.js';

/** A C field type: fixed-width, ABI-dependent scalar, or a byte array. */
export type FieldType = 'u32' | 'i32' | 'ulong' | 'long' | 'ptr' | { bytes: number };

export interface Abi {
  readonly name: 'x86_64' | 'aarch64' | 'armhf' | 'i386';
  readonly littleEndian: boolean;
  /** sizeof / alignof for the ABI-dependent scalars. */
  readonly long: { size: number; align: number };
  readonly ptr: { size: number; align: number };
}

/** System V x86_64 and AAPCS64 are LP64; ARM EABI hard-float (armhf) and i386 are ILP32. */
export const ABIS: Readonly<Record<Abi['name'], Abi>> = {
  x86_64: { name: 'x86_64', littleEndian: true, long: { size: 8, align: 8 }, ptr: { size: 8, align: 8 } },
  aarch64: { name: 'aarch64', littleEndian: true, long: { size: 8, align: 8 }, ptr: { size: 8, align: 8 } },
  armhf: { name: 'armhf', littleEndian: true, long: { size: 4, align: 4 }, ptr: { size: 4, align: 4 } },
  i386: { name: 'i386', littleEndian: true, long: { size: 4, align: 4 }, ptr: { size: 4, align: 4 } },
};

type FieldList = readonly (readonly [name: string, type: FieldType])[];

const u32 = 'u32' as const;
const i32 = 'i32' as const;

/**
 * Every struct the daemon reads or writes, as declared in pcsc-lite 1.9.9
 * (field order and types), plus the API structs the tests compile against.
 */
export const STRUCTS = {
  version: [['major', i32], ['minor', i32], ['rv', u32]],
  establish: [['dwScope', u32], ['hContext', u32], ['rv', u32]],
  release: [['hContext', u32], ['rv', u32]],
  connect: [
    ['hContext', u32], ['szReader', { bytes: LIMITS.MAX_READERNAME }], ['dwShareMode', u32],
    ['dwPreferredProtocols', u32], ['hCard', i32], ['dwActiveProtocol', u32], ['rv', u32],
  ],
  reconnect: [
    ['hCard', i32], ['dwShareMode', u32], ['dwPreferredProtocols', u32], ['dwInitialization', u32],
    ['dwActiveProtocol', u32], ['rv', u32],
  ],
  disconnect: [['hCard', i32], ['dwDisposition', u32], ['rv', u32]],
  begin: [['hCard', i32], ['rv', u32]],
  end: [['hCard', i32], ['dwDisposition', u32], ['rv', u32]],
  cancel: [['hContext', i32], ['rv', u32]],
  status: [['hCard', i32], ['rv', u32]],
  transmit: [
    ['hCard', i32], ['ioSendPciProtocol', u32], ['ioSendPciLength', u32], ['cbSendLength', u32],
    ['ioRecvPciProtocol', u32], ['ioRecvPciLength', u32], ['pcbRecvLength', u32], ['rv', u32],
  ],
  control: [
    ['hCard', i32], ['dwControlCode', u32], ['cbSendLength', u32], ['cbRecvLength', u32],
    ['dwBytesReturned', u32], ['rv', u32],
  ],
  getset: [
    ['hCard', i32], ['dwAttrId', u32], ['pbAttr', { bytes: LIMITS.MAX_BUFFER_SIZE }], ['cbAttrLen', u32], ['rv', u32],
  ],
  waitReaderStateChange: [['timeOut', u32], ['rv', u32]],
  /** struct rxHeader: the 8 bytes in front of every request. */
  header: [['size', u32], ['command', u32]],
  /** struct pubReaderStatesList: one entry of the reader-state table. */
  readerState: [
    ['readerName', { bytes: LIMITS.MAX_READERNAME }], ['eventCounter', u32], ['readerState', u32],
    ['readerSharing', i32], ['cardAtr', { bytes: LIMITS.MAX_ATR_SIZE }], ['cardAtrLength', u32], ['cardProtocol', u32],
  ],
  /** API (not wire): SCARD_IO_REQUEST { unsigned long dwProtocol, cbPciLength }. */
  ioRequest: [['dwProtocol', 'ulong'], ['cbPciLength', 'ulong']],
  /** API (not wire): SCARD_READERSTATE as in Linux wintypes.h/pcsclite.h. */
  readerStateApi: [
    ['szReader', 'ptr'], ['pvUserData', 'ptr'], ['dwCurrentState', 'ulong'], ['dwEventState', 'ulong'],
    ['cbAtr', 'ulong'], ['rgbAtr', { bytes: LIMITS.MAX_ATR_SIZE }],
  ],
} as const satisfies Record<string, FieldList>;

export type StructName = keyof typeof STRUCTS;

export interface StructLayout {
  size: number;
  align: number;
  offsets: Record<string, number>;
}

function sizeAlign(t: FieldType, abi: Abi): { size: number; align: number } {
  if (typeof t === 'object') return { size: t.bytes, align: 1 };
  switch (t) {
    case 'u32':
    case 'i32':
      return { size: 4, align: 4 };
    case 'ulong':
    case 'long':
      return abi.long;
    case 'ptr':
      return abi.ptr;
  }
}

/** C layout: each field at the next multiple of its alignment; size rounded up to the largest alignment. */
export function layoutOf(fields: FieldList, abi: Abi): StructLayout {
  let off = 0;
  let align = 1;
  const offsets: Record<string, number> = {};
  for (const [name, type] of fields) {
    const f = sizeAlign(type, abi);
    off = Math.ceil(off / f.align) * f.align;
    offsets[name] = off;
    off += f.size;
    align = Math.max(align, f.align);
  }
  return { size: Math.ceil(off / align) * align, align, offsets };
}

export type Layouts = { readonly abi: Abi } & { readonly [K in StructName]: StructLayout };

export function layoutsFor(abi: Abi): Layouts {
  const out: Record<string, unknown> = { abi };
  for (const [name, fields] of Object.entries(STRUCTS)) out[name] = layoutOf(fields, abi);
  return out as Layouts;
}

/** Maps Node's process.arch to the ABI libpcsclite was built for on this host. */
export function hostAbi(nodeArch: string = arch()): Abi {
  switch (nodeArch) {
    case 'x64':
      return ABIS.x86_64;
    case 'arm64':
      return ABIS.aarch64;
    case 'arm':
      return ABIS.armhf;
    case 'ia32':
      return ABIS.i386;
    default:
      throw new Error(`pcsc socket: no struct layout for CPU architecture '${nodeArch}' (known: x64, arm64, arm, ia32)`);
  }
}

if (endianness() !== 'LE') {
  // Every Debian target of the appliance is little-endian; the codec writes LE.
  throw new Error('pcsc socket: big-endian hosts are not supported (the protocol uses host byte order)');
}

/** Layouts of the host this daemon runs on: what the codec and reader table use. */
export const WIRE: Layouts = layoutsFor(hostAbi());

/** Number of entries in the reader-state table (PCSCLITE_MAX_READERS_CONTEXTS, fixed at build time on both sides). */
export const TABLE_ENTRIES = LIMITS.MAX_READERS_CONTEXTS;
/** cardAtrLength of an entry whose reader has not published its first state (READER_NOT_INITIALIZED). */
export const READER_NOT_INITIALIZED = LIMITS.MAX_ATR_SIZE + 1;
