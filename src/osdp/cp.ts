/**
 * OSDP Control Panel (docs/osdp.md §5, §6): polls the PDs on one bus in
 * turn, brings each one online (sequence 0, ID, CAP, Secure Channel
 * handshake, LSTAT), sends queued commands between polls and reports what
 * the PDs say. Shared by the gateway's CP driver (drivers/osdp) and the CP
 * emulator.
 *
 * Recovery: a lost reply is asked for again with the same bytes (same
 * sequence number, so the PD answers from its cache rather than acting
 * twice); after the retries the PD is reconnected from sequence 0; a PD
 * silent for offlineAfterMs is reported offline and keeps being retried.
 */
import { EventEmitter } from 'node:events';
import type { Logger } from 'pino';
import { CMD, nakName, NAK, REPLY, SCS, commandName, replyName } from './codes.js';
import { Framer } from './framer.js';
import type { ByteLink } from './link.js';
import { encodePacket, type Decoded, type Packet, type SecurityBlock } from './packet.js';
import {
  decodeCaps,
  decodeFmt,
  decodeKeypad,
  decodeLstat,
  decodePdid,
  decodeRaw,
  encodeKeyset,
  type Capability,
  type FormattedCard,
  type KeypadData,
  type LocalStatus,
  type PdIdentity,
  type RawCard,
} from './records.js';
import { clientCryptogram, deriveSessionKeys, initialRmac, random8, SCBK_D, sameBytes, SecureSession, serverCryptogram } from './secure.js';
import { tracePacket, type TraceOptions } from './trace.js';

export interface CpPdConfig {
  address: number;
  /** Use the Secure Channel with this PD. */
  secure: boolean;
  /** The PD's SCBK (required when secure, unless only SCBK-D is wanted). */
  scbk?: Buffer;
  /** When the PD refuses scbk, open a session with SCBK-D and install scbk with osdp_KEYSET (a reader fresh from the factory). */
  installKey?: boolean;
  /** CRC-16 (default) or the 8-bit checksum. */
  crc?: boolean;
}

export interface CpOptions {
  /** Pause between two rounds of polls. */
  pollIntervalMs: number;
  /** The 200 ms a PD has to answer, plus the wire time of the packets (added by the CP). */
  replyTimeoutMs: number;
  /** Same-bytes retransmissions after a missing or bad reply. */
  retries: number;
  /** No valid reply for this long: the PD is offline. */
  offlineAfterMs: number;
  /** How often an offline PD is tried again. */
  reconnectMs: number;
  log?: Logger;
  trace?: TraceOptions;
}

export class OsdpError extends Error {
  constructor(
    readonly kind: 'timeout' | 'nak' | 'security' | 'offline' | 'stopped' | 'protocol',
    message: string,
    readonly nak?: number,
  ) {
    super(message);
    this.name = 'OsdpError';
  }
}

export interface PdInfo {
  identity: PdIdentity;
  capabilities: Capability[];
  secure: boolean;
}

export interface CpEvents {
  online: [address: number, info: PdInfo];
  offline: [address: number, reason: string];
  card: [address: number, card: RawCard];
  formatted: [address: number, card: FormattedCard];
  keypad: [address: number, keys: KeypadData];
  status: [address: number, status: LocalStatus];
  /** A new SCBK was installed with osdp_KEYSET (the key itself is not passed around). */
  keyset: [address: number];
  /** A reply to a poll the CP has no use for. */
  reply: [address: number, code: number, data: Buffer];
}

interface Queued {
  code: number;
  data: Buffer;
  resolve: (r: Reply) => void;
  reject: (e: Error) => void;
}

export interface Reply {
  code: number;
  data: Buffer;
}

interface PdState {
  cfg: CpPdConfig;
  sqn?: number;
  session?: SecureSession;
  connected: boolean;
  online: boolean;
  lastOkAt: number;
  lastAttemptAt: number;
  queue: Queued[];
  info?: PdInfo;
  status?: LocalStatus;
  stats: { polls: number; retries: number; timeouts: number; naks: number; reconnects: number };
  /** osdp_KEYSET sent during install, its ACK not seen yet. */
  keysetUnconfirmed?: boolean;
}

interface Waiting {
  address: number;
  sqn: number;
  resolve: (d: Decoded) => void;
}

export class CpBus extends EventEmitter<CpEvents> {
  private readonly framer = new Framer();
  private readonly pds: PdState[];
  private running = false;
  private waiting?: Waiting;
  private wake?: () => void;
  private loop?: Promise<void>;
  readonly stats = { discarded: 0, stray: 0 };

  constructor(
    readonly link: ByteLink,
    pds: CpPdConfig[],
    readonly o: CpOptions,
  ) {
    super();
    this.pds = pds.map((cfg) => ({ cfg, connected: false, online: false, lastOkAt: 0, lastAttemptAt: 0, queue: [], stats: { polls: 0, retries: 0, timeouts: 0, naks: 0, reconnects: 0 } }));
    this.framer.on('packet', (d) => this.onPacket(d));
    this.framer.on('discard', () => this.stats.discarded++);
    link.on('data', (b) => this.framer.push(b));
  }

  start(): void {
    if (this.running) return;
    this.running = true;
    this.loop = this.run();
  }

  async stop(): Promise<void> {
    this.running = false;
    this.wake?.();
    await this.loop;
    for (const pd of this.pds) {
      for (const q of pd.queue.splice(0)) q.reject(new OsdpError('stopped', 'CP stopped'));
    }
  }

  isOnline(address: number): boolean {
    return this.pd(address)?.online ?? false;
  }

  info(address: number): PdInfo | undefined {
    return this.pd(address)?.info;
  }

  diagnostics(): Record<string, unknown> {
    return {
      ...this.stats,
      pds: this.pds.map((p) => ({ address: p.cfg.address, online: p.online, secure: Boolean(p.session), ...p.stats, status: p.status })),
    };
  }

  private pd(address: number): PdState | undefined {
    return this.pds.find((p) => p.cfg.address === address);
  }

  /** Send a command to an online PD between polls; resolves with its (decrypted) reply. */
  command(address: number, code: number, data: Buffer = Buffer.alloc(0)): Promise<Reply> {
    const pd = this.pd(address);
    if (!pd) return Promise.reject(new OsdpError('protocol', `no PD at address ${address} on this bus`));
    if (!pd.online) return Promise.reject(new OsdpError('offline', `PD ${address} is offline`));
    return new Promise((resolve, reject) => {
      pd.queue.push({ code, data, resolve, reject });
      this.wake?.();
    });
  }

  private async run(): Promise<void> {
    while (this.running) {
      for (const pd of this.pds) {
        if (!this.running) break;
        await this.service(pd);
      }
      if (!this.running) break;
      if (this.pds.some((p) => p.queue.length && p.connected)) continue;
      let done!: () => void;
      const pause = new Promise<void>((resolve) => (done = resolve));
      // 0: as fast as the line allows (bench, tests), still yielding to I/O between rounds
      const timer = this.o.pollIntervalMs > 0 ? setTimeout(done, this.o.pollIntervalMs) : undefined;
      const immediate = timer ? undefined : setImmediate(done);
      this.wake = done;
      await pause;
      clearTimeout(timer);
      if (immediate) clearImmediate(immediate);
      this.wake = undefined;
    }
  }

  private async service(pd: PdState): Promise<void> {
    const now = Date.now();
    try {
      if (!pd.connected) {
        if (!pd.online && pd.lastAttemptAt && now - pd.lastAttemptAt < this.o.reconnectMs) return;
        pd.lastAttemptAt = now;
        await this.connect(pd);
        return;
      }
      const q = pd.queue.shift();
      if (q) {
        try {
          const r = await this.exchange(pd, q.code, q.data);
          if (r.code === REPLY.NAK) q.reject(new OsdpError('nak', `${commandName(q.code)} refused: NAK ${nakName(r.data[0] ?? 0)}`, r.data[0]));
          else {
            if (q.code === CMD.KEYSET) this.keyInstalled(pd);
            q.resolve(r);
          }
          this.afterNak(pd, r);
        } catch (e) {
          q.reject(e as Error);
          throw e;
        }
        return;
      }
      pd.stats.polls++;
      const r = await this.exchange(pd, CMD.POLL, Buffer.alloc(0));
      this.onPollReply(pd, r);
    } catch (e) {
      this.failed(pd, e as Error);
    }
  }

  private keyInstalled(pd: PdState): void {
    // The PD ends the session once its ACK is out; the next round opens one with the new key.
    pd.session = undefined;
    pd.connected = false;
    pd.lastAttemptAt = 0;
    this.emit('keyset', pd.cfg.address);
  }

  private afterNak(pd: PdState, r: Reply): void {
    if (r.code !== REPLY.NAK) return;
    pd.stats.naks++;
    const code = r.data[0];
    if (code === NAK.SEQUENCE || code === NAK.SC_UNSUPPORTED || code === NAK.SC_REQUIRED) {
      // the conversation or the session is out of step: start again from sequence 0
      pd.connected = false;
      pd.lastAttemptAt = 0;
    }
  }

  private onPollReply(pd: PdState, r: Reply): void {
    const a = pd.cfg.address;
    try {
      switch (r.code) {
        case REPLY.ACK:
          return;
        case REPLY.RAW:
          this.emit('card', a, decodeRaw(r.data));
          return;
        case REPLY.FMT:
          this.emit('formatted', a, decodeFmt(r.data));
          return;
        case REPLY.KEYPAD:
          this.emit('keypad', a, decodeKeypad(r.data));
          return;
        case REPLY.LSTATR:
          pd.status = decodeLstat(r.data);
          this.emit('status', a, pd.status);
          return;
        case REPLY.NAK:
          this.afterNak(pd, r);
          return;
        default:
          this.emit('reply', a, r.code, r.data);
      }
    } catch (e) {
      this.o.log?.warn({ address: a, reply: replyName(r.code), err: (e as Error).message }, 'OSDP reply not understood');
    }
  }

  private failed(pd: PdState, e: Error): void {
    pd.connected = false;
    pd.session = undefined;
    const since = Date.now() - pd.lastOkAt;
    if (pd.online && since > this.o.offlineAfterMs) {
      pd.online = false;
      for (const q of pd.queue.splice(0)) q.reject(new OsdpError('offline', `PD ${pd.cfg.address} went offline`));
      this.o.log?.warn({ address: pd.cfg.address, err: e.message }, 'OSDP PD offline');
      this.emit('offline', pd.cfg.address, e.message);
    } else if (!(e instanceof OsdpError && e.kind === 'stopped')) {
      this.o.log?.debug({ address: pd.cfg.address, err: e.message }, 'OSDP exchange failed; reconnecting');
    }
  }

  private async connect(pd: PdState): Promise<void> {
    pd.stats.reconnects++;
    pd.sqn = undefined;
    pd.session = undefined;
    const id = await this.expect(pd, CMD.ID, Buffer.from([0]), REPLY.PDID);
    const caps = await this.expect(pd, CMD.CAP, Buffer.from([0]), REPLY.PDCAP);
    const info: PdInfo = { identity: decodePdid(id), capabilities: decodeCaps(caps), secure: false };
    if (pd.cfg.secure) {
      await this.secureSession(pd);
      info.secure = true;
    }
    const st = await this.expect(pd, CMD.LSTAT, Buffer.alloc(0), REPLY.LSTATR);
    pd.status = decodeLstat(st);
    pd.info = info;
    pd.connected = true;
    if (!pd.online) {
      pd.online = true;
      this.o.log?.info({ address: pd.cfg.address, secure: info.secure }, 'OSDP PD online');
      this.emit('online', pd.cfg.address, info);
    }
    this.emit('status', pd.cfg.address, pd.status);
  }

  private async expect(pd: PdState, code: number, data: Buffer, want: number, scb?: SecurityBlock): Promise<Buffer> {
    const r = await this.exchange(pd, code, data, scb);
    if (r.code === REPLY.NAK) {
      pd.stats.naks++;
      throw new OsdpError('nak', `${commandName(code)} refused: NAK ${nakName(r.data[0] ?? 0)}`, r.data[0]);
    }
    if (r.code !== want) throw new OsdpError('protocol', `${commandName(code)} answered with ${replyName(r.code)}`);
    return r.data;
  }

  /** The handshake with scbk; with installKey, SCBK-D and osdp_KEYSET when the PD does not know scbk yet. */
  private async secureSession(pd: PdState): Promise<void> {
    const key = pd.cfg.scbk;
    if (key) {
      try {
        await this.handshake(pd, key, 1);
        if (pd.keysetUnconfirmed) this.keysetConfirmed(pd, 'its acknowledgement was lost; the PD opened a session with the new key');
        return;
      } catch (e) {
        if (!pd.cfg.installKey || !(e instanceof OsdpError) || (e.kind !== 'security' && e.kind !== 'nak')) throw e;
      }
    }
    if (key && !pd.cfg.installKey) throw new OsdpError('security', 'no key to open a session with');
    await this.handshake(pd, SCBK_D, 0);
    if (key) {
      // Until the PD answers, it may have installed the key already (a lost ACK): the next session with the key says so.
      pd.keysetUnconfirmed = true;
      const r = await this.exchange(pd, CMD.KEYSET, encodeKeyset(key));
      if (r.code !== REPLY.ACK) {
        pd.keysetUnconfirmed = false;
        throw new OsdpError('security', `osdp_KEYSET refused (${replyName(r.code)} ${r.data.toString('hex')})`);
      }
      this.keysetConfirmed(pd, 'acknowledged');
      pd.session = undefined;
      await this.handshake(pd, key, 1);
    }
  }

  private keysetConfirmed(pd: PdState, how: string): void {
    pd.keysetUnconfirmed = false;
    this.o.log?.info({ address: pd.cfg.address, how }, 'OSDP PD: new SCBK installed');
    this.emit('keyset', pd.cfg.address);
  }

  private async handshake(pd: PdState, scbk: Buffer, keyByte: number): Promise<void> {
    pd.session = undefined;
    const rndA = random8();
    const cc = await this.expect(pd, CMD.CHLNG, rndA, REPLY.CCRYPT, { type: SCS.S11, data: Buffer.from([keyByte]) });
    if (cc.length !== 32) throw new OsdpError('protocol', `osdp_CCRYPT of ${cc.length} bytes`);
    const rndB = cc.subarray(8, 16);
    const keys = deriveSessionKeys(scbk, rndA);
    if (!sameBytes(clientCryptogram(keys, rndA, rndB), cc.subarray(16, 32))) {
      throw new OsdpError('security', `PD ${pd.cfg.address}: its cryptogram does not match (wrong SCBK${keyByte === 0 ? '-D' : ''})`);
    }
    const server = serverCryptogram(keys, rndA, rndB);
    const rm = await this.expect(pd, CMD.SCRYPT, server, REPLY.RMAC_I, { type: SCS.S13, data: Buffer.from([keyByte]) });
    const rmac = initialRmac(keys, server);
    if (rm.length !== 16 || !sameBytes(rm, rmac)) throw new OsdpError('security', `PD ${pd.cfg.address}: initial R-MAC does not match`);
    pd.session = new SecureSession(keys, rmac);
  }

  private nextSqn(pd: PdState): number {
    pd.sqn = pd.sqn === undefined ? 0 : (pd.sqn % 3) + 1;
    return pd.sqn;
  }

  private wireMs(bytes: number): number {
    return Math.ceil((bytes * 10 * 1000) / this.link.baudRate);
  }

  /** One command and its reply, with same-bytes retries; decrypts and checks the MAC of secure replies. */
  private async exchange(pd: PdState, code: number, data: Buffer, scb?: SecurityBlock): Promise<Reply> {
    if (!this.running) throw new OsdpError('stopped', 'CP stopped');
    const sqn = this.nextSqn(pd);
    const pkt: Packet = { address: pd.cfg.address, reply: false, sqn, crc: pd.cfg.crc ?? true, code, data, scb };
    const s = pd.session;
    let bytes: Buffer;
    if (s && !scb) {
      pkt.scb = { type: data.length ? SCS.S17 : SCS.S15, data: Buffer.alloc(0) };
      if (data.length) pkt.data = s.encryptCommand(data);
      bytes = encodePacket(pkt, (covered) => s.macCommand(covered));
    } else {
      bytes = encodePacket(pkt);
    }
    tracePacket(this.o.log, this.o.trace ?? { enabled: false, cardData: false }, pkt, data);
    // room for the command, the PD's 200 ms, and a reply of up to 64 bytes on the wire
    const timeout = this.o.replyTimeoutMs + this.wireMs(bytes.length + 64);
    for (let attempt = 0; attempt <= this.o.retries; attempt++) {
      if (!this.running) throw new OsdpError('stopped', 'CP stopped');
      if (attempt > 0) pd.stats.retries++;
      const d = await this.send(pd.cfg.address, sqn, bytes, timeout);
      if (!d) continue;
      const r = this.open(pd, code, d);
      if (r) {
        pd.lastOkAt = Date.now();
        return r;
      }
    }
    pd.stats.timeouts++;
    throw new OsdpError('timeout', `no valid reply from PD ${pd.cfg.address} to ${commandName(code)} after ${this.o.retries + 1} tries`);
  }

  /** Check and unwrap a reply; undefined when it is not acceptable (treated like a lost reply). */
  private open(pd: PdState, code: number, d: Decoded): Reply | undefined {
    const p = d.packet;
    const s = pd.session;
    let data = p.data;
    if (s && !(p.code === REPLY.CCRYPT || p.code === REPLY.RMAC_I)) {
      if (!p.scb) {
        // The PD dropped the session: it says so with a plain NAK (or acknowledges KEYSET in clear).
        if (p.code === REPLY.NAK || (code === CMD.KEYSET && p.code === REPLY.ACK)) {
          pd.session = undefined;
          this.trace(p);
          return { code: p.code, data };
        }
        return undefined;
      }
      if ((p.scb.type !== SCS.S16 && p.scb.type !== SCS.S18) || !p.mac) return undefined;
      if (!s.checkReply(d.macInput, p.mac)) {
        this.o.log?.warn({ address: pd.cfg.address }, 'OSDP reply with a wrong MAC: session closed');
        pd.session = undefined;
        throw new OsdpError('security', `PD ${pd.cfg.address}: reply MAC wrong`);
      }
      if (p.scb.type === SCS.S18) {
        const plain = s.decryptReply(p.data);
        if (!plain) {
          pd.session = undefined;
          throw new OsdpError('security', `PD ${pd.cfg.address}: reply data does not decrypt`);
        }
        data = plain;
      }
    } else if (p.scb && p.scb.type >= SCS.S15) {
      return undefined;
    }
    this.trace(p, data);
    return { code: p.code, data };
  }

  private trace(p: Packet, plain?: Buffer): void {
    tracePacket(this.o.log, this.o.trace ?? { enabled: false, cardData: false }, p, plain);
  }

  private send(address: number, sqn: number, bytes: Buffer, timeoutMs: number): Promise<Decoded | undefined> {
    return new Promise((resolve) => {
      const t = setTimeout(() => {
        this.waiting = undefined;
        resolve(undefined);
      }, timeoutMs);
      this.waiting = {
        address,
        sqn,
        resolve: (d) => {
          clearTimeout(t);
          this.waiting = undefined;
          resolve(d);
        },
      };
      this.link.write(bytes);
    });
  }

  private onPacket(d: Decoded): void {
    const w = this.waiting;
    const p = d.packet;
    if (!w || !p.reply || (p.address !== w.address && p.address !== 0x7f) || p.sqn !== w.sqn) {
      this.stats.stray++;
      return;
    }
    w.resolve(d);
  }
}
