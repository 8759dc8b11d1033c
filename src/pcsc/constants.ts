/**
 * PC/SC constants: the one table every layer uses (core, pcsc socket, MQTT,
 * HTTP, CLI). Numeric values are pcsc-lite 1.9.9's, so they go on the wire as is.
 */

/** Return codes (LONG on the wire, sent as uint32). */
export const SCARD = {
  S_SUCCESS: 0x00000000,
  F_INTERNAL_ERROR: 0x80100001,
  E_CANCELLED: 0x80100002,
  E_INVALID_HANDLE: 0x80100003,
  E_INVALID_PARAMETER: 0x80100004,
  E_INVALID_TARGET: 0x80100005,
  E_NO_MEMORY: 0x80100006,
  F_WAITED_TOO_LONG: 0x80100007,
  E_INSUFFICIENT_BUFFER: 0x80100008,
  E_UNKNOWN_READER: 0x80100009,
  E_TIMEOUT: 0x8010000a,
  E_SHARING_VIOLATION: 0x8010000b,
  E_NO_SMARTCARD: 0x8010000c,
  E_UNKNOWN_CARD: 0x8010000d,
  E_CANT_DISPOSE: 0x8010000e,
  E_PROTO_MISMATCH: 0x8010000f,
  E_NOT_READY: 0x80100010,
  E_INVALID_VALUE: 0x80100011,
  E_SYSTEM_CANCELLED: 0x80100012,
  F_COMM_ERROR: 0x80100013,
  F_UNKNOWN_ERROR: 0x80100014,
  E_INVALID_ATR: 0x80100015,
  E_NOT_TRANSACTED: 0x80100016,
  E_READER_UNAVAILABLE: 0x80100017,
  P_SHUTDOWN: 0x80100018,
  E_PCI_TOO_SMALL: 0x80100019,
  E_READER_UNSUPPORTED: 0x8010001a,
  E_DUPLICATE_READER: 0x8010001b,
  E_CARD_UNSUPPORTED: 0x8010001c,
  E_NO_SERVICE: 0x8010001d,
  E_SERVICE_STOPPED: 0x8010001e,
  /** pcsc-lite's value; same number as E_UNEXPECTED there. */
  E_UNSUPPORTED_FEATURE: 0x8010001f,
  E_ICC_INSTALLATION: 0x80100020,
  E_ICC_CREATEORDER: 0x80100021,
  E_DIR_NOT_FOUND: 0x80100023,
  E_FILE_NOT_FOUND: 0x80100024,
  E_NO_DIR: 0x80100025,
  E_NO_FILE: 0x80100026,
  E_NO_ACCESS: 0x80100027,
  E_WRITE_TOO_MANY: 0x80100028,
  E_BAD_SEEK: 0x80100029,
  E_INVALID_CHV: 0x8010002a,
  E_UNKNOWN_RES_MNG: 0x8010002b,
  E_NO_SUCH_CERTIFICATE: 0x8010002c,
  E_CERTIFICATE_UNAVAILABLE: 0x8010002d,
  E_NO_READERS_AVAILABLE: 0x8010002e,
  E_COMM_DATA_LOST: 0x8010002f,
  E_NO_KEY_CONTAINER: 0x80100030,
  E_SERVER_TOO_BUSY: 0x80100031,
  W_UNSUPPORTED_CARD: 0x80100065,
  W_UNRESPONSIVE_CARD: 0x80100066,
  W_UNPOWERED_CARD: 0x80100067,
  W_RESET_CARD: 0x80100068,
  W_REMOVED_CARD: 0x80100069,
  W_SECURITY_VIOLATION: 0x8010006a,
  W_WRONG_CHV: 0x8010006b,
  W_CHV_BLOCKED: 0x8010006c,
  W_EOF: 0x8010006d,
  W_CANCELLED_BY_USER: 0x8010006e,
  W_CARD_NOT_AUTHENTICATED: 0x8010006f,
  /** Windows' Smart Card data cache (SCardReadCache/SCardWriteCache; pcsc-lite has none): src/core/data-cache.ts. */
  W_CACHE_ITEM_NOT_FOUND: 0x80100070,
  W_CACHE_ITEM_STALE: 0x80100071,
  W_CACHE_ITEM_TOO_BIG: 0x80100072,
} as const;

export type ScardCodeName = keyof typeof SCARD;

/** pcsc_stringify_error()'s texts (pcsc-lite 1.9.9), so every frontend says the same. */
const MESSAGES: Partial<Record<ScardCodeName, string>> = {
  S_SUCCESS: 'Command successful.',
  F_INTERNAL_ERROR: 'Internal error.',
  E_CANCELLED: 'Command cancelled.',
  E_INVALID_HANDLE: 'Invalid handle.',
  E_INVALID_PARAMETER: 'Invalid parameter given.',
  E_INVALID_TARGET: 'Invalid target given.',
  E_NO_MEMORY: 'Not enough memory.',
  F_WAITED_TOO_LONG: 'Waited too long.',
  E_INSUFFICIENT_BUFFER: 'Insufficient buffer.',
  E_UNKNOWN_READER: 'Unknown reader specified.',
  E_TIMEOUT: 'Command timeout.',
  E_SHARING_VIOLATION: 'Sharing violation.',
  E_NO_SMARTCARD: 'No smart card inserted.',
  E_UNKNOWN_CARD: 'Unknown card.',
  E_CANT_DISPOSE: 'Cannot dispose handle.',
  E_PROTO_MISMATCH: 'Card protocol mismatch.',
  E_NOT_READY: 'Subsystem not ready.',
  E_INVALID_VALUE: 'Invalid value given.',
  E_SYSTEM_CANCELLED: 'System cancelled.',
  F_COMM_ERROR: 'RPC transport error.',
  F_UNKNOWN_ERROR: 'Unknown error.',
  E_INVALID_ATR: 'Invalid ATR.',
  E_NOT_TRANSACTED: 'Transaction failed.',
  E_READER_UNAVAILABLE: 'Reader is unavailable.',
  P_SHUTDOWN: 'Shutdown.',
  E_PCI_TOO_SMALL: 'PCI struct too small.',
  E_READER_UNSUPPORTED: 'Reader is unsupported.',
  E_DUPLICATE_READER: 'Reader already exists.',
  E_CARD_UNSUPPORTED: 'Card is unsupported.',
  E_NO_SERVICE: 'Service not available.',
  E_SERVICE_STOPPED: 'Service was stopped.',
  E_UNSUPPORTED_FEATURE: 'Feature not supported.',
  E_NO_READERS_AVAILABLE: 'Cannot find a smart card reader.',
  W_UNSUPPORTED_CARD: 'Card is not supported.',
  W_UNRESPONSIVE_CARD: 'Card is unresponsive.',
  W_UNPOWERED_CARD: 'Card is unpowered.',
  W_RESET_CARD: 'Card was reset.',
  W_REMOVED_CARD: 'Card was removed.',
  W_SECURITY_VIOLATION: 'Access denied.',
  W_WRONG_CHV: 'Wrong PIN.',
  W_CHV_BLOCKED: 'PIN blocked.',
  W_EOF: 'End of file.',
  W_CANCELLED_BY_USER: 'User cancelled.',
  W_CARD_NOT_AUTHENTICATED: 'Card not authenticated.',
  W_CACHE_ITEM_NOT_FOUND: 'Cache item not found.',
  W_CACHE_ITEM_STALE: 'Cache item is stale.',
  W_CACHE_ITEM_TOO_BIG: 'Cache item is too big.',
};

const NAME_BY_CODE = new Map<number, ScardCodeName>(
  (Object.entries(SCARD) as [ScardCodeName, number][]).map(([k, v]) => [v, k]),
);

/** "SCARD_E_NO_SMARTCARD" for 0x8010000C; a hex string for an unknown code. */
export function scardName(code: number): string {
  const n = NAME_BY_CODE.get(code >>> 0);
  return n ? `SCARD_${n}` : `0x${(code >>> 0).toString(16).toUpperCase().padStart(8, '0')}`;
}

export function scardMessage(code: number): string {
  const n = NAME_BY_CODE.get(code >>> 0);
  return (n && MESSAGES[n]) ?? `Unknown error: 0x${(code >>> 0).toString(16).toUpperCase().padStart(8, '0')}`;
}

export const PROTOCOL = { UNDEFINED: 0x0, T0: 0x1, T1: 0x2, RAW: 0x4, T15: 0x8, ANY: 0x3, ANY_LEGACY: 0x1000 } as const;
export const SHARE = { EXCLUSIVE: 1, SHARED: 2, DIRECT: 3 } as const;
export const DISPOSITION = { LEAVE: 0, RESET: 1, UNPOWER: 2, EJECT: 3 } as const;
export const SCOPE = { USER: 0, TERMINAL: 1, SYSTEM: 2, GLOBAL: 3 } as const;
export const INFINITE = 0xffffffff;

/** Reader state as SCardStatus reports it (low word). */
export const CARD_STATE = {
  UNKNOWN: 0x0001, ABSENT: 0x0002, PRESENT: 0x0004, SWALLOWED: 0x0008,
  POWERED: 0x0010, NEGOTIABLE: 0x0020, SPECIFIC: 0x0040,
} as const;

/** SCardGetStatusChange dwCurrentState/dwEventState bits; upper 16 bits = event counter. */
export const STATE = {
  UNAWARE: 0x0000, IGNORE: 0x0001, CHANGED: 0x0002, UNKNOWN: 0x0004,
  UNAVAILABLE: 0x0008, EMPTY: 0x0010, PRESENT: 0x0020, ATRMATCH: 0x0040,
  EXCLUSIVE: 0x0080, INUSE: 0x0100, MUTE: 0x0200, UNPOWERED: 0x0400,
} as const;

export const PNP_NOTIFICATION = '\\\\?PnP?\\Notification';

export const LIMITS = {
  MAX_READERS_CONTEXTS: 16,
  MAX_READERNAME: 128,
  MAX_ATR_SIZE: 33,
  MAX_BUFFER_SIZE: 264,
  MAX_BUFFER_SIZE_EXTENDED: 65548,
  MAX_CONTEXT_CARD_HANDLES: 200,
  MAX_READER_HANDLES: 200,
} as const;

export const attrValue = (cls: number, tag: number): number => ((cls << 16) | tag) >>> 0;

export const ATTR = {
  VENDOR_NAME: 0x00010100,
  VENDOR_IFD_TYPE: 0x00010101,
  VENDOR_IFD_VERSION: 0x00010102,
  VENDOR_IFD_SERIAL_NO: 0x00010103,
  CHANNEL_ID: 0x00020110,
  ASYNC_PROTOCOL_TYPES: 0x00030120,
  DEFAULT_CLK: 0x00030121,
  MAX_CLK: 0x00030122,
  DEFAULT_DATA_RATE: 0x00030123,
  MAX_DATA_RATE: 0x00030124,
  MAX_IFSD: 0x00030125,
  SYNC_PROTOCOL_TYPES: 0x00030126,
  POWER_MGMT_SUPPORT: 0x00040131,
  CHARACTERISTICS: 0x00060150,
  CURRENT_PROTOCOL_TYPE: 0x00080201,
  CURRENT_CLK: 0x00080202,
  CURRENT_F: 0x00080203,
  CURRENT_D: 0x00080204,
  CURRENT_N: 0x00080205,
  CURRENT_W: 0x00080206,
  CURRENT_IFSC: 0x00080207,
  CURRENT_IFSD: 0x00080208,
  CURRENT_BWT: 0x00080209,
  CURRENT_CWT: 0x0008020a,
  ICC_PRESENCE: 0x00090300,
  ICC_INTERFACE_STATUS: 0x00090301,
  CURRENT_IO_STATE: 0x00090302,
  ATR_STRING: 0x00090303,
  ICC_TYPE_PER_ATR: 0x00090304,
  ESC_RESET: 0x0007a000,
  ESC_CANCEL: 0x0007a003,
  ESC_AUTHREQUEST: 0x0007a005,
  MAXINPUT: 0x0007a007,
  DEVICE_UNIT: 0x7fff0001,
  DEVICE_IN_USE: 0x7fff0002,
  DEVICE_FRIENDLY_NAME_A: 0x7fff0003,
  DEVICE_SYSTEM_NAME_A: 0x7fff0004,
  DEVICE_FRIENDLY_NAME_W: 0x7fff0005,
  DEVICE_SYSTEM_NAME_W: 0x7fff0006,
  SUPRESS_T1_IFS_REQUEST: 0x7fff0007,
} as const;

export const scardCtlCode = (c: number): number => (0x42000000 + c) >>> 0;
export const CM_IOCTL_GET_FEATURE_REQUEST = scardCtlCode(3400);

/** PC/SC part 10 feature tags (the TLV answer to CM_IOCTL_GET_FEATURE_REQUEST). */
export const FEATURE = {
  VERIFY_PIN_START: 0x01, VERIFY_PIN_FINISH: 0x02, MODIFY_PIN_START: 0x03, MODIFY_PIN_FINISH: 0x04,
  GET_KEY_PRESSED: 0x05, VERIFY_PIN_DIRECT: 0x06, MODIFY_PIN_DIRECT: 0x07, MCT_READER_DIRECT: 0x08,
  MCT_UNIVERSAL: 0x09, IFD_PIN_PROPERTIES: 0x0a, ABORT: 0x0b, SET_SPE_MESSAGE: 0x0c,
  VERIFY_PIN_DIRECT_APP_ID: 0x0d, MODIFY_PIN_DIRECT_APP_ID: 0x0e, WRITE_DISPLAY: 0x0f,
  GET_KEY: 0x10, IFD_DISPLAY_PROPERTIES: 0x11, GET_TLV_PROPERTIES: 0x12, CCID_ESC_COMMAND: 0x13,
  EXECUTE_PACE: 0x20,
} as const;
