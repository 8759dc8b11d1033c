/**
 * One OSDP Peripheral Device (docs/osdp.md §5, §6): answers the commands a
 * control panel sends to its address. Shared by the gateway's PD frontend
 * (src/api/osdp) and the PD emulator; the transport, the reader behind it and
 * persistence are injected through hooks.
 *
 * Sequence rules: 0 restarts the conversation (and ends a secure session); a
 * command that repeats the last sequence number and code gets the last reply
 * again, byte for byte, without being acted on twice; any other unexpected
 * number is NAKed with 0x04.
 */
import type { Logger } from 'pino';
import { BROADCAST, CMD, NAK, REPLY, SCS } from './codes.js';
import { encodePacket, type Decoded, type Packet, type SecurityBlock } from './packet.js';
import {
  clientUid,
  decodeBuz,
  decodeCom,
  decodeKeyset,
  decodeLed,
  encodeCaps,
  encodeCom,
  encodeLstat,
  encodePdid,
  RecordError,
  type BuzzerRecord,
  type Capability,
  type ComSettings,
  type LedRecord,
  type LocalStatus,
  type PdIdentity,
} from './records.js';
import { clientCryptogram, deriveSessionKeys, initialRmac, random8, SCBK_D, sameBytes, SecureSession, serverCryptogram, type SessionKeys } from './secure.js';
import { tracePacket, type TraceOptions } from './trace.js';

export interface PdHooks {
  /** osdp_LED records; throw RecordError('value') to NAK 0x09. */
  led?(records: LedRecord[]): void;
  buzzer?(record: BuzzerRecord): void;
  /** Local status for osdp_LSTAT. */
  localStatus?(): LocalStatus;
  /** New address/speed, called after osdp_COM went out; persist them. */
  comset?(c: ComSettings): Promise<void> | void;
  /** New SCBK, called after the ACK went out; persist it (never log it). */
  keyset?(scbk: Buffer): Promise<void> | void;
  /** Secure session started or ended (diagnostics). */
  secure?(active: boolean, why: string): void;
}

export interface PdOptions {
  address: number;
  identity: PdIdentity;
  /** Capabilities declared in osdp_PDCAP (a function: asked at each osdp_CAP, for what the reader behind has now). */
  capabilities: Capability[] | (() => Capability[]);
  /** Secure Channel supported at all. */
  secureChannel: boolean;
  /** Installed SCBK (undefined: none yet). */
  scbk?: Buffer;
  /** Accept SCBK-D (install mode) until a KEYSET installs a key. */
  installMode: boolean;
  /** Refuse SCBK-D and every command but ID/CAP/handshake outside a secure session. */
  enforceSecure: boolean;
  /** A secure session without a valid secure command for this long ends. */
  sessionTimeoutMs: number;
  /** Baud rates osdp_COMSET may choose. */
  baudRates: readonly number[];
  currentBaud: number;
  hooks?: PdHooks;
  log?: Logger;
  trace?: TraceOptions;
  /** Most card/keypad replies waiting for polls; older ones are dropped beyond it. */
  queueLimit?: number;
}

interface PendingHandshake {
  keys: SessionKeys;
  rndA: Buffer;
  rndB: Buffer;
  keyByte: number;
}

export interface PdReply {
  bytes: Buffer;
  /** Run after the bytes are on the wire (a new address or speed takes effect only then; a new key is persisted then). */
  after?: () => Promise<void> | void;
}

interface Outgoing {
  code: number;
  data: Buffer;
  after?: () => Promise<void> | void;
  /** Sent in clear even inside a session (the NAK that ends it). */
  clear?: boolean;
  /** Handshake replies carry their own security block. */
  scb?: SecurityBlock;
  /** osdp_RMAC_I: the session starts once this reply is framed. */
  startSession?: { keys: SessionKeys; rmac: Buffer };
  /** The session ends once this reply is framed under it (the ACK to osdp_KEYSET). */
  endSession?: string;
}

export class PdEngine {
  address: number;
  private lastSqn: number | undefined;
  private cache?: { code: number; bytes: Buffer };
  private session?: SecureSession;
  private sessionAt = 0;
  private handshake?: PendingHandshake;
  private readonly queue: Array<{ code: number; data: Buffer }> = [];
  /** The event sent in the last poll reply stays queued until a new command shows the CP got it. */
  private eventInFlight = false;
  readonly counters = { commands: 0, naks: 0, repeats: 0, sessions: 0, macFailures: 0, dropped: 0 };
  lastCommandAt = 0;
  /** Code of the last command addressed to this PD (fault injection keys on it). */
  lastCommandCode?: number;

  constructor(readonly o: PdOptions) {
    this.address = o.address;
  }

  get secureActive(): boolean {
    return this.session !== undefined;
  }

  get installMode(): boolean {
    return this.o.installMode && !this.o.enforceSecure;
  }

  /** Queue a reply (osdp_RAW, osdp_KEYPAD...) for the next osdp_POLL. */
  queueEvent(code: number, data: Buffer): void {
    this.queue.push({ code, data });
    const limit = this.o.queueLimit ?? 16;
    while (this.queue.length > limit) {
      this.queue.splice(this.eventInFlight ? 1 : 0, 1);
      this.counters.dropped++;
    }
  }

  /** Events not yet known to have reached the CP. */
  pendingEvents(): number {
    return this.queue.length;
  }

  private endSession(why: string): void {
    this.handshake = undefined;
    if (!this.session) return;
    this.session = undefined;
    this.o.hooks?.secure?.(false, why);
  }

  /**
   * Handle one checked packet from the line; returns the reply bytes, or
   * undefined when this PD must stay silent (not its address, a reply on the
   * bus, a broadcast it does not answer).
   */
  handle(d: Decoded, now = Date.now()): PdReply | undefined {
    const p = d.packet;
    if (p.reply) return undefined;
    const broadcast = p.address === BROADCAST;
    if (p.address !== this.address && !broadcast) return undefined;
    if (broadcast && p.code !== CMD.ID && p.code !== CMD.CAP && p.code !== CMD.COMSET) return undefined;
    this.lastCommandAt = now;
    this.lastCommandCode = p.code;
    this.counters.commands++;
    if (this.session && now - this.sessionAt > this.o.sessionTimeoutMs) this.endSession('session timeout');

    if (p.sqn === 0) {
      // The CP starts over: an event whose reply may not have reached it is sent again.
      this.eventInFlight = false;
      this.lastSqn = undefined;
      this.cache = undefined;
      this.endSession('sequence 0 (CP restart)');
    } else if (p.sqn === this.lastSqn && this.cache?.code === p.code) {
      this.counters.repeats++;
      return { bytes: this.cache.bytes };
    } else if (this.lastSqn === undefined || p.sqn !== (this.lastSqn % 3) + 1) {
      // also the same number with another command: not a repeat, and not the next number either
      return this.finish(p, broadcast, { code: REPLY.NAK, data: Buffer.from([NAK.SEQUENCE]), clear: true }, false);
    }
    if (this.eventInFlight) {
      // a new sequence number: the CP has the reply that carried the event
      this.queue.shift();
      this.eventInFlight = false;
    }
    this.lastSqn = p.sqn;
    const out = this.dispatch(d, now);
    return this.finish(p, broadcast, out.reply, out.secure);
  }

  private nak(code: number): Outgoing {
    this.counters.naks++;
    return { code: REPLY.NAK, data: Buffer.from([code]) };
  }

  /** Decide the reply; `secure` says whether it goes out under the session. */
  private dispatch(d: Decoded, now: number): { reply: Outgoing; secure: boolean } {
    const p = d.packet;
    let data = p.data;
    let secure = false;
    if (p.scb) {
      if (!this.o.secureChannel) return { reply: this.nak(NAK.SC_UNSUPPORTED), secure: false };
      const t = p.scb.type;
      if (t === SCS.S11 || t === SCS.S13) {
        if ((t === SCS.S11 && p.code !== CMD.CHLNG) || (t === SCS.S13 && p.code !== CMD.SCRYPT)) return { reply: this.nak(NAK.SC_UNSUPPORTED), secure: false };
      } else if (t === SCS.S15 || t === SCS.S17) {
        if (!this.session) return { reply: this.nak(NAK.SC_UNSUPPORTED), secure: false };
        if (!p.mac || !this.session.checkCommand(d.macInput, p.mac)) {
          this.counters.macFailures++;
          this.endSession('wrong MAC');
          return { reply: { ...this.nak(NAK.SC_UNSUPPORTED), clear: true }, secure: false };
        }
        if (t === SCS.S17) {
          const plain = this.session.decryptCommand(p.data);
          if (!plain) {
            this.endSession('undecryptable data');
            return { reply: { ...this.nak(NAK.SC_UNSUPPORTED), clear: true }, secure: false };
          }
          data = plain;
        }
        this.sessionAt = now;
        secure = true;
      } else {
        return { reply: this.nak(NAK.SC_UNSUPPORTED), secure: false };
      }
    } else if (this.session) {
      // plain text inside a session: the session is over
      this.endSession('plain-text command during a secure session');
      return { reply: { ...this.nak(NAK.SC_UNSUPPORTED), clear: true }, secure: false };
    }
    tracePacket(this.o.log, this.o.trace ?? { enabled: false, cardData: false }, p, p.scb?.type === SCS.S17 ? data : undefined);
    if (this.o.enforceSecure && !secure && p.code !== CMD.ID && p.code !== CMD.CAP && p.code !== CMD.CHLNG && p.code !== CMD.SCRYPT) {
      return { reply: this.nak(NAK.SC_REQUIRED), secure };
    }
    try {
      return { reply: this.command(p, data), secure };
    } catch (e) {
      if (e instanceof RecordError) return { reply: this.nak(e.kind === 'length' ? NAK.LENGTH : NAK.RECORD), secure };
      throw e;
    }
  }

  private lengthIs(data: Buffer, n: number, what: string): void {
    if (data.length !== n) throw new RecordError('length', `${what}: ${data.length} bytes, expected ${n}`);
  }

  private command(p: Packet, data: Buffer): Outgoing {
    const h = this.o.hooks ?? {};
    switch (p.code) {
      case CMD.POLL: {
        this.lengthIs(data, 0, 'osdp_POLL');
        const ev = this.queue[0];
        if (!ev) return { code: REPLY.ACK, data: Buffer.alloc(0) };
        this.eventInFlight = true;
        return ev;
      }
      case CMD.ID:
        this.lengthIs(data, 1, 'osdp_ID');
        return { code: REPLY.PDID, data: encodePdid(this.o.identity) };
      case CMD.CAP:
        this.lengthIs(data, 1, 'osdp_CAP');
        return { code: REPLY.PDCAP, data: encodeCaps(typeof this.o.capabilities === 'function' ? this.o.capabilities() : this.o.capabilities) };
      case CMD.LSTAT:
        this.lengthIs(data, 0, 'osdp_LSTAT');
        return { code: REPLY.LSTATR, data: encodeLstat(h.localStatus?.() ?? { tamper: false, power: false }) };
      case CMD.LED: {
        if (!h.led) return this.nak(NAK.UNKNOWN_COMMAND);
        h.led(decodeLed(data));
        return { code: REPLY.ACK, data: Buffer.alloc(0) };
      }
      case CMD.BUZ: {
        if (!h.buzzer) return this.nak(NAK.UNKNOWN_COMMAND);
        h.buzzer(decodeBuz(data));
        return { code: REPLY.ACK, data: Buffer.alloc(0) };
      }
      case CMD.COMSET: {
        const want = decodeCom(data);
        const ok = want.address < BROADCAST && this.o.baudRates.includes(want.baudRate);
        // Refused settings: osdp_COM tells the CP the ones that stay.
        const next = ok ? want : { address: this.address, baudRate: this.o.currentBaud };
        return {
          code: REPLY.COM,
          data: encodeCom(next),
          after: ok
            ? async () => {
                this.address = next.address;
                this.o.currentBaud = next.baudRate;
                this.lastSqn = undefined;
                this.cache = undefined;
                this.endSession('COMSET');
                await h.comset?.(next);
              }
            : undefined,
        };
      }
      case CMD.KEYSET: {
        if (!this.session) return this.nak(NAK.SC_REQUIRED);
        if (!h.keyset) return this.nak(NAK.UNKNOWN_COMMAND);
        const key = decodeKeyset(data);
        // The key is in force from this reply on: a command after the ACK, however soon, meets the new key and no
        // install mode (applying it later let a quick CP open a second SCBK-D session and install the key twice).
        this.o.scbk = key;
        this.o.installMode = false;
        return {
          code: REPLY.ACK,
          data: Buffer.alloc(0),
          endSession: 'new SCBK installed',
          after: async () => {
            await h.keyset?.(key);
          },
        };
      }
      case CMD.CHLNG:
        return this.challenge(p, data);
      case CMD.SCRYPT:
        return this.scrypt(p, data);
      default:
        return this.nak(NAK.UNKNOWN_COMMAND);
    }
  }

  private challenge(p: Packet, data: Buffer): Outgoing {
    if (!this.o.secureChannel) return this.nak(NAK.SC_UNSUPPORTED);
    if (p.scb?.type !== SCS.S11 || p.scb.data.length !== 1) return this.nak(NAK.SC_UNSUPPORTED);
    this.lengthIs(data, 8, 'osdp_CHLNG');
    this.endSession('new handshake');
    const keyByte = p.scb.data[0];
    let scbk: Buffer | undefined;
    if (keyByte === 0) scbk = this.installMode ? SCBK_D : undefined;
    else if (keyByte === 1) scbk = this.o.scbk;
    if (!scbk) return this.nak(NAK.SC_UNSUPPORTED);
    const rndA = Buffer.from(data);
    const rndB = random8();
    const keys = deriveSessionKeys(scbk, rndA);
    this.handshake = { keys, rndA, rndB, keyByte };
    return {
      code: REPLY.CCRYPT,
      data: Buffer.concat([clientUid(this.o.identity), rndB, clientCryptogram(keys, rndA, rndB)]),
      scb: { type: SCS.S12, data: Buffer.from([keyByte]) },
    };
  }

  private scrypt(p: Packet, data: Buffer): Outgoing {
    const hs = this.handshake;
    this.handshake = undefined;
    if (p.scb?.type !== SCS.S13 || !hs || p.scb.data[0] !== hs.keyByte) return this.nak(NAK.SC_UNSUPPORTED);
    this.lengthIs(data, 16, 'osdp_SCRYPT');
    const expected = serverCryptogram(hs.keys, hs.rndA, hs.rndB);
    if (!sameBytes(expected, data)) return this.nak(NAK.SC_UNSUPPORTED);
    const rmac = initialRmac(hs.keys, expected);
    return { code: REPLY.RMAC_I, data: rmac, scb: { type: SCS.S14, data: Buffer.from([0x01]) }, startSession: { keys: hs.keys, rmac } };
  }

  /** Frame the reply: same sequence number and check type as the command, under the session when the command was. */
  private finish(cmd: Packet, broadcast: boolean, out: Outgoing, secure: boolean): PdReply {
    const pkt: Packet = { address: broadcast ? BROADCAST : this.address, reply: true, sqn: cmd.sqn, crc: cmd.crc, code: out.code, data: out.data };
    let bytes: Buffer;
    if (out.scb) {
      pkt.scb = out.scb;
      bytes = encodePacket(pkt);
    } else if (secure && this.session && !out.clear) {
      const s = this.session;
      const enc = out.data.length > 0;
      pkt.scb = { type: enc ? SCS.S18 : SCS.S16, data: Buffer.alloc(0) };
      if (enc) pkt.data = s.encryptReply(out.data);
      bytes = encodePacket(pkt, (covered) => s.macReply(covered));
    } else {
      bytes = encodePacket(pkt);
    }
    if (out.endSession) this.endSession(out.endSession);
    if (out.startSession) {
      this.session = new SecureSession(out.startSession.keys, out.startSession.rmac);
      this.sessionAt = Date.now();
      this.counters.sessions++;
      this.o.hooks?.secure?.(true, 'handshake complete');
    }
    tracePacket(this.o.log, this.o.trace ?? { enabled: false, cardData: false }, pkt, out.data);
    if (out.code === REPLY.NAK && out.data[0] === NAK.SEQUENCE) this.counters.naks++;
    else this.cache = { code: cmd.code, bytes };
    return { bytes, after: out.after };
  }
}
