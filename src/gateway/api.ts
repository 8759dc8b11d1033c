/**
 * The gateway's application layer: every operation a frontend offers, over
 * the core, the events journal, the config store and the token store, with
 * one data shape per concept, one error body and one redaction policy.
 * Frontends parse their transport, call `call(op, params, caller)` and
 * render what comes back (README.md beside this file).
 */
import { runCacheOperation } from '../core/cache-ops.js';
import { EventEmitter } from 'node:events';
import type { Logger } from 'pino';
import type { ReaderSnapshot, ScardCore } from '../core/api.js';
import { runApdus } from '../core/oneshot.js';
import { SessionManager } from '../core/sessions.js';
import type { EventJournal, GatewayEvent } from '../events/types.js';
import { toHex } from '../iso7816/hex.js';
import { CARD_STATE, DISPOSITION, PROTOCOL, SCARD, SHARE } from '../pcsc/constants.js';
import { PcscError } from '../pcsc/error.js';
import { apduField, exchange, hexField, type Exchange } from './apdu.js';
import { OPERATIONS, allowed, type Operation, type ParamsOf } from './catalog.js';
import { invalid } from './errors.js';
import { ReaderDirectory, type Reader } from './readers.js';
import type { ProbeAnswer, ReaderSetup, SetupDevices } from './reader-setup.js';
import type { GatewayHealth, HealthAnswer } from './health.js';
import type {
  Caller,
  ConfigApplied,
  ConfigCheck,
  ConfigOps,
  ConfigView,
  ControlAnswer,
  EventsAnswer,
  GatewayInfo,
  ReadersAnswer,
  SessionClosed,
  SessionExchanged,
  SessionOpened,
  Token,
  TokenCreated,
  TokenStore,
  TransmitAnswer,
} from './types.js';
import { checkOperation, checkParams } from './validate.js';
import { DEFAULT_CLOSE_DISPOSITION, disposition, protocolMask, protocolName, shareMode } from './vocabulary.js';

/** simulate/pinpad waits this long for the reader's PIN prompt unless the caller says otherwise. */
const PINPAD_WAIT_MS = 10000;

export interface GatewayApiOptions {
  core: ScardCore;
  log: Logger;
  gatewayId: string;
  version: string;
  startedAt: Date;
  /** Diagnostics of every part (the daemon's). */
  diagnostics?: () => Record<string, unknown>;
  config?: ConfigOps;
  tokens?: TokenStore;
  /** Card models the simulated readers accept (the sim driver's list). */
  cardModels?: readonly string[];
  sessions?: { maxSessions?: number; maxLeaseMs?: number; defaultLeaseMs?: number };
  /** A simulated insert/remove answers once the reader shows it, or after this bound. */
  settleMs?: number;
  /** Guided reader set-up (devices, probes); absent: those operations are refused. */
  setup?: ReaderSetup;
  /** Health at a glance (counts kept from the gateway's start); absent: `health` is refused. */
  health?: GatewayHealth;
}

/** Answer type of each operation. */
export interface Answers {
  readers: ReadersAnswer;
  'reader/status': Reader;
  info: GatewayInfo;
  events: EventsAnswer;
  transmit: TransmitAnswer;
  'session/open': SessionOpened;
  'session/transmit': SessionExchanged;
  'session/control': { session: string; response: string; expiresAt: string };
  'session/close': SessionClosed;
  control: ControlAnswer;
  feedback: { reader: string };
  'simulate/insert': Reader;
  'simulate/remove': Reader;
  'simulate/pinpad': { reader: string; entered: 'pin' | 'cancel' };
  'cache/card': Record<string, unknown>;
  'cache/read': Record<string, unknown>;
  'cache/write': Record<string, unknown>;
  'cache/remove': Record<string, unknown>;
  'cache/list': Record<string, unknown>;
  health: HealthAnswer;
  diagnostics: Record<string, unknown>;
  'config/get': ConfigView;
  'config/validate': ConfigCheck;
  'config/apply': ConfigApplied;
  'setup/devices': SetupDevices;
  'setup/probe': ProbeAnswer;
  'tokens/list': { tokens: Token[] };
  'tokens/create': TokenCreated;
  'tokens/revoke': { name: string; revoked: true };
}

interface ApiEvents {
  /** A reader's rendering may have changed (state, learnt UID). */
  reader: [reader: Reader];
  'reader-removed': [reader: { name: string; id: string }];
}

export class GatewayApi extends EventEmitter<ApiEvents> {
  readonly core: ScardCore;
  readonly sessions: SessionManager;
  private readonly dir = new ReaderDirectory();
  private readonly log: Logger;
  private journal?: EventJournal;
  private readonly infoParts = new Map<'broker', () => GatewayInfo['broker']>();
  private readonly onJournalEvent = (ev: GatewayEvent): void => {
    if (ev.type !== 'card.inserted' && ev.type !== 'card.removed') return;
    this.dir.learnUid(ev.reader, ev.type === 'card.inserted' && typeof ev.data.uid === 'string' ? ev.data.uid : undefined);
    const r = this.core.reader(ev.reader);
    if (r) this.emit('reader', this.render(r));
  };
  private readonly onState = (r: ReaderSnapshot): void => {
    if (!this.core.reader(r.name)) return;
    // Every pcsc Connect and Disconnect changes a reader's sharing count: rendered only for a frontend that
    // follows readers. The id is handed out either way, so ids come in order of appearance as before.
    if (this.listenerCount('reader') === 0) this.dir.idOf(r.name);
    else this.emit('reader', this.render(r));
  };
  private readonly onRemoved = (r: ReaderSnapshot): void => {
    const id = this.dir.idOf(r.name);
    this.dir.forget(r.name);
    this.emit('reader-removed', { name: r.name, id });
  };

  constructor(private readonly o: GatewayApiOptions) {
    super();
    this.core = o.core;
    this.log = o.log.child({ module: 'gateway' });
    this.sessions = new SessionManager(o.core, { maxSessions: o.sessions?.maxSessions ?? 64, maxLeaseMs: o.sessions?.maxLeaseMs, defaultLeaseMs: o.sessions?.defaultLeaseMs });
    this.core.on('reader-state', this.onState);
    this.core.on('reader-added', this.onState);
    this.core.on('reader-removed', this.onRemoved);
  }

  /** The events journal (set by the events service while it runs). */
  setJournal(j: EventJournal | undefined): void {
    if (this.journal && !j) this.countersAtJournalStop = new Map(this.core.readers().map((r) => [r.name, r.eventCounter]));
    this.journal?.off('event', this.onJournalEvent);
    this.journal = j;
    j?.on('event', this.onJournalEvent);
  }

  events(): EventJournal | undefined {
    return this.journal;
  }

  /** Each reader's event counter when the last journal stopped (undefined before the first): the next one records what came since. */
  countersAtJournalStop: ReadonlyMap<string, number> | undefined;

  /** A frontend adds its part to `info` while it runs (MQTT: broker); undefined removes it. */
  contributeInfo<K extends 'broker'>(part: K, fn: (() => GatewayInfo[K]) | undefined): void {
    if (fn) this.infoParts.set(part, fn);
    else this.infoParts.delete(part);
  }

  /** Close every session (reset), stop following the core. */
  async close(): Promise<void> {
    this.core.off('reader-state', this.onState);
    this.core.off('reader-added', this.onState);
    this.core.off('reader-removed', this.onRemoved);
    this.setJournal(undefined);
    this.o.health?.close();
    await this.sessions.closeAll();
  }

  // --- entry point for frontends ---------------------------------------------------------------

  /** Check the caller's scope and the parameters, run the operation. Throws PcscError (errorBody() renders it). */
  async call<O extends Operation>(op: O | string, params: unknown, caller: Caller): Promise<Answers[O]> {
    const name = checkOperation(op) as O;
    if (caller.scopes && !allowed(name, caller.scopes)) {
      throw new PcscError(SCARD.E_NO_ACCESS, `"${name}" needs the ${OPERATIONS[name].scope} scope; this caller has ${caller.scopes.join(', ') || 'none'}`);
    }
    const p = await checkParams(name, params);
    return (await this.run(name, p, caller)) as Answers[O];
  }

  private async run<O extends Operation>(op: O, p: ParamsOf<O>, caller: Caller): Promise<unknown> {
    const q = p as Record<string, any>;
    switch (op) {
      case 'readers':
        return this.readers();
      case 'reader/status':
        return this.render(this.pick(q.reader));
      case 'info':
        return this.info();
      case 'events':
        return this.history(q.afterSeq ?? 0, q.limit ?? 100);
      case 'transmit':
        return this.transmit(caller, q as ParamsOf<'transmit'>);
      case 'session/open':
        return this.openSession(caller, q as ParamsOf<'session/open'>);
      case 'session/transmit': {
        const apdus = (q.apdus as string[]).map((a, i) => apduField(a, `apdus.${i}`));
        const responses: Exchange[] = [];
        for (const a of apdus) responses.push(this.logged('session', a, await this.sessions.transmit(caller.owner, q.session, a)));
        return { session: q.session, responses, expiresAt: this.sessions.info(caller.owner, q.session).expiresAt };
      }
      case 'session/control': {
        const data = q.data ? hexField(q.data, 'data') : Buffer.alloc(0);
        const out = await this.sessions.control(caller.owner, q.session, q.code >>> 0, data);
        return { session: q.session, response: toHex(out, ''), expiresAt: this.sessions.info(caller.owner, q.session).expiresAt };
      }
      case 'session/close': {
        const d = q.disposition ?? DEFAULT_CLOSE_DISPOSITION;
        await this.sessions.close(caller.owner, q.session, disposition(d));
        return { session: q.session, disposition: d };
      }
      case 'control':
        return this.control(q as ParamsOf<'control'>);
      case 'feedback': {
        const r = this.pick(q.reader);
        if (!q.led && !q.buzzer) throw invalid('feedback needs "led" and/or "buzzer"');
        if (!r.capabilities.feedback) throw new PcscError(SCARD.E_UNSUPPORTED_FEATURE, `reader "${r.name}" has no LED or buzzer`);
        await this.core.feedback(r.name, { led: q.led, buzzer: q.buzzer });
        return { reader: r.name };
      }
      case 'simulate/insert':
        return this.simulate(this.pick(q.reader), true, q.card ?? 'iso7816');
      case 'simulate/remove':
        return this.simulate(this.pick(q.reader), false);
      case 'simulate/pinpad':
        return this.pinpad(this.pick(q.reader), q as ParamsOf<'simulate/pinpad'>);
      case 'cache/card':
      case 'cache/read':
      case 'cache/write':
      case 'cache/remove':
      case 'cache/list':
        return runCacheOperation(this.core, op, q.reader === undefined ? q : { ...q, reader: this.pick(q.reader).name }, !caller.scopes || caller.scopes.includes('admin'));
      case 'health':
        if (!this.o.health) throw new PcscError(SCARD.E_UNSUPPORTED_FEATURE, 'health is not available in this gateway');
        return this.o.health.report();
      case 'diagnostics':
        return this.o.diagnostics?.() ?? { core: this.core.diagnostics() };
      case 'config/get':
        return this.configOps().view();
      case 'config/validate':
        return this.configOps().validate(q.yaml);
      case 'config/apply':
        return this.configOps().apply(q.yaml, caller.label ?? caller.owner);
      case 'setup/devices':
        return this.readerSetup().devices();
      case 'setup/probe':
        return this.readerSetup().probe(q as ParamsOf<'setup/probe'>);
      case 'tokens/list':
        return { tokens: await this.tokenStore().list() };
      case 'tokens/create': {
        const created = await this.tokenStore().create(q.name, q.scopes ?? ['read']);
        this.log.info({ token: { id: created.id, name: created.name, scopes: created.scopes }, by: caller.label ?? caller.owner }, 'API token created');
        return created;
      }
      case 'tokens/revoke': {
        if (!(await this.tokenStore().revoke(q.name))) throw invalid(`no token named "${q.name}"`);
        this.log.info({ name: q.name, by: caller.label ?? caller.owner }, 'API token revoked');
        return { name: q.name, revoked: true };
      }
    }
    throw invalid(`operation "${String(op)}" is not implemented`);
  }

  // --- operations ----------------------------------------------------------------------------

  readers(): ReadersAnswer {
    return { readers: this.core.readers().map((r, i) => this.dir.render(r, i + 1)), cardModels: [...(this.o.cardModels ?? [])] };
  }

  /** One reader's rendering (numbered by its place in the list). */
  render(r: ReaderSnapshot): Reader {
    const i = this.core.readers().findIndex((x) => x.name === r.name);
    return this.dir.render(r, i + 1);
  }

  /** The reader a request names (naming rule: readers.ts). */
  pick(spec: string): ReaderSnapshot {
    return this.dir.select(this.core.readers(), spec);
  }

  idOf(name: string): string {
    return this.dir.idOf(name);
  }

  info(): GatewayInfo {
    const st = this.journal?.stats() as GatewayInfo['outbox'] | undefined;
    const out: GatewayInfo = {
      gatewayId: this.o.gatewayId,
      version: this.o.version,
      startedAt: this.o.startedAt.toISOString(),
      uptimeS: Math.round((Date.now() - this.o.startedAt.getTime()) / 1000),
      readers: this.core.readers().length,
      outbox: st
        ? { depth: st.depth ?? 0, lastSeq: st.lastSeq ?? 0, ackSeq: st.ackSeq ?? 0, dropped: st.dropped ?? 0, refused: st.refused ?? 0, diskBytes: st.diskBytes ?? 0, policy: st.policy ?? '' }
        : null,
      time: '',
    };
    for (const [k, fn] of this.infoParts) out[k] = fn();
    out.time = new Date().toISOString();
    return out;
  }

  history(afterSeq: number, limit: number): EventsAnswer {
    const j = this.journal;
    if (!j) throw new PcscError(SCARD.E_NO_SERVICE, 'the event journal is not running (see diagnostics)');
    const events = j.history({ afterSeq, limit });
    const last = j.lastSeq();
    return { events, lastSeq: last, more: events.length > 0 && events[events.length - 1].seq < last };
  }

  private async transmit(caller: Caller, q: ParamsOf<'transmit'>): Promise<TransmitAnswer> {
    const r = this.pick(q.reader);
    const apdus = q.apdus.map((a, i) => apduField(a, `apdus.${i}`));
    const share = shareMode(q.shareMode);
    const protocol = protocolMask(q.protocol);
    if (q.stopOnError) return this.transmitUntilError(caller, r.name, apdus, share, protocol);
    const run = await runApdus(this.core, r.name, apdus, { owner: `${caller.owner}:transmit`, shareMode: share, protocol });
    const responses = run.results.map((res, i) => {
      if (res.response) return this.logged(run.reader, apdus[i], res.response);
      throw new PcscError(res.error?.code ?? SCARD.F_UNKNOWN_ERROR, `APDU ${i + 1}: ${res.error?.message ?? 'failed'}`);
    });
    return { reader: run.reader, protocol: protocolName(run.protocol), atr: toHex(run.atr, ''), responses };
  }

  /** The same in one short-lived session, stopping at the first answer whose status word is not a success. */
  private async transmitUntilError(caller: Caller, reader: string, apdus: Buffer[], share: number, protocol: number): Promise<TransmitAnswer> {
    const owner = `${caller.owner}:transmit`;
    const s = await this.sessions.open(owner, reader, { shareMode: share, protocol, transaction: true });
    const responses: Exchange[] = [];
    try {
      for (const a of apdus) {
        const res = this.logged(s.reader, a, await this.sessions.transmit(owner, s.id, a));
        responses.push(res);
        if (!res.ok) break;
      }
    } finally {
      await this.sessions.close(owner, s.id, DISPOSITION.LEAVE).catch(() => undefined);
    }
    return { reader: s.reader, protocol: protocolName(s.protocol), atr: toHex(s.atr, ''), responses };
  }

  private async openSession(caller: Caller, q: ParamsOf<'session/open'>): Promise<SessionOpened> {
    // The parameters before the reader: a request refused for its lease says so whatever the reader.
    if (q.leaseMs !== undefined && q.leaseMs > this.sessions.maxLeaseMs) throw invalid(`leaseMs: at most ${this.sessions.maxLeaseMs} ms (this gateway's session lease limit), got ${q.leaseMs}`);
    const r = this.pick(q.reader);
    const s = await this.sessions.open(caller.owner, r.name, {
      shareMode: shareMode(q.shareMode),
      protocol: protocolMask(q.protocol),
      leaseMs: q.leaseMs,
      transaction: q.holdTransaction ?? true,
    });
    return { session: s.id, reader: s.reader, protocol: protocolName(s.protocol), atr: toHex(s.atr, ''), leaseMs: s.leaseMs, expiresAt: s.expiresAt };
  }

  private async control(q: ParamsOf<'control'>): Promise<ControlAnswer> {
    const r = this.pick(q.reader);
    const data = q.data ? hexField(q.data, 'data') : Buffer.alloc(0);
    const ctx = this.core.establishContext('control');
    try {
      // Direct mode: control works with or without a card, as SCardControl after SCARD_SHARE_DIRECT.
      const { handle } = await this.core.connect(ctx, r.name, SHARE.DIRECT, PROTOCOL.UNDEFINED);
      try {
        return { reader: r.name, response: toHex(await this.core.control(handle, q.code >>> 0, data), '') };
      } finally {
        await this.core.disconnect(handle, DISPOSITION.LEAVE).catch(() => undefined);
      }
    } finally {
      await this.core.releaseContext(ctx).catch(() => undefined);
    }
  }

  private async simulate(r: ReaderSnapshot, insert: boolean, card?: unknown): Promise<Reader> {
    if (!r.capabilities.simulate) throw new PcscError(SCARD.E_UNSUPPORTED_FEATURE, `reader "${r.name}" cannot simulate cards (driver ${r.driver})`);
    const model = typeof card === 'string' ? card : (card as { type?: unknown } | undefined)?.type;
    const models = this.o.cardModels ?? [];
    if (insert && models.length && !models.includes(model as string)) {
      throw invalid(`card: unknown card model ${JSON.stringify(model)} (models: ${models.join(', ')})`);
    }
    if (!insert && !(r.state & CARD_STATE.PRESENT)) throw new PcscError(SCARD.E_NO_SMARTCARD, `reader "${r.name}" has no card to remove`);
    const settled = this.untilPresence(r.name, insert);
    try {
      if (insert) await this.core.simulateInsert(r.name, card);
      else await this.core.simulateRemove(r.name);
    } catch (e) {
      settled.cancel();
      throw e;
    }
    return this.render(await settled.promise);
  }

  /** Keys on an emulated PIN pad. The answer and the log line say what was pressed, never the digits. */
  private async pinpad(r: ReaderSnapshot, q: ParamsOf<'simulate/pinpad'>): Promise<Answers['simulate/pinpad']> {
    if ((q.pin === undefined) === (q.cancel === undefined)) throw invalid('simulate/pinpad needs either "pin" (the digits) or "cancel": true');
    if (!r.capabilities.simulate) throw new PcscError(SCARD.E_UNSUPPORTED_FEATURE, `reader "${r.name}" is not emulated: nobody can press its keys from here (driver ${r.driver})`);
    if (!r.capabilities.pinpad) throw new PcscError(SCARD.E_UNSUPPORTED_FEATURE, `reader "${r.name}" has no emulated PIN pad (driver ${r.driver})`);
    const entered = q.cancel ? 'cancel' : 'pin';
    await this.core.simulatePinpad(r.name, q.cancel ? { cancel: true } : { pin: q.pin! }, q.waitMs ?? PINPAD_WAIT_MS);
    this.log.debug({ reader: r.name, entered }, 'PIN pad keys pressed');
    return { reader: r.name, entered };
  }

  /**
   * The reader's entry once it shows the card (or its absence), so the answer
   * to "insert" already carries the ATR. Bounded: a card that never powers up
   * is answered with whatever the table says then.
   */
  private untilPresence(name: string, present: boolean): { promise: Promise<ReaderSnapshot>; cancel(): void } {
    let done!: () => void;
    const promise = new Promise<ReaderSnapshot>((resolve) => {
      done = (): void => {
        clearTimeout(timer);
        this.core.off('reader-state', onState);
        resolve(this.core.reader(name) ?? ({ name } as ReaderSnapshot));
      };
      const onState = (r: ReaderSnapshot): void => {
        if (r.name === name && ((r.state & CARD_STATE.PRESENT) !== 0) === present && (!present || r.atr.length > 0 || r.mute)) done();
      };
      const timer = setTimeout(() => done(), this.o.settleMs ?? 3000);
      this.core.on('reader-state', onState);
    });
    return { promise, cancel: () => done() };
  }

  /** An exchange as answered, and its debug log line: both redacted the same way. */
  private logged(reader: string, cmd: Buffer, resp: Buffer): Exchange {
    const x = exchange(cmd, resp);
    this.log.debug({ reader, apdu: x.apdu, response: x.response, sw: x.sw }, 'APDU exchanged');
    return x;
  }

  private configOps(): ConfigOps {
    if (!this.o.config) throw new PcscError(SCARD.E_UNSUPPORTED_FEATURE, 'this gateway has no configuration store');
    return this.o.config;
  }

  private readerSetup(): ReaderSetup {
    if (!this.o.setup) throw new PcscError(SCARD.E_UNSUPPORTED_FEATURE, 'reader set-up is not available in this gateway');
    return this.o.setup;
  }

  private tokenStore(): TokenStore {
    if (!this.o.tokens) throw new PcscError(SCARD.E_UNSUPPORTED_FEATURE, 'this gateway has no token store');
    return this.o.tokens;
  }
}
