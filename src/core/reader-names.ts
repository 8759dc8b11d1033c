/**
 * pcscd-style reader names: `<friendly>[ [<interface>]][ (<serial>)] RR SS`
 * (docs/pcsc.md §6). PC/SC programs display and match these names, so
 * they must look like the ones pcscd would give the same device.
 */
import { LIMITS } from '../pcsc/constants.js';

/** Room kept for " RR SS" so the whole name fits MAX_READERNAME with its NUL. */
const SUFFIX_LEN = ' 00 00'.length;
const BASE_MAX = LIMITS.MAX_READERNAME - SUFFIX_LEN - 1;

const hex2 = (n: number): string => (n & 0xff).toString(16).toUpperCase().padStart(2, '0');

/** pcscd replaces non-ASCII bytes of the USB interface string by '.'. */
const asciiOnly = (s: string): string => s.replace(/[^\x20-\x7e]/g, '.');

export interface NameParts {
  friendlyName: string;
  interfaceName?: string;
  serial?: string;
}

/** The name without " RR SS", cut as pcscd cuts it. */
export function readerBaseName(p: NameParts): string {
  let name = asciiOnly(p.friendlyName);
  const iface = p.interfaceName ? asciiOnly(p.interfaceName) : '';
  if (iface) name += ` [${iface}]`;
  // pcscd leaves the serial out when the interface string already shows it.
  if (p.serial && !iface.includes(p.serial)) name += ` (${asciiOnly(p.serial)})`;
  return name.length > BASE_MAX ? name.slice(0, BASE_MAX) : name;
}

/** Full PC/SC reader name of one slot. */
export function readerName(p: NameParts, instance: number, slot: number): string {
  return `${readerBaseName(p)} ${hex2(instance)} ${hex2(slot)}`;
}

/**
 * Instance numbers (RR) per driver name: the lowest number no other reader of
 * the same driver uses, as pcscd allocates them.
 */
export class InstanceAllocator {
  private readonly used = new Map<string, Set<number>>();

  /** Take `wanted` when given and free, else the lowest free number. */
  take(driver: string, wanted?: number): number {
    let set = this.used.get(driver);
    if (!set) this.used.set(driver, (set = new Set()));
    let n = 0;
    if (wanted !== undefined && Number.isInteger(wanted) && wanted >= 0 && wanted <= 0xff && !set.has(wanted)) n = wanted;
    else while (set.has(n)) n++;
    set.add(n);
    return n;
  }

  release(driver: string, n: number): void {
    this.used.get(driver)?.delete(n);
  }
}
