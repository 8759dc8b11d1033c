/**
 * An OSDP reader (PD) for tests and for the bench: one address on a line,
 * a card that can be tapped (osdp_RAW in the chosen format), a keypad, a LED
 * and a buzzer whose state the commands set, tamper and power inputs, and
 * fault injection on its replies: bad CRC, dropped replies, wrong MAC, slow
 * replies (beyond the CP's 200 ms when asked).
 */
import { CAP, REPLY } from '../../src/osdp/codes.js';
import type { ByteLink } from '../../src/osdp/link.js';
import { PdEngine, type PdOptions } from '../../src/osdp/pd.js';
import { PdPort } from '../../src/osdp/pd-port.js';
import { crc16 } from '../../src/osdp/crc.js';
import { decodePacket } from '../../src/osdp/packet.js';
import { encodeKeypad, encodeRaw, type BuzzerRecord, type Capability, type LedRecord } from '../../src/osdp/records.js';
import { credentialFromUid, type CardFormat } from '../../src/osdp/formats.js';

export interface PdFaults {
  /** Probability of a reply with a broken CRC. */
  badCrc?: number;
  /** Probability of no reply at all. */
  drop?: number;
  /** Probability of a secure reply with a wrong MAC (CRC fixed up, so only the MAC check catches it). */
  wrongMac?: number;
  /** Command codes whose every reply is lost (e.g. the ACK to osdp_KEYSET: the PD acts on the command, the CP never hears it). */
  dropRepliesTo?: number[];
  /** Every reply this late (ms). */
  slowMs?: number;
  /** Probability that a byte is damaged, in both directions (line noise). */
  corruptRate?: number;
  random?: () => number;
}

export interface EmulatedPdOptions {
  address?: number;
  scbk?: Buffer;
  installMode?: boolean;
  enforceSecure?: boolean;
  secureChannel?: boolean;
  sessionTimeoutMs?: number;
  faults?: PdFaults;
  keypad?: boolean;
}

export class EmulatedPd {
  readonly engine: PdEngine;
  readonly port: PdPort;
  led: LedRecord[] = [];
  buzzer: BuzzerRecord[] = [];
  tamper = false;
  power = false;
  installedKey?: Buffer;
  comsets: Array<{ address: number; baudRate: number }> = [];
  readonly injected = { badCrc: 0, drop: 0, wrongMac: 0, corruptedBytes: 0 };

  constructor(
    readonly link: ByteLink,
    o: EmulatedPdOptions = {},
  ) {
    const caps: Capability[] = [
      { fn: CAP.CARD_DATA_FORMAT, compliance: 1, count: 0 },
      { fn: CAP.READER_LED, compliance: 1, count: 1 },
      { fn: CAP.READER_AUDIBLE, compliance: 1, count: 1 },
      { fn: CAP.CHECK_CHARACTER, compliance: 1, count: 0 },
      { fn: CAP.COMMUNICATION_SECURITY, compliance: o.secureChannel === false ? 0 : 1, count: 0 },
      { fn: CAP.RECEIVE_BUFFER, compliance: 0xa0, count: 0x05 },
      { fn: CAP.READERS, compliance: 0, count: 1 },
      { fn: CAP.OSDP_VERSION, compliance: 2, count: 0 },
    ];
    if (o.keypad) caps.push({ fn: 15, compliance: 0, count: 0 });
    const opts: PdOptions = {
      address: o.address ?? 1,
      identity: { vendorCode: 0x5ca7d0, model: 0x0e, version: 1, serial: 0x00c0ffee, firmware: [1, 0, 0] },
      capabilities: caps,
      secureChannel: o.secureChannel ?? true,
      scbk: o.scbk,
      installMode: o.installMode ?? !o.scbk,
      enforceSecure: o.enforceSecure ?? false,
      sessionTimeoutMs: o.sessionTimeoutMs ?? 8000,
      baudRates: [9600, 19200, 38400, 57600, 115200, 230400],
      currentBaud: link.baudRate,
      hooks: {
        led: (r) => {
          this.led.push(...r);
        },
        buzzer: (r) => {
          this.buzzer.push(r);
        },
        localStatus: () => ({ tamper: this.tamper, power: this.power }),
        comset: async (c) => {
          this.comsets.push(c);
          await link.setBaudRate(c.baudRate);
        },
        keyset: (k) => {
          this.installedKey = Buffer.from(k);
        },
      },
    };
    this.engine = new PdEngine(opts);
    const f = o.faults ?? {};
    const rnd = f.random ?? Math.random;
    const noise = (b: Buffer): Buffer => {
      if (!f.corruptRate) return b;
      const out = Buffer.from(b);
      for (let i = 0; i < out.length; i++) {
        if (rnd() < f.corruptRate) {
          out[i] ^= 1 + Math.floor(rnd() * 255);
          this.injected.corruptedBytes++;
        }
      }
      return out;
    };
    this.port = new PdPort(link, [this.engine], {
      incoming: noise,
      outgoing: (bytes, pd) => {
        if ((f.drop && rnd() < f.drop) || (pd.lastCommandCode !== undefined && f.dropRepliesTo?.includes(pd.lastCommandCode))) {
          this.injected.drop++;
          return {};
        }
        let out = bytes;
        if (f.wrongMac && rnd() < f.wrongMac && decodePacket(bytes).packet.mac) {
          out = Buffer.from(bytes);
          const macAt = out.length - 2 - 4;
          out[macAt] ^= 0x01;
          out.writeUInt16LE(crc16(out, 0, out.length - 2), out.length - 2);
          this.injected.wrongMac++;
        } else if (f.badCrc && rnd() < f.badCrc) {
          out = Buffer.from(bytes);
          out[out.length - 1] ^= 0x5a;
          this.injected.badCrc++;
        }
        return { bytes: noise(out), delayMs: f.slowMs };
      },
    });
  }

  /** A card presented: its credential queued for the next poll. */
  tap(uid: Buffer, format: CardFormat = 'wiegand26'): void {
    const c = credentialFromUid(uid, format);
    if (!c) throw new Error(`UID ${uid.toString('hex')} has no ${format} number`);
    this.engine.queueEvent(REPLY.RAW, encodeRaw({ reader: 0, format: c.formatCode, bitCount: c.bitCount, data: c.data }));
  }

  keys(digits: string): void {
    this.engine.queueEvent(REPLY.KEYPAD, encodeKeypad({ reader: 0, keys: digits }));
  }

  /** Tamper or power change: reported in reply to the next poll. */
  setStatus(s: { tamper?: boolean; power?: boolean }): void {
    if (s.tamper !== undefined) this.tamper = s.tamper;
    if (s.power !== undefined) this.power = s.power;
    this.engine.queueEvent(REPLY.LSTATR, Buffer.from([this.tamper ? 1 : 0, this.power ? 1 : 0]));
  }
}
