/**
 * The sim driver: in-process readers with programmable cards, declared in
 * config (drivers.sim.readers), cards inserted and removed by command
 * (slot.simulate). One slot per reader. The embedded default, the demo and
 * the test bench.
 */
import { EventEmitter } from 'node:events';
import type { Static } from '@sinclair/typebox';
import type { Driver, DriverContext, DriverEvents, DriverReader } from '../../src/driver/contract.js';
import { createCard, type SimCard } from './cards/index.js';
import type { SimConfig } from './config.js';
import { SimSlot } from './slot.js';

export { SimSlot } from './slot.js';

export const SIM_FRIENDLY_DEFAULT = 'Simulated Reader';

export class SimReader implements DriverReader {
  readonly slots: readonly SimSlot[];
  readonly vendor = 'scardgate';
  readonly ifdType = 'Simulated Reader';
  readonly ifdVersion = 0x00010000;
  constructor(
    readonly id: string,
    readonly friendlyName: string,
  ) {
    this.slots = [new SimSlot(friendlyName)];
  }
  get slot(): SimSlot {
    return this.slots[0];
  }
  diagnostics(): Record<string, unknown> {
    return this.slot.diagnostics();
  }
}

export interface SimReaderConfig {
  name: string;
  card?: unknown;
}

export class SimDriver extends EventEmitter<DriverEvents> implements Driver {
  readonly name = 'sim';
  private readonly readers = new Map<string, SimReader>();
  private nextId = 0;
  private started = false;
  private readonly initial: Array<{ name: string; card?: SimCard }>;

  constructor(
    config: Static<typeof SimConfig>,
    private readonly ctx: DriverContext,
  ) {
    super();
    // Every card spec is checked before anything starts, so a bad config names its key at start-up.
    this.initial = (config.readers ?? []).map((r, i) => {
      let card: SimCard | undefined;
      if (r.card !== undefined) {
        try {
          card = createCard(r.card);
        } catch (e) {
          throw new Error(`drivers.sim.readers[${i}].card: ${(e as Error).message}`, { cause: e });
        }
      }
      return { name: r.name, card };
    });
  }

  async start(): Promise<void> {
    if (this.started) return;
    this.started = true;
    for (const r of this.initial) this.addReaderWithCard(r.name, r.card);
  }

  async stop(): Promise<void> {
    this.started = false;
    for (const r of [...this.readers.values()]) this.removeReader(r.id);
  }

  /** Add a reader at run time (readers come and go). The card, if any, is present from the start (isCardPresent). */
  addReader(cfg: SimReaderConfig): SimReader {
    return this.addReaderWithCard(cfg.name, cfg.card === undefined ? undefined : createCard(cfg.card));
  }

  private addReaderWithCard(name: string, card: SimCard | undefined): SimReader {
    if (typeof name !== 'string' || name.length === 0 || name.length > 100) throw new Error(`sim reader name must be 1..100 characters, got ${JSON.stringify(name)}`);
    const reader = new SimReader(`sim-${this.nextId++}`, name);
    if (card) reader.slot.insertCard(card);
    this.readers.set(reader.id, reader);
    this.ctx.log.debug({ reader: reader.id, name, card: card?.type }, 'simulated reader added');
    this.emit('reader-added', reader);
    return reader;
  }

  /** Unplug a reader: its card goes with it. */
  removeReader(id: string): boolean {
    const reader = this.readers.get(id);
    if (!reader) return false;
    this.readers.delete(id);
    void reader.slot.powerDown();
    this.emit('reader-removed', reader);
    return true;
  }

  list(): SimReader[] {
    return [...this.readers.values()];
  }

  diagnostics(): Record<string, unknown> {
    return { readers: this.list().map((r) => ({ id: r.id, name: r.friendlyName, ...r.diagnostics() })) };
  }
}

export function createSimDriver(config: Static<typeof SimConfig>, ctx: DriverContext): SimDriver {
  return new SimDriver(config, ctx);
}
