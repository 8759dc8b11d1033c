/**
 * OSDP packet codec (docs/osdp.md §2): SOM, address (bit 7 set in replies),
 * 16-bit length of the whole packet, control byte (sequence number, CRC or
 * checksum, security block present), optional security block, command or
 * reply code, data, 4-byte MAC in a secure session, CRC-16 or checksum.
 *
 * The codec never interprets the security block beyond its shape: the secure
 * channel (secure.ts) decides what a MAC or ciphertext means.
 */
import { CTRL, SOM } from './codes.js';
import { checksum8, crc16 } from './crc.js';

export interface SecurityBlock {
  type: number;
  /** SEC_BLK_DATA (empty for SCS_15..18). */
  data: Buffer;
}

export interface Packet {
  /** 7-bit address (0x7F = broadcast). */
  address: number;
  /** Reply (PD -> CP): bit 7 of the address byte. */
  reply: boolean;
  /** Sequence number 0..3. */
  sqn: number;
  /** CRC-16 (true) or 8-bit checksum (false). */
  crc: boolean;
  scb?: SecurityBlock;
  /** Command or reply code. */
  code: number;
  /** Data as on the wire (ciphertext under SCS_17/18). */
  data: Buffer;
  /** The 4 MAC bytes under SCS_15..18. */
  mac?: Buffer;
}

export type FrameProblem = 'som' | 'length' | 'check' | 'scb' | 'short';

export class OsdpFrameError extends Error {
  constructor(
    readonly problem: FrameProblem,
    message: string,
  ) {
    super(message);
    this.name = 'OsdpFrameError';
  }
}

/** Smallest packet: SOM ADDR LEN LEN CTRL CODE CKSUM. */
export const MIN_PACKET = 7;
/** Largest packet accepted: the receive buffer the PD declares and the CP assumes. */
export const MAX_PACKET = 1440;

export const hasMac = (scb?: SecurityBlock): boolean => scb !== undefined && scb.type >= 0x15 && scb.type <= 0x18;

/**
 * Bytes of a packet. `mac`, when given, is called with everything from SOM to
 * the last data byte (length field already final) and returns the 4 MAC bytes;
 * otherwise `p.mac` is used for MAC-carrying security blocks.
 */
export function encodePacket(p: Packet, mac?: (covered: Buffer) => Buffer): Buffer {
  const scbLen = p.scb ? 2 + p.scb.data.length : 0;
  const withMac = hasMac(p.scb);
  const checkLen = p.crc ? 2 : 1;
  const total = 5 + scbLen + 1 + p.data.length + (withMac ? 4 : 0) + checkLen;
  if (total > MAX_PACKET) throw new OsdpFrameError('length', `packet of ${total} bytes exceeds ${MAX_PACKET}`);
  const b = Buffer.alloc(total);
  b[0] = SOM;
  b[1] = (p.address & 0x7f) | (p.reply ? 0x80 : 0);
  b.writeUInt16LE(total, 2);
  b[4] = (p.sqn & CTRL.SQN) | (p.crc ? CTRL.CRC : 0) | (p.scb ? CTRL.SCB : 0);
  let o = 5;
  if (p.scb) {
    b[o++] = scbLen;
    b[o++] = p.scb.type;
    p.scb.data.copy(b, o);
    o += p.scb.data.length;
  }
  b[o++] = p.code;
  p.data.copy(b, o);
  o += p.data.length;
  if (withMac) {
    const m = mac ? mac(b.subarray(0, o)) : p.mac;
    if (!m || m.length < 4) throw new OsdpFrameError('scb', 'secure packet without MAC');
    m.copy(b, o, 0, 4);
    o += 4;
  }
  if (p.crc) b.writeUInt16LE(crc16(b, 0, o), o);
  else b[o] = checksum8(b, 0, o);
  return b;
}

export interface Decoded {
  packet: Packet;
  /** SOM .. last data byte: what the MAC covers. */
  macInput: Buffer;
}

/** Parse one whole packet (no mark byte). Throws OsdpFrameError naming the problem. */
export function decodePacket(b: Buffer): Decoded {
  if (b.length < MIN_PACKET) throw new OsdpFrameError('short', `packet of ${b.length} bytes is shorter than ${MIN_PACKET}`);
  if (b[0] !== SOM) throw new OsdpFrameError('som', `first byte 0x${b[0].toString(16)} is not SOM 0x53`);
  const len = b.readUInt16LE(2);
  if (len !== b.length) throw new OsdpFrameError('length', `length field ${len} but ${b.length} bytes`);
  const ctrl = b[4];
  const crc = (ctrl & CTRL.CRC) !== 0;
  const checkLen = crc ? 2 : 1;
  const end = len - checkLen;
  if (crc) {
    const want = crc16(b, 0, end);
    const got = b.readUInt16LE(end);
    if (want !== got) throw new OsdpFrameError('check', `CRC 0x${got.toString(16).padStart(4, '0')} should be 0x${want.toString(16).padStart(4, '0')}`);
  } else {
    const want = checksum8(b, 0, end);
    if (want !== b[end]) throw new OsdpFrameError('check', `checksum 0x${b[end].toString(16)} should be 0x${want.toString(16)}`);
  }
  if (ctrl & CTRL.MULTI) throw new OsdpFrameError('scb', 'multi-part bit set (reserved)');
  let o = 5;
  let scb: SecurityBlock | undefined;
  if (ctrl & CTRL.SCB) {
    const sl = b[o];
    if (sl < 2 || o + sl >= end) throw new OsdpFrameError('scb', `security block length ${sl} does not fit`);
    scb = { type: b[o + 1], data: Buffer.from(b.subarray(o + 2, o + sl)) };
    o += sl;
  }
  const withMac = hasMac(scb);
  const dataEnd = end - (withMac ? 4 : 0);
  if (o >= dataEnd) throw new OsdpFrameError('short', 'no command/reply code');
  const packet: Packet = {
    address: b[1] & 0x7f,
    reply: (b[1] & 0x80) !== 0,
    sqn: ctrl & CTRL.SQN,
    crc,
    scb,
    code: b[o],
    data: Buffer.from(b.subarray(o + 1, dataEnd)),
  };
  if (withMac) packet.mac = Buffer.from(b.subarray(dataEnd, end));
  return { packet, macInput: b.subarray(0, dataEnd) };
}
