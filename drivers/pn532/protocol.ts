/** PN532 command codes, status codes, timing facts and response decoders (docs/pn532.md §5-§8). */

export const CMD = {
  Diagnose: 0x00,
  GetFirmwareVersion: 0x02,
  GetGeneralStatus: 0x04,
  ReadRegister: 0x06,
  WriteRegister: 0x08,
  SetSerialBaudRate: 0x10,
  SetParameters: 0x12,
  SAMConfiguration: 0x14,
  PowerDown: 0x16,
  RFConfiguration: 0x32,
  InDataExchange: 0x40,
  InCommunicateThru: 0x42,
  InDeselect: 0x44,
  InListPassiveTarget: 0x4a,
  InRelease: 0x52,
  InSelect: 0x54,
  InAutoPoll: 0x60,
} as const;

/** RFConfiguration items (§1.7). */
export const RF_ITEM = { Field: 0x01, Timings: 0x02, MaxRtyCOM: 0x04, MaxRetries: 0x05 } as const;

/** Diagnose NumTst values used here. */
export const DIAG = { CommunicationTest: 0x00, CardPresence: 0x06 } as const;

/** Status byte (bits 5..0) of InDataExchange & co. (§1.10). */
export const STATUS = {
  Ok: 0x00,
  Timeout: 0x01,
  Crc: 0x02,
  Parity: 0x03,
  MifareFraming: 0x05,
  BufferTooSmall: 0x07,
  RfProtocol: 0x0b,
  InvalidParameter: 0x10,
  InvalidFrame: 0x13,
  MifareAuth: 0x14,
  NotAllowed: 0x26,
  NotAcceptable: 0x27,
  Released: 0x29,
} as const;

export const STATUS_MI = 0x40;
export const STATUS_NAD = 0x80;
/** Host side: Tg bit 6 in InDataExchange = more data from the host follows. */
export const TG_MI = 0x40;

/** SetParameters flags: AutomaticATR_RES | AutomaticRATS (libnfc's 0x14). */
export const PARAM_AUTO_ATR_RES = 0x04;
export const PARAM_AUTO_RATS = 0x10;

const STATUS_TEXT: Record<number, string> = {
  0x01: 'timeout (target did not answer)',
  0x02: 'CRC error',
  0x03: 'parity error',
  0x04: 'erroneous bit count',
  0x05: 'MIFARE framing error',
  0x06: 'abnormal bit collision',
  0x07: 'communication buffer too small',
  0x09: 'RF buffer overflow',
  0x0a: 'RF field not switched on in time',
  0x0b: 'RF protocol error',
  0x0d: 'overheating',
  0x0e: 'internal buffer overflow',
  0x10: 'invalid parameter',
  0x12: 'DEP unknown command',
  0x13: 'invalid received frame format',
  0x14: 'MIFARE authentication error',
  0x23: 'UID check byte wrong',
  0x25: 'DEP invalid device state',
  0x26: 'operation not allowed in this configuration',
  0x27: 'command not acceptable in current context',
  0x29: 'target released by initiator',
};

export const statusText = (s: number): string => STATUS_TEXT[s & 0x3f] ?? `status 0x${(s & 0x3f).toString(16).padStart(2, '0')}`;

export interface FirmwareVersion {
  ic: number;
  version: number;
  revision: number;
  support: number;
  /** "PN532 v1.6" */
  text: string;
}

export function decodeFirmware(body: Uint8Array): FirmwareVersion {
  if (body.length < 5) throw new Error(`GetFirmwareVersion answer too short (${body.length} bytes)`);
  const ic = body[1];
  const name = ic === 0x32 ? 'PN532' : ic === 0x33 ? 'PN533' : `IC 0x${ic.toString(16)}`;
  return { ic, version: body[2], revision: body[3], support: body[4], text: `${name} v${body[2]}.${body[3]}` };
}

/** One ISO 14443-A target as InListPassiveTarget / InAutoPoll report it. */
export interface TargetA {
  tg: number;
  /** SENS_RES, MSB first as the PN532 prints it (00 04 = Classic 1K). */
  atqa: Buffer;
  sak: number;
  uid: Buffer;
  /** Full ATS including TL, when the PN532 did RATS. */
  ats?: Buffer;
}

/** Decode one type A TargetData at `off`; returns the target and the offset after it. */
export function decodeTargetA(b: Uint8Array, off: number, end = b.length): { target: TargetA; next: number } {
  if (off + 5 > end) throw new Error('type A target data truncated');
  const tg = b[off];
  const atqa = Buffer.from(b.subarray(off + 1, off + 3));
  const sak = b[off + 3];
  const uidLen = b[off + 4];
  if (![4, 7, 10].includes(uidLen) || off + 5 + uidLen > end) throw new Error(`type A target data: bad UID length ${uidLen}`);
  const uid = Buffer.from(b.subarray(off + 5, off + 5 + uidLen));
  let next = off + 5 + uidLen;
  let ats: Buffer | undefined;
  if (sak & 0x20 && next < end) {
    const tl = b[next];
    if (tl < 1 || next + tl > end) throw new Error(`type A target data: bad ATS length ${tl}`);
    ats = Buffer.from(b.subarray(next, next + tl));
    next += tl;
  }
  return { target: { tg, atqa, sak, uid, ats }, next };
}

/** `4B NbTg TargetData...` body (response code included) -> targets. */
export function decodeListPassiveTarget(body: Uint8Array): TargetA[] {
  if (body.length < 2) throw new Error('InListPassiveTarget answer too short');
  const n = body[1];
  const out: TargetA[] = [];
  let off = 2;
  for (let k = 0; k < n; k++) {
    const { target, next } = decodeTargetA(body, off);
    out.push(target);
    off = next;
  }
  return out;
}


/** InAutoPoll target types used for type A cards (docs/pn532.md §17): ISO 14443-4A, MIFARE, generic 106 kbps. */
export const AUTOPOLL_TYPE = { Generic106: 0x00, Mifare: 0x10, Iso14443_4A: 0x20 } as const;

/**
 * `61 NbTg {Type Len TargetData}...` (response code included) -> the type A
 * targets; targets of other types are skipped by their length.
 */
export function decodeAutoPoll(body: Uint8Array): TargetA[] {
  if (body.length < 2) throw new Error('InAutoPoll answer too short');
  const n = body[1];
  const out: TargetA[] = [];
  let off = 2;
  for (let k = 0; k < n; k++) {
    if (off + 2 > body.length) throw new Error('InAutoPoll answer truncated');
    const type = body[off];
    const end = off + 2 + body[off + 1];
    if (end > body.length) throw new Error(`InAutoPoll target of type 0x${type.toString(16)}: length ${body[off + 1]} beyond the answer`);
    if (type === AUTOPOLL_TYPE.Generic106 || type === AUTOPOLL_TYPE.Mifare || type === AUTOPOLL_TYPE.Iso14443_4A) {
      const { target, next } = decodeTargetA(body, off + 2, end);
      if (next !== end) throw new Error(`InAutoPoll target of type 0x${type.toString(16)}: ${end - next} bytes left over`);
      out.push(target);
    }
    off = end;
  }
  return out;
}

/** SetSerialBaudRate codes 00..08 (docs/pn532.md §6). */
export const HSU_BAUD = [9600, 19200, 38400, 57600, 115200, 230400, 460800, 921600, 1288000] as const;

/** CIU_TxControl: bits 0-1 (Tx1RFEn, Tx2RFEn) drive the antenna; read back to verify the RF configuration (docs/pn532.md §7). */
export const REG_CIU_TX_CONTROL = 0x6302;

/** FWT = 256 x 16 / fc x 2^FWI with fc = 13.56 MHz, in ms (docs/pn532.md §8). */
export const fwtMs = (fwi: number): number => ((256 * 16 * 1000) / 13.56e6) * 2 ** fwi;

/** FWI from an ATS without TL: TB(1) upper nibble; 4 when TB(1) is absent; 15 is RFU and read as 4 (docs/pn532.md §8). */
export function atsFwi(ats: Uint8Array | undefined): number {
  if (!ats || ats.length < 1) return 4;
  const t0 = ats[0];
  if (!(t0 & 0x20)) return 4;
  const tb = ats[t0 & 0x10 ? 2 : 1];
  if (tb === undefined) return 4;
  const fwi = tb >> 4;
  return fwi === 15 ? 4 : fwi;
}

/**
 * How long the PN532 takes to report a silent ISO 14443-4 card (status 01):
 * every try waits FWT for the frame and for each of two retransmissions, and
 * MaxRtyCOM adds tries (docs/pn532.md §8).
 */
export const goneAfterMs = (fwi: number, maxRtyCom: number): number => 3 * fwtMs(fwi) * (maxRtyCom + 1);
