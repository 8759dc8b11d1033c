/**
 * The gateway event pipeline shared by MQTT and HTTP: core events become
 * GatewayEvents (numbered, timed, with card identity, Wiegand numbers and card
 * profile results), de-bounced, recorded durably in the outbox, and kept in a
 * bounded recent history.
 *
 * Order: events are recorded in the order the core announced them, even though
 * a card profile runs asynchronously (a later event waits for the card.inserted
 * before it); seq numbers are handed out in that order.
 */
import { EventEmitter } from 'node:events';
import type { Logger } from 'pino';
import type { ReaderSnapshot, ScardCore } from '../core/api.js';
import { toPcscError } from '../pcsc/error.js';
import { parseHex } from '../iso7816/hex.js';
import type { EventJournal, GatewayEvent, GatewayEventType, JournalEvents } from './types.js';
import type { EventsConfigT } from './config.js';
import { DurableOutbox, type EventDraft } from './outbox.js';
import { cardFields, cardIdentity, cardType } from './card-data.js';
import { clockProbe, type ClockProbe } from './clock.js';
import { compileProfiles, matchProfile, runProfile, type CompiledProfile, type ProfileResult } from './profiles.js';
import { runNdefStep, wantsNdef } from './ndef-step.js';

export interface GatewayEventsOptions {
  core: ScardCore;
  gatewayId: string;
  config: EventsConfigT;
  /** Directory of the outbox segment files. */
  dir: string;
  log: Logger;
  /** Acknowledge events as soon as they are recorded (nobody publishes them: MQTT disabled). */
  autoAck: boolean;
  /** Whether the wall clock is trustworthy (default: src/events/clock.ts's signals). */
  clock?: ClockProbe;
  /**
   * Each reader's PC/SC event counter when the previous journal of this process stopped (undefined for the first):
   * a card that arrived while no journal ran is recorded at start, see start().
   */
  countersAtLastStop?: ReadonlyMap<string, number>;
  /**
   * True while the gateway is still listing its readers at start-up (the journal starts before the drivers, so that
   * a card read that comes and goes during start-up is recorded). Those readers are the gateway's own, not news:
   * no reader.added, and a card they have when listed is present, not inserted.
   */
  listingReaders?: () => boolean;
}

interface PresentCard {
  identity: string;
  uid?: string;
  atr: string;
  cardType: string | null;
  /** performance.now() when it came: presentMs must not jump with the wall clock. */
  since: number;
}

interface PendingRemoval {
  timer: NodeJS.Timeout;
  card: PresentCard;
  snapshot: ReaderSnapshot;
  at: Date;
  atMono: number;
}

export class GatewayEvents extends EventEmitter<JournalEvents> implements EventJournal {
  private readonly o: GatewayEventsOptions;
  private readonly profiles: CompiledProfile[];
  outbox!: DurableOutbox;
  private ring: GatewayEvent[] = [];
  private chain: Promise<void> = Promise.resolve();
  private present = new Map<string, PresentCard>();
  private pendingRemovals = new Map<string, PendingRemoval>();
  private suppressed = 0;
  private recordFailures = 0;
  private refusedLogged = 0;
  private started = false;
  private readonly coreListeners: Array<[string, (...a: any[]) => void]> = [];

  constructor(o: GatewayEventsOptions) {
    super();
    this.o = o;
    this.profiles = compileProfiles(o.config.profiles);
    this.clock = o.clock ?? clockProbe();
  }

  private readonly clock: ClockProbe;

  async start(): Promise<void> {
    if (this.started) return;
    const log = this.o.log;
    this.outbox = await DurableOutbox.open({
      dir: this.o.dir,
      ...this.o.config.outbox,
      warn: (msg, detail) => log.warn(detail ?? {}, msg),
    });
    this.outbox.on('recorded', (ev) => {
      if (this.o.config.historySize > 0) {
        this.ring.push(ev);
        if (this.ring.length > this.o.config.historySize) this.ring.splice(0, this.ring.length - this.o.config.historySize);
      }
      if (this.o.autoAck) this.outbox.ack(ev.seq);
      this.emit('event', ev);
    });
    const core = this.o.core;
    const on = (name: string, fn: (...a: any[]) => void): void => {
      core.on(name as 'reader-added', fn);
      this.coreListeners.push([name, fn]);
    };
    on('reader-added', (r: ReaderSnapshot) => {
      if (!this.o.listingReaders?.()) this.enqueue(this.draft('reader.added', r, { driver: r.driver, capabilities: r.capabilities }));
      else if (r.atr.length) this.present.set(r.name, this.presentCard(r, new Date(r.since)));
    });
    on('reader-removed', (r: ReaderSnapshot) => {
      this.flushRemoval(r.name);
      this.present.delete(r.name);
      this.enqueue(this.draft('reader.removed', r, { driver: r.driver }));
    });
    on('reader-error', (r: ReaderSnapshot, err: Error) => this.enqueue(this.draft('reader.error', r, { error: toPcscError(err).toJSON() })));
    on('card-inserted', (r: ReaderSnapshot) => this.onInserted(r));
    // Readers already listed when this journal starts (only when a journal is restarted alone, the drivers running):
    // a card the reader had when it was listed (event counter 0) or that came while an earlier journal ran is no news:
    // no card.inserted, but its removal names it. One that came since (during the restart) is an insertion nobody
    // recorded yet.
    for (const r of core.readers()) {
      if (!r.atr.length) continue;
      const since = new Date(r.since);
      const missed = r.eventCounter > 0 && this.o.countersAtLastStop?.get(r.name) !== r.eventCounter;
      if (missed) this.onInserted(r, since);
      else this.present.set(r.name, this.presentCard(r, since));
    }
    on('card-removed', (r: ReaderSnapshot) => this.onRemoved(r));
    this.started = true;
  }

  private draft(type: GatewayEventType, r: ReaderSnapshot | string, data: Record<string, unknown>, at = new Date()): EventDraft {
    const d: EventDraft = { type, gatewayId: this.o.gatewayId, reader: typeof r === 'string' ? r : r.name, time: at.toISOString(), data };
    if (!this.clock.synced()) d.timeUnsynced = true;
    return d;
  }

  /** Queue an event (or a promise of one) so it is recorded after everything queued before it. */
  private enqueue(d: EventDraft | Promise<EventDraft | undefined>): void {
    if (!(d instanceof Promise) && this.chainIdle) {
      this.append(d);
      return;
    }
    this.chainIdle = false;
    const p = this.chain.then(async () => {
      const draft = await d;
      if (draft) this.append(draft);
    });
    this.chain = p;
    void p.then(() => {
      if (this.chain === p) this.chainIdle = true;
    });
  }

  private chainIdle = true;

  private append(d: EventDraft): void {
    this.outbox.append(d).then(
      (ev) => {
        // Refusals come in floods while the broker is away: log the first and then every 1000th.
        if (!ev && this.refusedLogged++ % 1000 === 0) {
          this.o.log.warn({ type: d.type, reader: d.reader, refused: this.outbox.stats().refused }, 'event outbox full: events refused (events.outbox.whenFull: refuse)');
        }
      },
      (e: Error) => {
        this.recordFailures++;
        this.o.log.error({ err: e, type: d.type, reader: d.reader }, 'event could not be recorded');
      },
    );
  }

  private onInserted(r: ReaderSnapshot, at = new Date()): void {
    const identity = cardIdentity(r);
    const pending = this.pendingRemovals.get(r.name);
    if (pending) {
      clearTimeout(pending.timer);
      this.pendingRemovals.delete(r.name);
      if (pending.card.identity === identity) {
        // The same card came back within the de-bounce time: one tap, no events.
        this.present.set(r.name, pending.card);
        this.suppressed++;
        return;
      }
      this.enqueue(this.removedDraft(pending.snapshot, pending.card, pending.at, pending.atMono));
    }
    const card = this.presentCard(r, at);
    this.present.set(r.name, card);
    const cp = matchProfile(this.profiles, r);
    // NDEF step (src/events/ndef-step.ts): Type 2 tags and MIFARE Classic, after the profile
    const ndef = this.o.config.ndef && wantsNdef(cardType(r));
    if (!cp && !ndef) {
      const f = cardFields(r, this.o.config.wiegandByteOrder);
      card.uid = f.uid;
      this.enqueue(this.draft('card.inserted', r, { ...f }, at));
      return;
    }
    this.enqueue(
      (async () => {
        const res = cp ? await runProfile(this.o.core, r.name, cp, this.o.config.profileTimeoutMs) : undefined;
        const uid = res ? uidFromProfile(r, res) : undefined;
        // The profile's connect negotiated the protocol; the snapshot taken at insertion did not know it yet.
        const now = this.o.core.reader(r.name);
        const f = cardFields(now && now.atr.equals(r.atr) ? { ...r, protocol: now.protocol } : r, this.o.config.wiegandByteOrder, uid);
        card.uid = f.uid;
        const data: Record<string, unknown> = { ...f };
        if (res) data.profile = res;
        // only while the same card is still there: a connect to an empty slot is a reader error, not an answer
        const still = this.o.core.reader(r.name);
        if (ndef && !(still?.card && cardIdentity(still) === identity)) data.ndef = { error: 'the card left before its NDEF message was read' };
        else if (ndef) {
          const n = await runNdefStep(this.o.core, r.name, f.cardType, this.o.config.profileTimeoutMs);
          data.ndef = n.records ? { records: n.records } : n.error ? { error: n.error } : { records: [] };
          if (n.haTagId) data.haTagId = n.haTagId;
        }
        return this.draft('card.inserted', r, data, at);
      })(),
    );
  }

  private presentCard(r: ReaderSnapshot, at: Date): PresentCard {
    const uid = r.card?.uid?.length ? r.card.uid.toString('hex').toUpperCase() : undefined;
    // `at` is wall time: a card already present at start-up came that long before now.
    const ago = Number.isNaN(at.getTime()) ? 0 : Math.max(0, Date.now() - at.getTime());
    return { identity: cardIdentity(r), uid, atr: r.atr.toString('hex').toUpperCase(), cardType: cardType(r), since: performance.now() - ago };
  }

  private removedDraft(r: ReaderSnapshot, card: PresentCard | undefined, at: Date, atMono = performance.now()): EventDraft {
    const data: Record<string, unknown> = { atr: card?.atr ?? null, cardType: card?.cardType ?? null };
    if (card?.uid) data.uid = card.uid;
    if (card) data.presentMs = Math.round(atMono - card.since);
    return this.draft('card.removed', r, data, at);
  }

  private onRemoved(r: ReaderSnapshot): void {
    const card = this.present.get(r.name);
    this.present.delete(r.name);
    const at = new Date();
    if (this.o.config.debounceMs > 0 && card) {
      // setTimeout runs on the monotonic clock: a wall clock jump neither fires nor holds the de-bounce.
      const timer = setTimeout(() => this.flushRemoval(r.name), this.o.config.debounceMs);
      timer.unref?.();
      this.pendingRemovals.set(r.name, { timer, card, snapshot: r, at, atMono: performance.now() });
      return;
    }
    this.enqueue(this.removedDraft(r, card, at));
  }

  private flushRemoval(reader: string): void {
    const p = this.pendingRemovals.get(reader);
    if (!p) return;
    clearTimeout(p.timer);
    this.pendingRemovals.delete(reader);
    this.enqueue(this.removedDraft(p.snapshot, p.card, p.at, p.atMono));
  }

  /** Record an event that did not come from the core (tests, simulated faults). */
  record(type: GatewayEventType, reader: string, data: Record<string, unknown>): void {
    this.enqueue(this.draft(type, reader, data));
  }

  /** Wait until every event announced so far is recorded on disk. */
  async settle(): Promise<void> {
    for (const r of [...this.pendingRemovals.keys()]) this.flushRemoval(r);
    let c: Promise<void>;
    do {
      c = this.chain;
      await c;
    } while (c !== this.chain);
    await this.outbox.flush();
  }

  history(opts: { afterSeq?: number; limit?: number } = {}): GatewayEvent[] {
    const after = opts.afterSeq ?? 0;
    const limit = opts.limit ?? this.ring.length;
    const out: GatewayEvent[] = [];
    for (const e of this.ring) {
      if (e.seq > after) out.push(e);
      if (out.length >= limit) break;
    }
    return out;
  }

  lastSeq(): number {
    return this.outbox?.recordedSeq() ?? 0;
  }

  stats(): Record<string, unknown> {
    return {
      ...(this.outbox ? this.outbox.stats() : {}),
      debounced: this.suppressed,
      recordFailures: this.recordFailures,
      history: this.ring.length,
    };
  }

  async stop(): Promise<void> {
    if (!this.started) return;
    this.started = false;
    for (const [name, fn] of this.coreListeners) this.o.core.off(name as 'reader-added', fn);
    this.coreListeners.length = 0;
    await this.settle();
    await this.outbox.close();
  }
}

/** The UID a profile read with FF CA 00 00 00 (PC/SC part 3 GET DATA), when the driver gave none. */
function uidFromProfile(r: ReaderSnapshot, res: ProfileResult): Buffer | undefined {
  if (r.card?.uid?.length) return r.card.uid;
  for (const v of Object.values(res.results)) {
    if (v.apdu.startsWith('FFCA0000') && v.ok && v.sw === '9000' && v.data) {
      try {
        return parseHex(v.data);
      } catch {
        return undefined;
      }
    }
  }
  return undefined;
}

