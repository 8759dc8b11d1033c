/**
 * The contact ISO 7816-4 card (T=1 at APDU level, or T=0 at TPDU level) and
 * the ISO 14443-4 contactless card, both hosting the same ISO 7816-4
 * application built from the spec.
 */
import type { CardInfo } from '../../../src/driver/contract.js';
import { PROTOCOL } from '../../../src/pcsc/constants.js';
import { atrTck, buildIso14443Atr, parseAtr } from '../../../src/iso7816/atr.js';
import { T1Card } from '../../../src/iso7816/t1-card.js';
import { CardSpecError, type CardInterface, type CardType, type SimCard } from './card.js';
import { buildFileSystem, defaultFileSystem, type DfSpec } from './iso7816-fs.js';
import { Iso7816App, MAX_PIN_LENGTH, type PinState } from './iso7816-app.js';
import { Iso7816Transport } from './iso7816-transport.js';
import { checkKeys, hexField, hexString } from './spec-fields.js';
import { atsHistoricalBytes } from '../../../src/contactless/part3.js';

/** Historical bytes: category 80, COMPACT-TLV tag 5 (card issuer's data) "scardgate". */
const HISTORICAL = Buffer.concat([Buffer.from([0x80, 0x59]), Buffer.from('scardgate')]);

/** T=1 only: TD1 = 81 (T=1, TD2 follows), TD2 = 31 (TA3 TB3, T=1), IFSC 254, BWI 4 / CWI 5. */
export const DEFAULT_T1_ATR = (() => {
  const body = Buffer.concat([Buffer.from([0x3b, 0x80 | HISTORICAL.length, 0x81, 0x31, 0xfe, 0x45]), HISTORICAL]);
  return Buffer.concat([body, Buffer.from([atrTck(body)])]);
})();
/** T=1 at TPDU level: as the T=1 ATR but IFSC 32 (TA3 = 20), so long commands are chained. */
export const DEFAULT_T1_TPDU_ATR = (() => {
  const body = Buffer.concat([Buffer.from([0x3b, 0x80 | HISTORICAL.length, 0x81, 0x31, 0x20, 0x45]), HISTORICAL]);
  return Buffer.concat([body, Buffer.from([atrTck(body)])]);
})();
/** T=0 only: no interface bytes (T=0 implied), no TCK. */
export const DEFAULT_T0_ATR = Buffer.concat([Buffer.from([0x3b, HISTORICAL.length]), HISTORICAL]);

/** ATS without TL: T0 75 (TA TB TC, FSCI 5), TA 77, TB 81, TC 02, one historical byte 80 (as a DESFire). */
export const DEFAULT_ATS = Buffer.from([0x75, 0x77, 0x81, 0x02, 0x80]);
export const DEFAULT_UID_7 = Buffer.from([0x04, 0x53, 0x43, 0x47, 0x54, 0x45, 0x01]);

export interface PinSpec {
  /** VERIFY P2 reference (0x81 = specific PIN 1). */
  ref: number;
  /** PIN value as text (ASCII bytes, e.g. "1234"). */
  pin: string;
  tries?: number;
  /** Resetting code for RESET RETRY COUNTER. */
  puk?: string;
  pukTries?: number;
}

const ISO_KEYS = ['type', 'atr', 'files', 'pins', 'serial', 'dataObjects'];

const PIN_KEYS = ['ref', 'pin', 'tries', 'puk', 'pukTries'];
export const DEFAULT_PINS: PinSpec[] = [{ ref: 0x81, pin: '1234', tries: 3, puk: '12345678', pukTries: 10 }];

function buildPins(v: unknown): Map<number, PinState> {
  const list = v === undefined ? DEFAULT_PINS : v;
  if (!Array.isArray(list)) throw new CardSpecError('pins must be an array of {ref, pin, tries?, puk?, pukTries?}');
  const out = new Map<number, PinState>();
  list.forEach((p: PinSpec, i) => {
    const w = `pins[${i}]`;
    if (typeof p !== 'object' || p === null) throw new CardSpecError(`${w} must be an object`);
    for (const k of Object.keys(p)) if (!PIN_KEYS.includes(k)) throw new CardSpecError(`${w}.${k}: unknown key (allowed: ${PIN_KEYS.join(', ')})`);
    if (!Number.isInteger(p.ref) || p.ref < 0 || p.ref > 0xff) throw new CardSpecError(`${w}.ref must be a byte 0..255 (VERIFY P2), got ${JSON.stringify(p.ref)}`);
    if (out.has(p.ref)) throw new CardSpecError(`${w}.ref ${p.ref} is defined twice`);
    const text = (x: unknown, key: string): Buffer => {
      if (typeof x !== 'string' || x.length < 1 || Buffer.byteLength(x) > MAX_PIN_LENGTH) throw new CardSpecError(`${w}.${key} must be a string of 1..${MAX_PIN_LENGTH} bytes`);
      return Buffer.from(x);
    };
    const count = (x: unknown, key: string, dflt: number): number => {
      if (x === undefined) return dflt;
      if (!Number.isInteger(x) || (x as number) < 1 || (x as number) > 15) throw new CardSpecError(`${w}.${key} must be an integer 1..15, got ${JSON.stringify(x)}`);
      return x as number;
    };
    const max = count(p.tries, 'tries', 3);
    const pukMax = count(p.pukTries, 'pukTries', 10);
    out.set(p.ref, {
      ref: p.ref,
      value: text(p.pin, 'pin'),
      max,
      left: max,
      verified: false,
      puk: p.puk === undefined ? undefined : text(p.puk, 'puk'),
      pukMax,
      pukLeft: pukMax,
    });
  });
  return out;
}

function buildDataObjects(v: unknown, serial: Buffer): Map<number, Buffer> {
  const out = new Map<number, Buffer>([[0x005a, serial]]);
  if (v === undefined) return out;
  if (typeof v !== 'object' || v === null || Array.isArray(v)) throw new CardSpecError('dataObjects must be an object {"<P1P2 as 4 hex digits>": "<hex>"}');
  for (const [tag, val] of Object.entries(v)) {
    if (!/^[0-9a-fA-F]{4}$/.test(tag)) throw new CardSpecError(`dataObjects key "${tag}" must be 4 hex digits (GET DATA P1P2)`);
    const b = hexField({ [`dataObjects.${tag}`]: val }, `dataObjects.${tag}`);
    out.set(parseInt(tag, 16), b as Buffer);
  }
  return out;
}

/** Build the application (file system, PINs, data objects) from a spec; shared by contact and contactless cards. */
export function buildApp(spec: Record<string, unknown>): { app: Iso7816App; serial: Buffer } {
  const serial = hexField(spec, 'serial', [1, 16, 'range']) ?? Buffer.from('5343474100000001', 'hex');
  const files = (spec.files as DfSpec | undefined) ?? defaultFileSystem(serial.toString('hex').toUpperCase());
  const mf = buildFileSystem(files);
  return { app: new Iso7816App(mf, buildPins(spec.pins), buildDataObjects(spec.dataObjects, serial)), serial };
}

export class Iso7816Card implements SimCard {
  readonly type: CardType;
  readonly spec: Readonly<Record<string, unknown>> & { type: CardType };
  readonly atr: Buffer;
  readonly protocols: number;
  readonly info: CardInfo;
  readonly interface: CardInterface;
  readonly transport: Iso7816Transport;

  /** The card side of the T=1 block protocol ('iso7816-t1-tpdu'); tests inject faults through it. */
  readonly t1?: T1Card;

  constructor(spec: Record<string, unknown> & { type: 'iso7816' | 'iso7816-t0' | 'iso7816-t1-tpdu' }) {
    checkKeys(spec, ISO_KEYS);
    this.type = spec.type;
    const t0 = spec.type === 'iso7816-t0';
    const t1Tpdu = spec.type === 'iso7816-t1-tpdu';
    const given = hexField(spec, 'atr', [2, 33, 'range']);
    // At APDU level any protocol the ATR offers works; the T=0 variant speaks T=0 TPDUs only.
    let protocols = t0 ? PROTOCOL.T0 : PROTOCOL.T1;
    if (given) {
      const parsed = parseAtr(given);
      if (parsed.errors.length) throw new CardSpecError(`atr: ${parsed.errors.join('; ')}`);
      const wanted = t0 ? 0 : 1;
      if (!parsed.protocols.includes(wanted)) throw new CardSpecError(`atr must offer T=${wanted} for type ${spec.type} (it offers ${parsed.protocols.map((p) => `T=${p}`).join(', ')})`);
      if (spec.type === 'iso7816' && parsed.protocols.includes(0)) protocols |= PROTOCOL.T0;
    }
    this.atr = given ?? (t0 ? DEFAULT_T0_ATR : t1Tpdu ? DEFAULT_T1_TPDU_ATR : DEFAULT_T1_ATR);
    this.protocols = protocols;
    this.interface = t0 ? 'tpdu-t0' : t1Tpdu ? 'tpdu-t1' : 'apdu';
    this.transport = new Iso7816Transport(buildApp(spec).app);
    if (t1Tpdu) {
      const p = parseAtr(this.atr);
      this.t1 = new T1Card((apdu) => this.transport.apdu(apdu), { ifsc: p.t1?.ifsc ?? 32, edc: p.t1?.edc ?? 'lrc' });
    }
    this.info = { contactless: false, type: spec.type };
    this.spec = { ...spec, atr: hexString(this.atr) };
  }

  /** APDU level for 'iso7816' (and the application behind the T=1 blocks of 'iso7816-t1-tpdu'), T=0 TPDUs for 'iso7816-t0'. */
  process(command: Buffer): Buffer {
    return this.interface === 'tpdu-t0' ? this.transport.tpdu(command) : this.transport.apdu(command);
  }

  exchangeBlock(block: Buffer): Promise<Buffer> {
    if (!this.t1) return Promise.reject(new Error(`a ${this.type} card does not speak T=1 blocks`));
    return this.t1.handleBlock(block);
  }

  reset(): void {
    this.transport.reset();
    this.t1?.reset();
  }
}

const ISO14443_KEYS = ['type', 'uid', 'ats', 'atqa', 'sak', 'files', 'pins', 'serial', 'dataObjects'];

/** An ISO 14443-4 type A card (SAK bit 0x20) running the ISO 7816-4 application. */
export class Iso14443Card implements SimCard {
  readonly type = 'iso14443-4' as const;
  readonly spec: Readonly<Record<string, unknown>> & { type: CardType };
  readonly atr: Buffer;
  /** The part 3 ATR offers T=0 and T=1 (TD1 = 80, TD2 = 01); the reader carries APDUs either way. */
  readonly protocols = PROTOCOL.T0 | PROTOCOL.T1;
  readonly info: CardInfo;
  readonly interface = 'apdu' as const;
  readonly transport: Iso7816Transport;
  readonly uid: Buffer;
  readonly ats: Buffer;

  constructor(spec: Record<string, unknown> & { type: 'iso14443-4' }) {
    checkKeys(spec, ISO14443_KEYS);
    this.uid = hexField(spec, 'uid', [4, 7, 10]) ?? DEFAULT_UID_7;
    this.ats = hexField(spec, 'ats', [1, 253, 'range']) ?? DEFAULT_ATS;
    const atqa = hexField(spec, 'atqa', [2]) ?? Buffer.from([0x00, this.uid.length === 4 ? 0x04 : this.uid.length === 7 ? 0x44 : 0x84]);
    const sakV = spec.sak;
    if (sakV !== undefined && (!Number.isInteger(sakV) || (sakV as number) < 0 || (sakV as number) > 255 || !((sakV as number) & 0x20))) {
      throw new CardSpecError(`sak must be a byte with bit 0x20 (ISO 14443-4 compliant) set, got ${JSON.stringify(sakV)}`);
    }
    const sak = (sakV as number | undefined) ?? 0x20;
    this.atr = buildIso14443Atr(atsHistoricalBytes(this.ats));
    this.transport = new Iso7816Transport(buildApp(spec).app);
    this.info = { contactless: true, uid: this.uid, atqa, sak, ats: this.ats, type: this.type };
    this.spec = { ...spec, uid: hexString(this.uid), ats: hexString(this.ats) };
  }

  process(command: Buffer): Buffer {
    return this.transport.apdu(command);
  }

  reset(): void {
    this.transport.reset();
  }
}
