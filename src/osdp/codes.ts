/**
 * OSDP command, reply, NAK and security-block codes: the one place they are
 * spelled out (docs/osdp.md §3-§5).
 */
export const SOM = 0x53;
/** Optional mark byte some CPs send before SOM (OSDP 2.2 "driver enable" padding). */
export const MARK = 0xff;
export const BROADCAST = 0x7f;
/** Bit 7 of the address byte: set in every reply. */
export const REPLY_FLAG = 0x80;

export const CTRL = { SQN: 0x03, CRC: 0x04, SCB: 0x08, MULTI: 0x80 } as const;

export const CMD = {
  POLL: 0x60,
  ID: 0x61,
  CAP: 0x62,
  LSTAT: 0x64,
  ISTAT: 0x65,
  OSTAT: 0x66,
  RSTAT: 0x67,
  OUT: 0x68,
  LED: 0x69,
  BUZ: 0x6a,
  TEXT: 0x6b,
  TDSET: 0x6d,
  COMSET: 0x6e,
  BIOREAD: 0x73,
  BIOMATCH: 0x74,
  KEYSET: 0x75,
  CHLNG: 0x76,
  SCRYPT: 0x77,
  ACURXSIZE: 0x7b,
  FILETRANSFER: 0x7c,
  MFG: 0x80,
  XWR: 0xa1,
  ABORT: 0xa2,
  PIVDATA: 0xa3,
  GENAUTH: 0xa4,
  CRAUTH: 0xa5,
  KEEPACTIVE: 0xa7,
} as const;

export const REPLY = {
  ACK: 0x40,
  NAK: 0x41,
  PDID: 0x45,
  PDCAP: 0x46,
  LSTATR: 0x48,
  ISTATR: 0x49,
  OSTATR: 0x4a,
  RSTATR: 0x4b,
  RAW: 0x50,
  FMT: 0x51,
  KEYPAD: 0x53,
  COM: 0x54,
  BIOREADR: 0x57,
  BIOMATCHR: 0x58,
  CCRYPT: 0x76,
  RMAC_I: 0x78,
  BUSY: 0x79,
  FTSTAT: 0x7a,
  PIVDATAR: 0x80,
  GENAUTHR: 0x81,
  CRAUTHR: 0x82,
  MFGSTATR: 0x83,
  MFGERRR: 0x84,
  MFGREP: 0x90,
  XRD: 0xb1,
} as const;

/** osdp_NAK error codes (first data byte of the NAK reply). */
export const NAK = {
  NONE: 0x00,
  /** Message check character(s) error (bad CRC/checksum). */
  CHECK: 0x01,
  /** Command length error. */
  LENGTH: 0x02,
  /** Unknown command code: not implemented by the PD. */
  UNKNOWN_COMMAND: 0x03,
  /** Unexpected sequence number in the header. */
  SEQUENCE: 0x04,
  /** Security block not supported, or security conditions not met (wrong cryptogram, MAC, key). */
  SC_UNSUPPORTED: 0x05,
  /** Encrypted communication required to process this command. */
  SC_REQUIRED: 0x06,
  BIO_TYPE: 0x07,
  BIO_FORMAT: 0x08,
  /** Unable to process the command record (bad values in it). */
  RECORD: 0x09,
} as const;

/** Security block types (SEC_BLK_TYPE). */
export const SCS = {
  /** CP -> PD osdp_CHLNG; data byte: 0 = SCBK-D, 1 = SCBK. */
  S11: 0x11,
  /** PD -> CP osdp_CCRYPT; data byte: key used. */
  S12: 0x12,
  /** CP -> PD osdp_SCRYPT; data byte: key used. */
  S13: 0x13,
  /** PD -> CP osdp_RMAC_I; data byte: 0x01 = CP cryptogram accepted, 0xFF = refused. */
  S14: 0x14,
  /** CP -> PD, MAC, data in clear. */
  S15: 0x15,
  /** PD -> CP, MAC, data in clear. */
  S16: 0x16,
  /** CP -> PD, MAC, data encrypted. */
  S17: 0x17,
  /** PD -> CP, MAC, data encrypted. */
  S18: 0x18,
} as const;

/** osdp_PDCAP function codes. */
export const CAP = {
  CONTACT_STATUS: 1,
  OUTPUT_CONTROL: 2,
  CARD_DATA_FORMAT: 3,
  READER_LED: 4,
  READER_AUDIBLE: 5,
  READER_TEXT: 6,
  TIME_KEEPING: 7,
  CHECK_CHARACTER: 8,
  COMMUNICATION_SECURITY: 9,
  RECEIVE_BUFFER: 10,
  LARGEST_MESSAGE: 11,
  SMART_CARD: 12,
  READERS: 13,
  BIOMETRICS: 14,
  SECURE_PIN_ENTRY: 15,
  OSDP_VERSION: 16,
} as const;

/** LED colours of osdp_LED. */
export const COLOR = { BLACK: 0, RED: 1, GREEN: 2, AMBER: 3, BLUE: 4, MAGENTA: 5, CYAN: 6, WHITE: 7 } as const;

const invert = (o: Record<string, number>): Map<number, string> => new Map(Object.entries(o).map(([k, v]) => [v, k]));
const CMD_NAMES = invert(CMD);
const REPLY_NAMES = invert(REPLY);
const NAK_NAMES = invert(NAK);

export function commandName(code: number): string {
  return `osdp_${CMD_NAMES.get(code) ?? `0x${code.toString(16).padStart(2, '0')}`}`;
}

export function replyName(code: number): string {
  return `osdp_${REPLY_NAMES.get(code) ?? `0x${code.toString(16).padStart(2, '0')}`}`;
}

export function nakName(code: number): string {
  return NAK_NAMES.get(code) ?? `0x${code.toString(16).padStart(2, '0')}`;
}
