/**
 * An OSDP control panel (the access panel's side) for tests and the command
 * line: polls one or more PDs and records what they report. Its keys and
 * timings are options, so tests can play a panel with the wrong key or an
 * impatient one.
 */
import { CpBus, type CpPdConfig } from '../../src/osdp/cp.js';
import type { ByteLink } from '../../src/osdp/link.js';
import type { RawCard } from '../../src/osdp/records.js';
import type { Logger } from 'pino';

export interface EmulatedCpOptions {
  pds: CpPdConfig[];
  pollIntervalMs?: number;
  replyTimeoutMs?: number;
  retries?: number;
  offlineAfterMs?: number;
  reconnectMs?: number;
  log?: Logger;
  trace?: boolean;
}

export class EmulatedCp {
  readonly bus: CpBus;
  readonly cards: Array<{ address: number; card: RawCard }> = [];
  readonly online = new Set<number>();
  onlineCount = 0;
  offlineCount = 0;

  constructor(
    readonly link: ByteLink,
    o: EmulatedCpOptions,
  ) {
    this.bus = new CpBus(link, o.pds, {
      pollIntervalMs: o.pollIntervalMs ?? 50,
      replyTimeoutMs: o.replyTimeoutMs ?? 200,
      retries: o.retries ?? 2,
      offlineAfterMs: o.offlineAfterMs ?? 1000,
      reconnectMs: o.reconnectMs ?? 200,
      log: o.log,
      trace: { enabled: o.trace ?? false, cardData: true },
    });
    this.bus.on('card', (address, card) => this.cards.push({ address, card }));
    this.bus.on('online', (a) => {
      this.online.add(a);
      this.onlineCount++;
    });
    this.bus.on('offline', (a) => {
      this.online.delete(a);
      this.offlineCount++;
    });
  }

  start(): void {
    this.bus.start();
  }

  stop(): Promise<void> {
    return this.bus.stop();
  }
}
