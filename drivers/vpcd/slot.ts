/**
 * One vpcd slot: a TCP listener on its own port. A vicc that connects is a
 * card inserted; its connection closing is the card removed (as with pcscd's
 * vpcd). One connection at a time; a second one is closed at once.
 *
 * Failure rules (each leaves the slot empty and the listener running):
 * - connection lost with a call pending: the call fails with E_NO_SMARTCARD;
 * - a malformed answer (unsolicited frame, empty or oversized ATR, response
 *   shorter than a status word): F_COMM_ERROR;
 * - no answer within responseTimeoutMs: E_TIMEOUT.
 */
import { EventEmitter } from 'node:events';
import net from 'node:net';
import type { Logger } from 'pino';
import type { CardInfo, DriverSlot, SlotEvents } from '../../src/driver/contract.js';
import { CM_IOCTL_GET_FEATURE_REQUEST, FEATURE, SCARD, scardCtlCode } from '../../src/pcsc/constants.js';
import { PcscError } from '../../src/pcsc/error.js';
import { startReading, writeReply } from '../../src/net/socket-io.js';
import { controlFrame, encodeFrame, FrameDecoder, MAX_PAYLOAD, VPCD_CTRL } from './frame.js';

const ATR_MIN = 2;
const ATR_MAX = 33;
/** ifd-vpcd's IOCTL for FEATURE_GET_TLV_PROPERTIES (libccid's CLASS2_IOCTL_MAGIC numbering). */
export const IOCTL_FEATURE_GET_TLV_PROPERTIES = scardCtlCode(0x330000 + FEATURE.GET_TLV_PROPERTIES);
/** PC/SC part 10 property dwMaxAPDUDataSize: vicc takes extended APDUs. */
const TLV_PROPERTIES = Buffer.from([0x0a, 0x04, 0x00, 0x00, 0x01, 0x00]);
const RETRY_MIN_MS = 500;
const RETRY_MAX_MS = 30000;

type Expect = 'atr' | 'rapdu';
interface Pending {
  expect: Expect;
  resolve: (b: Buffer) => void;
  reject: (e: Error) => void;
  /** performance.now() after which the call fails with E_TIMEOUT. */
  deadline: number;
}

export interface VpcdSlotOptions {
  host: string;
  port: number;
  responseTimeoutMs: number;
  log: Logger;
}

export class VpcdSlot extends EventEmitter<SlotEvents> implements DriverSlot {
  readonly level = 'apdu' as const;
  private server: net.Server | undefined;
  private sock: net.Socket | undefined;
  private readonly decoder = new FrameDecoder();
  private pending: Pending | undefined;
  private present = false;
  private atr: Buffer | undefined;
  private queue: Promise<unknown> = Promise.resolve();
  /** serial() ops queued or running. */
  private serialOps = 0;
  private closed = false;
  private retryMs = RETRY_MIN_MS;
  private retryTimer: NodeJS.Timeout | undefined;
  /** One response watchdog per slot, re-armed lazily (no timer set and cleared per exchange). */
  private watchdog: NodeJS.Timeout | undefined;
  private listening = false;
  readonly counters = { connections: 0, refused: 0, exchanges: 0, timeouts: 0, protocolErrors: 0, disconnectsMidCall: 0 };

  constructor(
    readonly index: number,
    private readonly opts: VpcdSlotOptions,
  ) {
    super();
  }

  get port(): number {
    return this.opts.port;
  }

  isCardPresent(): boolean {
    return this.present;
  }

  cardInfo(): CardInfo | undefined {
    return this.present ? { contactless: false, type: 'vicc' } : undefined;
  }

  // ---------------------------------------------------------------- listener

  /** (Re)open the slot after construction or close(). */
  async open(): Promise<void> {
    this.closed = false;
    await this.listen();
  }

  /** Bind the port. Resolves either way: a port that cannot be bound is retried with back-off, the slot reported unavailable. */
  async listen(): Promise<void> {
    if (this.closed || this.listening) return;
    const server = net.createServer({ noDelay: true, pauseOnConnect: true }, (s) => this.accept(s));
    await new Promise<void>((resolve) => {
      const fail = (e: NodeJS.ErrnoException): void => {
        server.close();
        this.opts.log.warn({ port: this.opts.port, err: e }, 'vpcd: cannot listen; retrying');
        this.emit('availability', false, `cannot listen on ${this.opts.host}:${this.opts.port}: ${e.code ?? e.message}`);
        this.scheduleRetry();
        resolve();
      };
      server.once('error', fail);
      server.listen({ host: this.opts.host, port: this.opts.port, backlog: 4 }, () => {
        server.off('error', fail);
        server.on('error', (e) => this.emit('error', e));
        this.server = server;
        this.listening = true;
        if (this.retryMs !== RETRY_MIN_MS) this.emit('availability', true);
        this.retryMs = RETRY_MIN_MS;
        resolve();
      });
    });
  }

  private scheduleRetry(): void {
    if (this.closed) return;
    const ms = this.retryMs;
    this.retryMs = Math.min(this.retryMs * 2, RETRY_MAX_MS);
    this.retryTimer = setTimeout(() => void this.listen(), ms);
  }

  async close(): Promise<void> {
    this.closed = true;
    if (this.retryTimer) clearTimeout(this.retryTimer);
    this.retryTimer = undefined;
    this.drop(SCARD.E_NO_SMARTCARD, 'reader closed');
    clearTimeout(this.watchdog);
    this.watchdog = undefined;
    const server = this.server;
    this.server = undefined;
    this.listening = false;
    if (server) await new Promise<void>((r) => server.close(() => r()));
  }

  private accept(s: net.Socket): void {
    if (this.sock || this.closed) {
      // One card per slot, as vpcd: the newcomer is turned away.
      this.counters.refused++;
      this.opts.log.warn({ port: this.opts.port, from: s.remoteAddress }, 'vpcd: slot already has a card; connection refused');
      s.destroy();
      return;
    }
    this.counters.connections++;
    s.setNoDelay(true);
    this.sock = s;
    this.decoder.reset();
    s.on('error', () => undefined); // 'close' follows and does the work
    s.on('close', () => this.onClose(s));
    startReading(s, (chunk) => this.onData(s, chunk));
    // A connection is a card once it answers GET ATR with an ATR.
    void this.serial(() => this.request(encodeFrame(Buffer.from([VPCD_CTRL.ATR])), 'atr')).then(
      (atr) => {
        if (this.sock !== s) return;
        this.atr = atr;
        this.present = true;
        this.emit('presence', true, this.cardInfo());
      },
      (e: Error) => this.opts.log.info({ port: this.opts.port, err: e }, 'vpcd: connection is not a card'),
    );
  }

  private onData(s: net.Socket, chunk: Buffer): void {
    if (this.sock !== s) return;
    for (const frame of this.decoder.push(chunk)) {
      const p = this.pending;
      if (!p) return this.drop(SCARD.F_COMM_ERROR, `unsolicited ${frame.length}-byte frame from the vicc`);
      const problem = p.expect === 'atr' ? atrProblem(frame) : frame.length < 2 ? `response of ${frame.length} bytes has no status word` : undefined;
      if (problem) return this.drop(SCARD.F_COMM_ERROR, problem);
      this.settled();
      p.resolve(frame);
    }
    // An ATR cannot be longer than 33 bytes: no need to wait for the rest of a bigger frame.
    const n = this.decoder.announced();
    if (n !== undefined && n > ATR_MAX && this.pending?.expect === 'atr') this.drop(SCARD.F_COMM_ERROR, `ATR frame of ${n} bytes announced (at most ${ATR_MAX})`);
  }

  private onClose(s: net.Socket): void {
    if (this.sock !== s) return;
    this.sock = undefined;
    this.decoder.reset();
    const p = this.pending;
    if (p) {
      this.counters.disconnectsMidCall++;
      this.settled();
      p.reject(new PcscError(SCARD.E_NO_SMARTCARD, '(the vicc disconnected during the exchange)'));
    }
    this.atr = undefined;
    if (this.present) {
      this.present = false;
      this.emit('presence', false);
    }
  }

  /** Fail the pending call with `code` and close the connection (the card is gone). */
  private drop(code: number, why: string): void {
    const p = this.pending;
    if (code === SCARD.F_COMM_ERROR) this.counters.protocolErrors++;
    if (code === SCARD.E_TIMEOUT) this.counters.timeouts++;
    if (p) {
      this.settled();
      p.reject(new PcscError(code, `(vpcd slot ${this.index}: ${why})`));
    }
    if (this.sock) {
      if (code !== SCARD.E_NO_SMARTCARD) this.opts.log.warn({ port: this.opts.port, why }, 'vpcd: dropping the vicc connection');
      const s = this.sock;
      s.destroy();
      this.onClose(s);
    }
  }

  // --------------------------------------------------------------- exchanges

  /** One call at a time on the wire (the core serialises too; the connect probe is ours). */
  private serial<T>(op: () => Promise<T>): Promise<T> {
    this.serialOps++;
    const run = this.queue.then(op, op);
    // The caller handles `run`'s rejection; the next op runs after it either way.
    this.queue = run;
    run.then(this.serialDone, this.serialDone);
    return run;
  }

  private readonly serialDone = (): void => {
    this.serialOps--;
  };

  private request(bytes: Buffer, expect: Expect): Promise<Buffer> {
    const s = this.sock;
    if (!s) return Promise.reject(new PcscError(SCARD.E_NO_SMARTCARD, `(vpcd slot ${this.index}: no vicc connected)`));
    return new Promise<Buffer>((resolve, reject) => {
      const ms = this.opts.responseTimeoutMs;
      this.pending = { expect, resolve, reject, deadline: performance.now() + ms };
      // The watchdog keeps the process alive only while a call is pending.
      if (this.watchdog) this.watchdog.ref();
      else this.arm(ms);
      writeReply(s, bytes);
    });
  }

  private settled(): void {
    this.pending = undefined;
    this.watchdog?.unref();
  }

  private arm(ms: number): void {
    this.watchdog = setTimeout(this.watch, Math.max(1, Math.ceil(ms)));
    if (!this.pending) this.watchdog.unref();
  }

  private readonly watch = (): void => {
    this.watchdog = undefined;
    const p = this.pending;
    if (!p) return;
    const left = p.deadline - performance.now();
    if (left > 0) this.arm(left);
    else this.drop(SCARD.E_TIMEOUT, `no answer within ${this.opts.responseTimeoutMs} ms`);
  };

  private send(bytes: Buffer): void {
    if (!this.sock) throw new PcscError(SCARD.E_NO_SMARTCARD, `(vpcd slot ${this.index}: no vicc connected)`);
    writeReply(this.sock, bytes);
  }

  async powerUp(): Promise<Buffer> {
    return this.serial(async () => {
      // Power on (no reply) and GET ATR in one write.
      const atr = await this.request(Buffer.concat([controlFrame(VPCD_CTRL.ON), controlFrame(VPCD_CTRL.ATR)]), 'atr');
      this.atr = atr;
      return Buffer.from(atr);
    });
  }

  async reset(): Promise<Buffer> {
    return this.serial(async () => {
      const atr = await this.request(Buffer.concat([controlFrame(VPCD_CTRL.RESET), controlFrame(VPCD_CTRL.ATR)]), 'atr');
      this.atr = atr;
      return Buffer.from(atr);
    });
  }

  async powerDown(): Promise<void> {
    return this.serial(async () => {
      if (this.sock) this.send(controlFrame(VPCD_CTRL.OFF));
    });
  }

  transmit(data: Buffer, _protocol: number): Promise<Buffer> {
    // A 1-byte payload would read as a control code; 0xFFFF is the frame limit.
    if (data.length < 2 || data.length > MAX_PAYLOAD) {
      return Promise.reject(new PcscError(SCARD.E_INVALID_PARAMETER, `(vpcd: an APDU of ${data.length} bytes cannot be sent; 2..${MAX_PAYLOAD})`));
    }
    if (this.serialOps > 0 || this.pending) {
      return this.serial(() => {
        this.counters.exchanges++;
        return this.request(encodeFrame(data), 'rapdu');
      });
    }
    // Nothing queued or on the wire (the core sends one exchange at a time): straight out, later ops queue behind it.
    this.counters.exchanges++;
    const p = this.request(encodeFrame(data), 'rapdu');
    this.queue = p;
    return p;
  }

  /** As ifd-vpcd: the part 10 feature list holds GET_TLV_PROPERTIES, whose answer announces extended APDUs. */
  async control(code: number, _data: Buffer): Promise<Buffer> {
    if (code >>> 0 === CM_IOCTL_GET_FEATURE_REQUEST) {
      const out = Buffer.alloc(6);
      out[0] = FEATURE.GET_TLV_PROPERTIES;
      out[1] = 4;
      out.writeUInt32BE(IOCTL_FEATURE_GET_TLV_PROPERTIES, 2);
      return out;
    }
    if (code >>> 0 === IOCTL_FEATURE_GET_TLV_PROPERTIES) return Buffer.from(TLV_PROPERTIES);
    throw new PcscError(SCARD.E_UNSUPPORTED_FEATURE, `(vpcd: control code 0x${(code >>> 0).toString(16)})`);
  }

  diagnostics(): Record<string, unknown> {
    return {
      port: this.opts.port,
      listening: this.listening,
      connected: this.sock !== undefined,
      peer: this.sock ? `${this.sock.remoteAddress}:${this.sock.remotePort}` : null,
      atr: this.atr?.toString('hex').toUpperCase() ?? null,
      ...this.counters,
    };
  }
}

function atrProblem(atr: Buffer): string | undefined {
  if (atr.length === 0) return 'empty ATR (the vicc says the card is gone)';
  if (atr.length < ATR_MIN || atr.length > ATR_MAX) return `ATR of ${atr.length} bytes (${ATR_MIN}..${ATR_MAX} expected)`;
  if (atr[0] !== 0x3b && atr[0] !== 0x3f) return `ATR starts with ${atr[0].toString(16).padStart(2, '0').toUpperCase()}, not 3B/3F`;
  return undefined;
}
