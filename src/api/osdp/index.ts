/**
 * OSDP PD frontend: on a serial line to an access panel, the gateway answers
 * as one PD per configured door. A thin adapter: the OSDP work is in
 * src/osdp (PdEngine, PdPort); this module maps the panel's LED/BUZ to the
 * reader's feedback and card reads at the reader to osdp_RAW, and keeps what
 * the panel changes (address, speed, key) in the state directory.
 *
 * It reaches the gateway through the narrow ReaderOps interface below
 * (today backed by the core: card-inserted events and feedback).
 */
import type { Logger } from 'pino';
import type { Service, ServiceContext } from '../../daemon/service.js';
import type { Feedback } from '../../driver/contract.js';
import type { ScardCore, ReaderSnapshot } from '../../core/api.js';
import { CAP, COLOR, REPLY } from '../../osdp/codes.js';
import { credentialFromUid } from '../../osdp/formats.js';
import { openSerialLink, type ByteLink, type SerialPortFactory } from '../../osdp/link.js';
import { PdEngine } from '../../osdp/pd.js';
import { PdPort } from '../../osdp/pd-port.js';
import { encodeRaw, type BuzzerRecord, type Capability, type LedRecord } from '../../osdp/records.js';
import type { OsdpConfigT, OsdpPdConfigT } from './config.js';
import { OsdpStateFile, type OsdpState } from './state.js';

export const BAUD_RATES = [9600, 19200, 38400, 57600, 115200, 230400] as const;

/** What the PD frontend needs from the gateway. */
export interface ReaderOps {
  /** Card reads: reader name and the card's UID (undefined for cards without one). Returns an unsubscribe function. */
  onCardRead(fn: (reader: string, uid: Buffer | undefined) => void): () => void;
  feedback(reader: string, f: Feedback): Promise<void>;
  /** Names of the readers now present. */
  readerNames(): string[];
  hasFeedback(reader: string): boolean;
}

export function coreReaderOps(core: ScardCore): ReaderOps {
  return {
    onCardRead(fn) {
      const l = (r: ReaderSnapshot): void => fn(r.name, r.card?.uid);
      core.on('card-inserted', l);
      return () => core.off('card-inserted', l);
    },
    feedback: (reader, f) => core.feedback(reader, f),
    readerNames: () => core.readers().map((r) => r.name),
    hasFeedback: (reader) => core.readers().find((r) => r.name === reader)?.capabilities.feedback ?? false,
  };
}

/** The reader a PD stands for: exact name first, else the first whose name starts with the configured text. */
export function matchReader(names: string[], wanted: string): string | undefined {
  return names.find((n) => n === wanted) ?? names.find((n) => n.startsWith(wanted));
}

const colorFeedback = (c: number): Feedback['led'] => (c === COLOR.BLACK ? 'off' : c === COLOR.RED ? 'red' : c === COLOR.GREEN ? 'green' : 'on');

/** The LED state of one PD: a permanent colour and an optional temporary one with its timer. */
class LedState {
  private permanent: Feedback['led'] = 'off';
  private timer?: NodeJS.Timeout;
  constructor(private readonly apply: (led: Feedback['led']) => void) {}

  set(r: LedRecord): void {
    if (r.permanent.control === 1) this.permanent = r.permanent.onTime > 0 && r.permanent.offTime > 0 ? 'blink' : colorFeedback(r.permanent.onColor);
    const t = r.temporary;
    if (t.control === 2) {
      clearTimeout(this.timer);
      this.apply(t.onTime > 0 && t.offTime > 0 ? 'blink' : colorFeedback(t.onColor));
      if (t.timer > 0) {
        this.timer = setTimeout(() => this.apply(this.permanent), t.timer * 100);
        this.timer.unref?.();
      }
      return;
    }
    if (t.control === 1) clearTimeout(this.timer);
    if (t.control === 1 || r.permanent.control === 1) this.apply(this.permanent);
  }

  close(): void {
    clearTimeout(this.timer);
  }
}

export interface OsdpServiceDeps {
  serialPort?: SerialPortFactory;
  ops?: ReaderOps;
}

export class OsdpService implements Service {
  readonly name = 'osdp';
  private link?: ByteLink;
  port?: PdPort;
  engines: PdEngine[] = [];
  private readonly leds: LedState[] = [];
  private unsubscribe?: () => void;
  private state: OsdpState = { pds: [] };
  private readonly stateFile: OsdpStateFile;
  private readonly log: Logger;
  private readonly ops: ReaderOps;

  constructor(
    private readonly cfg: OsdpConfigT,
    stateDir: string,
    log: Logger,
    ops: ReaderOps,
    private readonly deps: OsdpServiceDeps = {},
  ) {
    this.log = log.child({ module: 'osdp' });
    this.stateFile = new OsdpStateFile(stateDir);
    this.ops = ops;
  }

  private capabilities(pd: OsdpPdConfigT): Capability[] {
    // only what this PD has: card data as raw bits, LED and buzzer through the reader's feedback, CRC, AES-128 when offered
    return [
      { fn: CAP.CARD_DATA_FORMAT, compliance: 1, count: 0 },
      { fn: CAP.READER_LED, compliance: 1, count: 1 },
      { fn: CAP.READER_AUDIBLE, compliance: 1, count: 1 },
      { fn: CAP.CHECK_CHARACTER, compliance: 1, count: 0 },
      { fn: CAP.COMMUNICATION_SECURITY, compliance: pd.secureChannel ? (pd.enforceSecure ? 0x01 : 0x03) : 0, count: 0 },
      { fn: CAP.RECEIVE_BUFFER, compliance: 1440 & 0xff, count: 1440 >> 8 },
      { fn: CAP.OSDP_VERSION, compliance: 2, count: 0 },
    ];
  }

  async start(): Promise<void> {
    this.state = await this.stateFile.load();
    const baud = this.state.baudRate ?? this.cfg.baudRate;
    const link = await openSerialLink(this.cfg.path, baud, this.deps.serialPort);
    this.link = link;
    const trace = { enabled: this.cfg.trace, cardData: this.cfg.traceCardData };
    this.engines = this.cfg.pds.map((pd, i) => {
      const saved = this.state.pds[i] ?? {};
      const scbk = pd.scbk ? Buffer.from(pd.scbk, 'hex') : saved.scbk ? Buffer.from(saved.scbk, 'hex') : undefined;
      const led = new LedState((l) => this.feedback(pd, { led: l }));
      this.leds.push(led);
      const engine: PdEngine = new PdEngine({
        address: saved.address ?? pd.address,
        identity: { vendorCode: parseInt(this.cfg.vendorCode, 16), model: this.cfg.model, version: 1, serial: (this.cfg.serial + i) >>> 0, firmware: [1, 0, 0] },
        capabilities: this.capabilities(pd),
        secureChannel: pd.secureChannel,
        scbk,
        installMode: !scbk,
        enforceSecure: pd.enforceSecure,
        sessionTimeoutMs: this.cfg.sessionTimeoutMs,
        baudRates: BAUD_RATES,
        currentBaud: baud,
        log: this.log.child({ pd: pd.address }),
        trace,
        hooks: {
          led: (recs) => recs.forEach((r) => led.set(r)),
          buzzer: (b) => this.buzzer(pd, b),
          comset: async (c) => {
            this.log.info({ pd: pd.address, address: c.address, baudRate: c.baudRate }, 'OSDP COMSET from the panel: new address and speed');
            this.state.baudRate = c.baudRate;
            this.state.pds[i] = { ...this.state.pds[i], address: c.address };
            for (const e of this.engines) e.o.currentBaud = c.baudRate;
            await this.stateFile.save(this.state);
            await link.setBaudRate(c.baudRate);
          },
          keyset: async (key) => {
            this.state.pds[i] = { ...this.state.pds[i], scbk: key.toString('hex') };
            await this.stateFile.save(this.state);
            this.log.info({ pd: pd.address, stateFile: this.stateFile.path }, 'OSDP KEYSET: new secure channel key installed and stored');
          },
          secure: (active, why) => this.log.debug({ pd: pd.address, active, why }, 'OSDP secure session'),
        },
      });
      return engine;
    });
    this.port = new PdPort(link, this.engines, { log: this.log });
    link.on('lost', (why) => this.log.error({ path: this.cfg.path, why }, 'OSDP serial line lost'));
    this.unsubscribe = this.ops.onCardRead((reader, uid) => this.cardRead(reader, uid));
    this.log.info({ path: this.cfg.path, baudRate: baud, addresses: this.engines.map((e) => e.address) }, 'OSDP PD listening');
  }

  private readerOf(pd: OsdpPdConfigT): string | undefined {
    return matchReader(this.ops.readerNames(), pd.reader);
  }

  private feedback(pd: OsdpPdConfigT, f: Feedback): void {
    const r = this.readerOf(pd);
    if (!r) return;
    // the panel has its ACK already (replies cannot wait for the reader)
    this.ops.feedback(r, f).catch((e: Error) => this.log.warn({ reader: r, err: e.message }, 'OSDP LED/BUZ: reader feedback failed'));
  }

  private buzzer(pd: OsdpPdConfigT, b: BuzzerRecord): void {
    if (b.tone !== 2 || b.onTime === 0) return; // off / no tone: nothing to start
    this.feedback(pd, { buzzer: { ms: b.onTime * 100, count: b.count || 1 } });
  }

  private cardRead(reader: string, uid: Buffer | undefined): void {
    this.cfg.pds.forEach((pd, i) => {
      if (this.readerOf(pd) !== reader) return;
      if (!uid?.length) {
        this.log.info({ reader }, 'OSDP: card without a UID, nothing sent to the panel');
        return;
      }
      const c = credentialFromUid(uid, pd.format, pd.byteOrder);
      if (!c) {
        this.log.warn({ reader, format: pd.format, uidLength: uid.length }, 'OSDP: UID too short for the configured format');
        return;
      }
      this.engines[i].queueEvent(REPLY.RAW, encodeRaw({ reader: 0, format: c.formatCode, bitCount: c.bitCount, data: c.data }));
    });
  }

  async stop(): Promise<void> {
    this.unsubscribe?.();
    for (const l of this.leds) l.close();
    await this.link?.close();
  }

  diagnostics(): Record<string, unknown> {
    return {
      path: this.cfg.path,
      baudRate: this.link?.baudRate,
      port: this.port?.stats,
      pds: this.engines.map((e) => ({ address: e.address, secure: e.secureActive, installMode: e.installMode, pending: e.pendingEvents(), ...e.counters })),
    };
  }

  addresses(): Record<string, string> {
    return { osdp: this.cfg.path };
  }
}

export function createOsdpService(ctx: ServiceContext, deps: OsdpServiceDeps = {}): OsdpService {
  return new OsdpService(ctx.config.osdp, ctx.config.state.dir, ctx.log, deps.ops ?? coreReaderOps(ctx.core), deps);
}
