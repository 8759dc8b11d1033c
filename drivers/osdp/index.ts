/**
 * OSDP driver: the gateway as control panel of RS-485 buses of OSDP readers.
 * Each configured reader becomes a gateway reader when it first answers;
 * card reads become card insertions (with the credential), tamper and power
 * failures reader errors, LED/buzzer feedback osdp_LED/osdp_BUZ. A reader that
 * stops answering turns unavailable and comes back by itself; a bus whose
 * adapter vanishes is reopened with back-off.
 */
import { EventEmitter } from 'node:events';
import type { Driver, DriverContext, DriverEvents } from '../../src/driver/contract.js';
import { CpBus, type CpPdConfig } from '../../src/osdp/cp.js';
import { openSerialLink, type ByteLink, type SerialPortFactory } from '../../src/osdp/link.js';
import type { OsdpCpBusConfigT, OsdpCpConfigT } from './config.js';
import { OsdpReader } from './slot.js';

export { OsdpReader, OsdpSlot, OSDP_ATR } from './slot.js';

export interface OsdpDriverDeps {
  serialPort?: SerialPortFactory;
  reopenMs?: { initial: number; max: number };
}

class Bus {
  link?: ByteLink;
  cp?: CpBus;
  readers = new Map<number, OsdpReader>();
  private running = false;
  private retry?: NodeJS.Timeout;
  private backoff: number;

  constructor(
    private readonly driver: OsdpDriver,
    readonly cfg: OsdpCpBusConfigT,
  ) {
    this.backoff = driver.reopenMs.initial;
  }

  async start(): Promise<void> {
    this.running = true;
    await this.open();
  }

  async stop(): Promise<void> {
    this.running = false;
    clearTimeout(this.retry);
    await this.close();
  }

  private async close(): Promise<void> {
    const cp = this.cp;
    this.cp = undefined;
    await cp?.stop();
    await this.link?.close().catch(() => undefined);
    this.link = undefined;
    for (const r of this.readers.values()) {
      r.slots[0].close();
      this.driver.emit('reader-removed', r);
    }
    this.readers.clear();
  }

  private async open(): Promise<void> {
    if (!this.running) return;
    const log = this.driver.log;
    try {
      const link = await openSerialLink(this.cfg.path, this.cfg.baudRate, this.driver.deps.serialPort);
      this.link = link;
      const pds: CpPdConfig[] = this.cfg.readers.map((r) => ({
        address: r.address,
        secure: r.secure,
        scbk: r.scbk ? Buffer.from(r.scbk, 'hex') : undefined,
        installKey: r.installKey,
      }));
      const cp = new CpBus(link, pds, {
        pollIntervalMs: this.cfg.pollIntervalMs,
        replyTimeoutMs: this.cfg.replyTimeoutMs,
        retries: this.cfg.retries,
        offlineAfterMs: this.cfg.offlineAfterMs,
        reconnectMs: this.cfg.reconnectMs,
        log: log.child({ bus: this.cfg.path }),
        trace: { enabled: this.cfg.trace, cardData: this.cfg.traceCardData },
      });
      this.cp = cp;
      this.wire(cp);
      link.on('lost', (why) => void this.lost(why));
      cp.start();
      this.backoff = this.driver.reopenMs.initial;
    } catch (e) {
      log.warn({ bus: this.cfg.path, err: (e as Error).message, retryMs: this.backoff }, 'OSDP bus not available; retrying');
      this.scheduleRetry();
    }
  }

  private wire(cp: CpBus): void {
    cp.on('online', (address, info) => {
      const cfg = this.cfg.readers.find((r) => r.address === address);
      if (!cfg) return;
      const known = this.readers.get(address);
      if (known) {
        known.slots[0].emit('availability', true);
        return;
      }
      const r = new OsdpReader(`${this.cfg.path}#${address}`, cfg, cp);
      r.serial = info.identity.serial.toString(16).padStart(8, '0');
      this.readers.set(address, r);
      this.driver.emit('reader-added', r);
    });
    cp.on('offline', (address, why) => this.readers.get(address)?.slots[0].emit('availability', false, `OSDP reader ${address} not answering: ${why}`));
    cp.on('card', (address, card) => this.readers.get(address)?.slots[0].read(card));
    cp.on('status', (address, st) => {
      const slot = this.readers.get(address)?.slots[0];
      if (!slot) return;
      if (st.tamper) slot.emit('error', new Error(`OSDP reader ${address}: tamper`));
      if (st.power) slot.emit('error', new Error(`OSDP reader ${address}: power failure`));
    });
    cp.on('keypad', (address, k) => this.driver.log.info({ bus: this.cfg.path, address, digits: k.keys.length }, 'OSDP keypad input'));
  }

  private scheduleRetry(): void {
    if (!this.running) return;
    clearTimeout(this.retry);
    this.retry = setTimeout(() => void this.open(), this.backoff);
    this.backoff = Math.min(this.backoff * 2, this.driver.reopenMs.max);
  }

  private async lost(why: string): Promise<void> {
    if (!this.link) return;
    this.driver.log.warn({ bus: this.cfg.path, why }, 'OSDP bus lost');
    await this.close();
    this.scheduleRetry();
  }
}

export class OsdpDriver extends EventEmitter<DriverEvents> implements Driver {
  readonly name = 'osdp';
  readonly buses: Bus[];
  readonly log: DriverContext['log'];
  readonly reopenMs: { initial: number; max: number };

  constructor(
    config: OsdpCpConfigT,
    ctx: DriverContext,
    readonly deps: OsdpDriverDeps = {},
  ) {
    super();
    this.log = ctx.log.child({ driver: 'osdp' });
    this.reopenMs = deps.reopenMs ?? { initial: 500, max: 30000 };
    this.buses = config.buses.map((b) => new Bus(this, b));
  }

  async start(): Promise<void> {
    await Promise.all(this.buses.map((b) => b.start()));
  }

  async stop(): Promise<void> {
    await Promise.all(this.buses.map((b) => b.stop()));
  }

  readers(): OsdpReader[] {
    return this.buses.flatMap((b) => [...b.readers.values()]);
  }

  diagnostics(): Record<string, unknown> {
    return { buses: this.buses.map((b) => ({ path: b.cfg.path, open: !!b.link, ...(b.cp?.diagnostics() ?? {}) })) };
  }
}

export function createOsdpDriver(config: OsdpCpConfigT, ctx: DriverContext, deps: OsdpDriverDeps = {}): OsdpDriver {
  return new OsdpDriver(config, ctx, deps);
}
