/**
 * The driver contract: what the core needs from a reader driver. It follows
 * pcsc-lite's IFD handler (channel, power, transmit, control, capabilities,
 * presence) but is event-driven: a slot reports presence changes itself.
 *
 * Drivers take their transport injected (serial port, I2C bus, GPIO line, USB
 * device, socket), so an emulator plugs in where the hardware would.
 */
import type { EventEmitter } from 'node:events';
import type { Logger } from 'pino';

/** How the slot exchanges data with the card. */
export type ExchangeLevel =
  /** Whole APDUs in, whole responses out; the reader/card does transport (sim, vpcd, PN532 ISO 14443-4, CCID short/extended APDU level). */
  | 'apdu'
  /** TPDUs: the core runs T=0 (GET RESPONSE / 6Cxx) or the T=1 block protocol (src/iso7816) above `transmit`. */
  | 'tpdu';

/** What a driver knows about the card it just saw, beyond the ATR. */
export interface CardInfo {
  contactless: boolean;
  /** Contactless UID as received from the field (anticollision order, first byte first). */
  uid?: Buffer;
  /** ISO 14443-A: ATQA (2 bytes, as the PN532 reports them) and SAK. */
  atqa?: Buffer;
  sak?: number;
  /** ISO 14443-4 ATS (without TL), when the card has one. */
  ats?: Buffer;
  /** Short machine name: 'iso7816', 'iso14443-4', 'mifare-classic-1k', 'mifare-classic-4k', 'mifare-ultralight', ... */
  type?: string;
  /** An access-control credential read by the reader itself (OSDP osdp_RAW): bits, format, facility/card number for known formats. */
  credential?: CardCredential;
}

export interface CardCredential {
  /** 'H10301', 'wiegand34', 'H10304', 'wiegand40' or 'raw'. */
  format: string;
  bits: number;
  /** The bits as hex, first bit in the MSB of the first byte. */
  hex: string;
  parityOk?: boolean;
  facility?: number;
  card?: number;
  [k: string]: unknown;
}

export interface SlotEvents {
  /** Card entered (present=true) or left (present=false). Drivers emit it once per change. */
  presence: [present: boolean, info?: CardInfo];
  /** The slot is temporarily unusable (transport lost) or usable again. */
  availability: [available: boolean, reason?: string];
  /** A fault worth reporting (reader.error event); the slot stays usable. */
  error: [err: Error];
}

export interface DriverSlot extends EventEmitter<SlotEvents> {
  readonly index: number;
  readonly level: ExchangeLevel;
  /** A contactless slot (an NFC reader), known even while its field is empty (tag scanners are announced for it). */
  readonly contactless?: boolean;
  /** Current presence as the driver last saw it. */
  isCardPresent(): boolean;
  /** Card info of the present card, if any. */
  cardInfo(): CardInfo | undefined;
  /** Power up (cold reset) and return the ATR. Rejects with PcscError (E_NO_SMARTCARD, W_UNRESPONSIVE_CARD...). */
  powerUp(): Promise<Buffer>;
  powerDown(): Promise<void>;
  /** Warm reset; returns the new ATR. */
  reset(): Promise<Buffer>;
  /**
   * Select the protocol after power-up (PPS where the reader needs it).
   * `protocol` is PROTOCOL.T0 / T1 / RAW. Optional: without it the core just records the choice.
   */
  setProtocol?(protocol: number, atr: Buffer): Promise<void>;
  /**
   * One exchange with the card at this slot's level. The core guarantees one
   * call in flight per slot. Rejects with PcscError (E_NO_SMARTCARD when the
   * card left, F_COMM_ERROR on transport failure, E_TIMEOUT...).
   */
  transmit(data: Buffer, protocol: number): Promise<Buffer>;
  /** Reader-specific control (IOCTL). Without it the core answers E_UNSUPPORTED_FEATURE. */
  control?(code: number, data: Buffer): Promise<Buffer>;
  /** IFD capabilities / attributes the driver knows (SCARD_ATTR_*). undefined = unknown tag. */
  getAttribute?(tag: number): Buffer | undefined;
  setAttribute?(tag: number, value: Buffer): boolean;
  /** Mechanical eject where supported. */
  eject?(): Promise<void>;
  /** LED / buzzer where the reader has them. */
  feedback?(f: Feedback): Promise<void>;
  /** Simulated insertion/removal (sim driver, emulators). */
  simulate?: SimulationControl;
}

export interface Feedback {
  led?: 'off' | 'on' | 'green' | 'red' | 'blink';
  buzzer?: { ms: number; count?: number };
}

export interface SimulationControl {
  /** Insert a card described by a spec understood by drivers/sim/cards (e.g. {type:'iso7816'}). */
  insert(spec: unknown): Promise<void>;
  remove(): Promise<void>;
  /**
   * Keys pressed on an emulated PIN pad (only readers that have one): the PIN digits then OK, or Cancel.
   * The entry goes to the PIN prompt the reader shows, or the next one within `waitMs`; false when
   * none came (nothing is kept). The PIN is a secret: `pin`, a field name the logger redacts.
   */
  pinpad?(entry: PinPadEntry, opts: { waitMs: number }): Promise<boolean>;
}

/** What a technician types on an emulated PIN pad. */
export type PinPadEntry = { pin: string } | { cancel: true };

/** A physical reader: one device with one or more slots. Each slot is a PC/SC reader of its own. */
export interface DriverReader {
  /** Unique within its driver and stable while the device is attached (port path, USB bus/address, ...). */
  readonly id: string;
  /** ifdFriendlyName, e.g. "Virtual PCD", "PN532 NFC", "Simulated Reader". */
  readonly friendlyName: string;
  /** USB interface string, when any ("[CCID Interface]" part of pcscd's name, brackets not included). */
  readonly interfaceName?: string;
  /** USB iSerialNumber or similar. */
  readonly serial?: string;
  /**
   * Fixed instance number (the RR of "<name> RR SS"); when omitted the core
   * allocates the lowest free number among readers of the same driver, as pcscd does.
   */
  readonly instance?: number;
  readonly vendor?: string;
  readonly ifdType?: string;
  /** 0xMMmmbbbb */
  readonly ifdVersion?: number;
  /** SCARD_ATTR_CHANNEL_ID value: 0xDDDDCCCC (0x0020 USB, 0x0001 serial, 0x0008 I2C?...). */
  readonly channelId?: number;
  readonly slots: readonly DriverSlot[];
  /** Driver-specific diagnostics (firmware version, counters...). */
  diagnostics?(): Record<string, unknown>;
}

export interface DriverEvents {
  'reader-added': [reader: DriverReader];
  'reader-removed': [reader: DriverReader];
}

export interface Driver extends EventEmitter<DriverEvents> {
  /** 'sim', 'vpcd', 'pn532', 'ccid'. Readers' instance numbers are allocated per driver name. */
  readonly name: string;
  /** Discover readers; emits 'reader-added' for each before resolving where it can. */
  start(): Promise<void>;
  /** Close every reader (cards unpowered) and the transports. */
  stop(): Promise<void>;
  diagnostics?(): Record<string, unknown>;
}

export interface DriverContext {
  log: Logger;
}
