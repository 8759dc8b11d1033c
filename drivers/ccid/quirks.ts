/**
 * Per-reader quirks: one table, each entry with the reason and where the
 * fact comes from (docs/ccid.md §6). Matched on vendor:product (and a
 * firmware range where the quirk is tied to firmware).
 */

export interface Quirks {
  /** The reader's contactless front end: card events carry the UID (PC/SC part 3 GET DATA in firmware). */
  contactless?: boolean;
  /** LED/buzzer dialect spoken over PC_to_RDR_Escape. */
  feedback?: 'acr122u' | 'acr1252u';
  /** Per-interface override of `contactless`/`feedback` (composite readers). */
  interfaces?: Record<number, Pick<Quirks, 'contactless' | 'feedback'>>;
  /** Timeout for GetSlotStatus, when the reader answers it slowly. */
  slotStatusTimeoutMs?: number;
  /** The descriptor claims a PIN pad the reader does not have: bPINSupport is ignored. */
  noPinPad?: boolean;
  /** A vendor-class (0xFF) interface that carries a CCID descriptor and speaks CCID. */
  vendorClassCcid?: boolean;
  /** Linux binds a kernel driver to it that must be detached first (named in the log). */
  kernelDriver?: string;
}

export interface QuirkEntry {
  vendorId: number;
  productId: number;
  /** Firmware (bcdDevice) range the quirk applies to, inclusive. */
  bcdDevice?: { min?: number; max?: number };
  quirks: Quirks;
  reason: string;
  source: string;
}

export const QUIRKS: readonly QuirkEntry[] = [
  {
    vendorId: 0x072f,
    productId: 0x2200,
    quirks: { contactless: true, feedback: 'acr122u', slotStatusTimeoutMs: 10000, kernelDriver: 'pn533_usb' },
    reason:
      'ACR122U: contactless (PN532 inside); answers GetSlotStatus slowly while no tag is in the field, so that command gets a longer timeout; LED and buzzer through the FF 00 40 pseudo-APDU carried by Escape; Linux binds pn533_usb to it',
    source: 'ACS ACR122U API v2.04 §6.2 (LED/buzzer); issue 11; Linux drivers/nfc/pn533/usb.c device table',
  },
  {
    vendorId: 0x072f,
    productId: 0x223b,
    quirks: { interfaces: { 0: { contactless: true, feedback: 'acr1252u' }, 1: { feedback: 'acr1252u' } } },
    reason: 'ACR1252U: composite, interface 0 is the PICC (contactless) and interface 1 the SAM slot; LED/buzzer through Escape E0 00 00 29/21',
    source: 'ACS ACR1252U reference manual (escape commands); libccid readers/ACS_ACR1252_Dual_Reader.txt (interface names)',
  },
  {
    vendorId: 0x046a,
    productId: 0x00a7,
    quirks: { noPinPad: true },
    reason: 'Cherry Smart Terminal xx44: the descriptor claims a PIN pad (bPINSupport 03) the reader does not have',
    source: "libccid src/ccid.c (bPINSupport cleared for CHERRY_XX44: 'advertises pinpad but actually doesn't have one'); libccid readers/Cherry_SmartTerminal_XX44.txt",
  },
  {
    vendorId: 0x076b,
    productId: 0x3031,
    quirks: { noPinPad: true },
    reason: 'HID OMNIKEY 3x21: some firmware claims a PIN pad in bPINSupport; the reader has none',
    source: 'libccid src/ccid.c (bPINSupport cleared for HID_OMNIKEY_3X21 with the same remark)',
  },
];

/** Quirks for one interface of a device; later entries do not override earlier ones. */
export function quirksFor(vendorId: number, productId: number, bcdDevice: number, iface: number): Quirks & { matched: QuirkEntry[] } {
  const matched = QUIRKS.filter(
    (q) => q.vendorId === vendorId && q.productId === productId && (q.bcdDevice?.min === undefined || bcdDevice >= q.bcdDevice.min) && (q.bcdDevice?.max === undefined || bcdDevice <= q.bcdDevice.max),
  );
  const out: Quirks & { matched: QuirkEntry[] } = { matched };
  for (const q of matched) {
    const { interfaces, ...rest } = q.quirks;
    Object.assign(out, rest, interfaces?.[iface] ?? {});
  }
  return out;
}
