/**
 * CCID bulk messages (docs/ccid.md §3): the 10-byte header both ways, the
 * message codes, bStatus/bError and the slot-error to PC/SC mapping.
 */
import { SCARD } from '../../src/pcsc/constants.js';
import { PcscError } from '../../src/pcsc/error.js';

export const HEADER_LENGTH = 10;

export const PC_TO_RDR = {
  SetParameters: 0x61,
  IccPowerOn: 0x62,
  IccPowerOff: 0x63,
  GetSlotStatus: 0x65,
  Secure: 0x69,
  T0APDU: 0x6a,
  Escape: 0x6b,
  GetParameters: 0x6c,
  ResetParameters: 0x6d,
  IccClock: 0x6e,
  XfrBlock: 0x6f,
  Mechanical: 0x71,
  Abort: 0x72,
  SetDataRateAndClockFrequency: 0x73,
} as const;

export const RDR_TO_PC = {
  DataBlock: 0x80,
  SlotStatus: 0x81,
  Parameters: 0x82,
  Escape: 0x83,
  DataRateAndClockFrequency: 0x84,
  NotifySlotChange: 0x50,
  HardwareError: 0x51,
} as const;

/** Class-specific control requests (interface recipient). */
export const CLASS_REQUEST = { ABORT: 0x01, GET_CLOCK_FREQUENCIES: 0x02, GET_DATA_RATES: 0x03 } as const;

/** bmICCStatus (bStatus bits 1..0). */
export const ICC = { ACTIVE: 0, INACTIVE: 1, ABSENT: 2 } as const;
/** bmCommandStatus (bStatus bits 7..6). */
export const CMD = { OK: 0, FAILED: 1, TIME_EXTENSION: 2 } as const;

export const SLOT_ERROR = {
  CMD_NOT_SUPPORTED: 0x00,
  BAD_LENGTH: 0x01,
  BAD_SLOT: 0x05,
  BAD_POWERSELECT: 0x07,
  BAD_PROTOCOLNUM: 0x07,
  BAD_LEVEL_PARAMETER: 0x08,
  CMD_ABORTED: 0xff,
  ICC_MUTE: 0xfe,
  XFR_PARITY_ERROR: 0xfd,
  XFR_OVERRUN: 0xfc,
  HW_ERROR: 0xfb,
  BAD_ATR_TS: 0xf8,
  BAD_ATR_TCK: 0xf7,
  ICC_PROTOCOL_NOT_SUPPORTED: 0xf6,
  ICC_CLASS_NOT_SUPPORTED: 0xf5,
  PROCEDURE_BYTE_CONFLICT: 0xf4,
  DEACTIVATED_PROTOCOL: 0xf3,
  BUSY_WITH_AUTO_SEQUENCE: 0xf2,
  PIN_TIMEOUT: 0xf0,
  PIN_CANCELLED: 0xef,
  CMD_SLOT_BUSY: 0xe0,
} as const;

export interface CcidHeader {
  type: number;
  length: number;
  slot: number;
  seq: number;
  /** Bytes 7, 8, 9 (bStatus, bError, bChainParameter / bClockStatus / bProtocolNum for replies). */
  p: [number, number, number];
}

export interface CcidMessage extends CcidHeader {
  data: Buffer;
}

export function encodeMessage(type: number, slot: number, seq: number, p: readonly [number, number, number], data: Uint8Array = Buffer.alloc(0)): Buffer {
  const out = Buffer.allocUnsafe(HEADER_LENGTH + data.length);
  out[0] = type;
  out.writeUInt32LE(data.length, 1);
  out[5] = slot;
  out[6] = seq & 0xff;
  out[7] = p[0];
  out[8] = p[1];
  out[9] = p[2];
  out.set(data, HEADER_LENGTH);
  return out;
}

export type DecodeResult = { ok: true; msg: CcidMessage } | { ok: false; reason: string };

/** A bulk transfer as one message; a short or inconsistent transfer is reported, not thrown. */
export function decodeMessage(raw: Uint8Array): DecodeResult {
  if (raw.length < HEADER_LENGTH) return { ok: false, reason: `${raw.length}-byte transfer is shorter than the 10-byte CCID header` };
  const b = Buffer.from(raw.buffer, raw.byteOffset, raw.length);
  const length = b.readUInt32LE(1);
  if (raw.length !== HEADER_LENGTH + length) return { ok: false, reason: `dwLength ${length} but ${raw.length - HEADER_LENGTH} data bytes arrived` };
  return { ok: true, msg: { type: b[0], length, slot: b[5], seq: b[6], p: [b[7], b[8], b[9]], data: Buffer.from(b.subarray(HEADER_LENGTH)) } };
}

export const iccStatus = (bStatus: number): number => bStatus & 0x03;
export const commandStatus = (bStatus: number): number => (bStatus >> 6) & 0x03;

const NAMES: Record<number, string> = Object.fromEntries(Object.entries(SLOT_ERROR).map(([k, v]) => [v, k]));
export const slotErrorName = (e: number): string => NAMES[e] ?? (e >= 0x81 && e <= 0xc0 ? `vendor 0x${e.toString(16)}` : `0x${e.toString(16)}`);

/**
 * A failed command (bmCommandStatus 1) as a PC/SC error (docs/ccid.md §3.3):
 * no or mute card -> E_NO_SMARTCARD / W_UNRESPONSIVE_CARD, aborted -> E_CANCELLED,
 * unsupported -> E_UNSUPPORTED_FEATURE, the rest a communication error.
 */
export function slotErrorToPcsc(what: string, bStatus: number, bError: number): PcscError {
  const detail = `(${what}: slot error ${slotErrorName(bError)}, ICC status ${iccStatus(bStatus)})`;
  if (iccStatus(bStatus) === ICC.ABSENT) return new PcscError(SCARD.E_NO_SMARTCARD, detail);
  switch (bError) {
    case SLOT_ERROR.ICC_MUTE:
    case SLOT_ERROR.BAD_ATR_TS:
    case SLOT_ERROR.BAD_ATR_TCK:
    case SLOT_ERROR.ICC_CLASS_NOT_SUPPORTED:
      return new PcscError(SCARD.W_UNRESPONSIVE_CARD, detail);
    case SLOT_ERROR.ICC_PROTOCOL_NOT_SUPPORTED:
      return new PcscError(SCARD.E_PROTO_MISMATCH, detail);
    case SLOT_ERROR.CMD_ABORTED:
      return new PcscError(SCARD.E_CANCELLED, detail);
    case SLOT_ERROR.CMD_NOT_SUPPORTED:
      return new PcscError(SCARD.E_UNSUPPORTED_FEATURE, detail);
    case SLOT_ERROR.CMD_SLOT_BUSY:
      return new PcscError(SCARD.E_SHARING_VIOLATION, detail);
    case SLOT_ERROR.HW_ERROR:
      return new PcscError(SCARD.E_READER_UNAVAILABLE, detail);
    default:
      return new PcscError(SCARD.F_COMM_ERROR, detail);
  }
}
