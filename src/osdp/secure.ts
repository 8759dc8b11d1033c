/**
 * OSDP Secure Channel cryptography (docs/osdp.md §6): AES-128 from
 * node:crypto, session keys derived from the SCBK and the CP's random
 * number, the two cryptograms of the handshake, the initial R-MAC, the
 * chained MAC of every secure packet and the data encryption with 0x80
 * padding.
 */
import { createCipheriv, createDecipheriv, randomBytes, timingSafeEqual } from 'node:crypto';

/** SCBK-D, the well-known install-mode key 0x30..0x3F. */
export const SCBK_D: Buffer = Buffer.from('303132333435363738393a3b3c3d3e3f', 'hex');

export interface SessionKeys {
  enc: Buffer;
  mac1: Buffer;
  mac2: Buffer;
}

export function aesEcb(key: Buffer, block: Buffer): Buffer {
  const c = createCipheriv('aes-128-ecb', key, null);
  c.setAutoPadding(false);
  return Buffer.concat([c.update(block), c.final()]);
}

function aesCbc(key: Buffer, iv: Buffer, data: Buffer, encrypt: boolean): Buffer {
  const c = encrypt ? createCipheriv('aes-128-cbc', key, iv) : createDecipheriv('aes-128-cbc', key, iv);
  c.setAutoPadding(false);
  return Buffer.concat([c.update(data), c.final()]);
}

/** S-ENC, S-MAC1, S-MAC2: AES(SCBK, 01 82|01|02 || RND.A[0..5] || 00 * 8). */
export function deriveSessionKeys(scbk: Buffer, rndA: Buffer): SessionKeys {
  const block = (b1: number): Buffer => {
    const x = Buffer.alloc(16);
    x[0] = 0x01;
    x[1] = b1;
    rndA.copy(x, 2, 0, 6);
    return aesEcb(scbk, x);
  };
  return { enc: block(0x82), mac1: block(0x01), mac2: block(0x02) };
}

/** PD's cryptogram (in osdp_CCRYPT): AES(S-ENC, RND.A || RND.B). */
export const clientCryptogram = (k: SessionKeys, rndA: Buffer, rndB: Buffer): Buffer => aesEcb(k.enc, Buffer.concat([rndA, rndB]));
/** CP's cryptogram (in osdp_SCRYPT): AES(S-ENC, RND.B || RND.A). */
export const serverCryptogram = (k: SessionKeys, rndA: Buffer, rndB: Buffer): Buffer => aesEcb(k.enc, Buffer.concat([rndB, rndA]));
/** Initial R-MAC (in osdp_RMAC_I): AES(S-MAC2, AES(S-MAC1, CP cryptogram)). */
export const initialRmac = (k: SessionKeys, serverCrypt: Buffer): Buffer => aesEcb(k.mac2, aesEcb(k.mac1, serverCrypt));

/**
 * The 16-byte MAC of `msg`: CBC over all blocks but the last with S-MAC1
 * starting from `iv`, the last block with S-MAC2. The last block is padded
 * with 0x80 00.. only when the message is not a multiple of 16 bytes.
 */
export function computeMac(k: SessionKeys, iv: Buffer, msg: Buffer): Buffer {
  const n = Math.max(1, Math.ceil(msg.length / 16));
  let chain: Buffer = Buffer.from(iv);
  for (let i = 0; i < n - 1; i++) {
    const b = Buffer.alloc(16);
    for (let j = 0; j < 16; j++) b[j] = msg[i * 16 + j] ^ chain[j];
    chain = aesEcb(k.mac1, b);
  }
  const last = Buffer.alloc(16);
  const rest = msg.subarray((n - 1) * 16);
  rest.copy(last);
  if (rest.length < 16) last[rest.length] = 0x80;
  for (let j = 0; j < 16; j++) last[j] ^= chain[j];
  return aesEcb(k.mac2, last);
}

const inverted = (b: Buffer): Buffer => Buffer.from(b.map((x) => ~x & 0xff));

/** Data encryption: 0x80 then zeros up to a multiple of 16, AES-CBC with S-ENC, IV = the other side's last MAC inverted. */
export function encryptData(k: SessionKeys, lastMac: Buffer, data: Buffer): Buffer {
  const padded = Buffer.alloc((Math.floor(data.length / 16) + 1) * 16);
  data.copy(padded);
  padded[data.length] = 0x80;
  return aesCbc(k.enc, inverted(lastMac), padded, true);
}

/** Inverse of encryptData; undefined when the length or the padding is wrong. */
export function decryptData(k: SessionKeys, lastMac: Buffer, data: Buffer): Buffer | undefined {
  if (data.length === 0 || data.length % 16) return undefined;
  const p = aesCbc(k.enc, inverted(lastMac), data, false);
  let i = p.length - 1;
  while (i > 0 && p[i] === 0) i--;
  if (p[i] !== 0x80 || p.length - i > 16) return undefined;
  return p.subarray(0, i);
}

export const random8 = (): Buffer => randomBytes(8);

export const sameBytes = (a: Buffer, b: Buffer): boolean => a.length === b.length && timingSafeEqual(a, b);

/**
 * One side's view of an established session: the keys and the two MAC
 * chains. C-MAC is the MAC of the last command, R-MAC of the last reply; a
 * command's MAC chains from the last R-MAC, a reply's from the last C-MAC.
 */
export class SecureSession {
  constructor(
    readonly keys: SessionKeys,
    public rmac: Buffer,
    public cmac: Buffer = Buffer.alloc(16),
  ) {}

  /** CP: MAC of an outgoing command (and the new C-MAC). */
  macCommand(covered: Buffer): Buffer {
    this.cmac = computeMac(this.keys, this.rmac, covered);
    return this.cmac.subarray(0, 4);
  }

  /** PD: check an incoming command's MAC; advances C-MAC only when it matches. */
  checkCommand(covered: Buffer, mac: Buffer): boolean {
    const m = computeMac(this.keys, this.rmac, covered);
    if (!sameBytes(m.subarray(0, 4), mac)) return false;
    this.cmac = m;
    return true;
  }

  /** PD: MAC of an outgoing reply (and the new R-MAC). */
  macReply(covered: Buffer): Buffer {
    this.rmac = computeMac(this.keys, this.cmac, covered);
    return this.rmac.subarray(0, 4);
  }

  /** CP: check an incoming reply's MAC; advances R-MAC only when it matches. */
  checkReply(covered: Buffer, mac: Buffer): boolean {
    const m = computeMac(this.keys, this.cmac, covered);
    if (!sameBytes(m.subarray(0, 4), mac)) return false;
    this.rmac = m;
    return true;
  }

  /** Command data: the IV is the last R-MAC inverted. */
  encryptCommand = (d: Buffer): Buffer => encryptData(this.keys, this.rmac, d);
  decryptCommand = (d: Buffer): Buffer | undefined => decryptData(this.keys, this.rmac, d);
  /** Reply data: the IV is the (new) C-MAC inverted. */
  encryptReply = (d: Buffer): Buffer => encryptData(this.keys, this.cmac, d);
  decryptReply = (d: Buffer): Buffer | undefined => decryptData(this.keys, this.cmac, d);
}
