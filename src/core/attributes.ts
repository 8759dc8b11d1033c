/**
 * SCardGetAttrib / SCardSetAttrib. The core answers what it knows itself
 * (ATR, protocol, presence, names); the driver answers the rest. Unknown
 * tags are SCARD_E_UNSUPPORTED_FEATURE as in pcscd. A caller's buffer being
 * too small is the frontend's business (it knows the caller's buffer).
 */
import { ATTR, LIMITS, SCARD } from '../pcsc/constants.js';
import { PcscError } from '../pcsc/error.js';
import type { Reader } from './reader.js';

const dword = (n: number): Buffer => {
  const b = Buffer.alloc(4);
  b.writeUInt32LE(n >>> 0);
  return b;
};
/** Strings go out NUL-terminated, as libccid and pcscd give them. */
const cstr = (s: string): Buffer => Buffer.from(`${s}\0`, 'latin1');

export function getAttribute(r: Reader, tag: number): Buffer {
  const dev = r.device;
  switch (tag >>> 0) {
    case ATTR.ATR_STRING:
      if (!r.present || r.atr.length === 0) throw new PcscError(SCARD.E_NO_SMARTCARD, 'no ATR: no powered card');
      return Buffer.from(r.atr);
    case ATTR.CURRENT_PROTOCOL_TYPE:
      return dword(r.protocol);
    case ATTR.ICC_PRESENCE:
      // libccid's values: 0 absent, 2 present (1 and 4 are for swallow/confiscate readers).
      return Buffer.from([r.present ? 2 : 0]);
    case ATTR.ICC_INTERFACE_STATUS:
      return Buffer.from([r.present && r.powered ? 1 : 0]);
    case ATTR.DEVICE_FRIENDLY_NAME_A:
    case ATTR.DEVICE_SYSTEM_NAME_A:
      return driverValue(r, tag) ?? cstr(r.name);
    case ATTR.DEVICE_FRIENDLY_NAME_W:
    case ATTR.DEVICE_SYSTEM_NAME_W:
      return driverValue(r, tag) ?? Buffer.from(`${r.name}\0`, 'utf16le');
    case ATTR.CHANNEL_ID:
      return driverValue(r, tag) ?? (dev.channelId !== undefined ? dword(dev.channelId) : unsupported(tag));
    case ATTR.VENDOR_NAME:
      return driverValue(r, tag) ?? (dev.vendor !== undefined ? cstr(dev.vendor) : unsupported(tag));
    case ATTR.VENDOR_IFD_TYPE:
      return driverValue(r, tag) ?? (dev.ifdType !== undefined ? cstr(dev.ifdType) : unsupported(tag));
    case ATTR.VENDOR_IFD_VERSION:
      return driverValue(r, tag) ?? (dev.ifdVersion !== undefined ? dword(dev.ifdVersion) : unsupported(tag));
    case ATTR.VENDOR_IFD_SERIAL_NO:
      return driverValue(r, tag) ?? (dev.serial !== undefined ? cstr(dev.serial) : unsupported(tag));
    case ATTR.MAXINPUT:
      return driverValue(r, tag) ?? dword(r.slot.level === 'apdu' ? LIMITS.MAX_BUFFER_SIZE_EXTENDED : LIMITS.MAX_BUFFER_SIZE);
    case ATTR.DEVICE_UNIT:
      return driverValue(r, tag) ?? dword(r.slot.index);
    case ATTR.DEVICE_IN_USE:
      return dword(r.sharing !== 0 ? 1 : 0);
    default:
      return driverValue(r, tag) ?? unsupported(tag);
  }
}

export function setAttribute(r: Reader, tag: number, value: Buffer): void {
  if (!r.slot.setAttribute) throw new PcscError(SCARD.E_UNSUPPORTED_FEATURE, `attribute 0x${hex(tag)} cannot be set on this reader`);
  let ok: boolean;
  try {
    ok = r.slot.setAttribute(tag >>> 0, value);
  } catch (e) {
    throw new PcscError(SCARD.E_NOT_TRANSACTED, `setting attribute 0x${hex(tag)} failed: ${(e as Error).message}`);
  }
  if (!ok) throw new PcscError(SCARD.E_UNSUPPORTED_FEATURE, `attribute 0x${hex(tag)} cannot be set on this reader`);
}

function driverValue(r: Reader, tag: number): Buffer | undefined {
  try {
    return r.slot.getAttribute?.(tag >>> 0);
  } catch (e) {
    throw new PcscError(SCARD.E_NOT_TRANSACTED, `reading attribute 0x${hex(tag)} failed: ${(e as Error).message}`);
  }
}

const hex = (n: number): string => (n >>> 0).toString(16).toUpperCase().padStart(8, '0');

function unsupported(tag: number): never {
  throw new PcscError(SCARD.E_UNSUPPORTED_FEATURE, `attribute 0x${hex(tag)} is not known for this reader`);
}
