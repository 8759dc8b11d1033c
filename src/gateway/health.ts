/**
 * The `health` operation: the gateway's and each reader's health at a glance
 * (the web UI's Health view, and anything that polls): state, uptime, exchanges and errors by
 * PC/SC code, last error, insertions/removals, link retries and firmware per
 * reader; MQTT link, outbox depth, event rate, CPU, memory and the outbox
 * disk per gateway; events per minute per reader over the last hour. Counts
 * start when the gateway starts (said in `countingSince`).
 */
import { statfs } from 'node:fs/promises';
import type { Config } from '../config/schema.js';
import type { ReaderSnapshot, ScardCore } from '../core/api.js';
import type { EventJournal } from '../events/types.js';
import { PcscError } from '../pcsc/error.js';
import { CARD_STATE } from '../pcsc/constants.js';

/** One minute buckets over the last hour. */
export const SERIES_MINUTES = 60;
/** How far back in the journal the per-minute series looks (events, newest first). */
const SERIES_SCAN = 20_000;

interface ReaderTrack {
  seenSince: string;
  insertions: number;
  removals: number;
  errors: number;
  lastError: { code: string | null; message: string; at: string } | null;
}

/** What the core tells us while the gateway runs. */
class ReaderTracker {
  readonly since = new Date().toISOString();
  readonly readers = new Map<string, ReaderTrack>();
  constructor(initial: ReaderSnapshot[]) {
    for (const r of initial) this.get(r.name, r.since);
  }
  get(name: string, since = new Date().toISOString()): ReaderTrack {
    let t = this.readers.get(name);
    if (!t) this.readers.set(name, (t = { seenSince: since, insertions: 0, removals: 0, errors: 0, lastError: null }));
    return t;
  }
  added = (r: ReaderSnapshot): void => {
    this.get(r.name).seenSince = new Date().toISOString();
  };
  inserted = (r: ReaderSnapshot): void => void this.get(r.name).insertions++;
  removed = (r: ReaderSnapshot): void => void this.get(r.name).removals++;
  error = (r: ReaderSnapshot, e: Error): void => {
    const t = this.get(r.name);
    t.errors++;
    t.lastError = { code: e instanceof PcscError ? e.codeName : null, message: e.message, at: new Date().toISOString() };
  };
}

const num = (v: unknown): number => (typeof v === 'number' && Number.isFinite(v) ? v : 0);

/** Link retries a driver reports (PN532: resends, resyncs, recoveries, hard resets; others: what they name so). */
function linkRetries(device: Record<string, unknown> | undefined): number | null {
  if (!device) return null;
  const d = device.dialogue as Record<string, unknown> | undefined;
  if (d || 'recoveries' in device) return num(d?.resends) + num(d?.syncs) + num(device.recoveries) + num(device.hardResets);
  if ('retries' in device) return num(device.retries);
  return null;
}

export interface HealthOptions {
  core: ScardCore;
  /** The events journal while the events service runs. */
  events: () => EventJournal | undefined;
  /** Diagnostics of every service (MQTT link and outbox). */
  diagnostics: () => Record<string, unknown>;
  /** The configuration in effect (state.dir for the disk, mqtt for the link). */
  config: () => Config;
  gatewayId: string;
  version: string;
  startedAt: Date;
}

export type HealthAnswer = Awaited<ReturnType<GatewayHealth['report']>>;

export class GatewayHealth {
  private readonly tracker: ReaderTracker;
  private cpuMark = { at: performance.now(), usage: process.cpuUsage() };

  constructor(private readonly o: HealthOptions) {
    const { core } = o;
    const tracker = (this.tracker = new ReaderTracker(core.readers()));
    core.on('reader-added', tracker.added);
    core.on('card-inserted', tracker.inserted);
    core.on('card-removed', tracker.removed);
    core.on('reader-error', tracker.error);
  }

  close(): void {
    const { core } = this.o;
    const tracker = this.tracker;
    core.off('reader-added', tracker.added);
    core.off('card-inserted', tracker.inserted);
    core.off('card-removed', tracker.removed);
    core.off('reader-error', tracker.error);
  }

  async report() {
    const { core } = this.o;
    const tracker = this.tracker;
    const config = this.o.config();
    const stateDir = config.state.dir;
    const now = Date.now();
    // CPU: share of one core since the previous call (the UI polls every few seconds).
    const at = performance.now();
    const usage = process.cpuUsage();
    const cpuMark = this.cpuMark;
    const wallUs = Math.max(1, (at - cpuMark.at) * 1000);
    const cpuPercent = Math.round(((usage.user - cpuMark.usage.user + usage.system - cpuMark.usage.system) / wallUs) * 1000) / 10;
    this.cpuMark = { at, usage };
    const mem = process.memoryUsage();

    let services: Record<string, unknown> = {};
    try {
      services = this.o.diagnostics();
    } catch {
      // a failing service's diagnostics show on the diagnostics view
    }
    const m = services.mqtt as { connected?: boolean; url?: string; outbox?: { depth?: number } } | undefined;
    let disk: { path: string; freeBytes: number; totalBytes: number } | { path: string; error: string };
    try {
      const s = await statfs(stateDir);
      disk = { path: stateDir, freeBytes: s.bavail * s.bsize, totalBytes: s.blocks * s.bsize };
    } catch (e) {
      disk = { path: stateDir, error: (e as Error).message };
    }

    // Per reader, per minute, over the last hour, from the journal (newest events first).
    const journal = this.o.events();
    const from = now - SERIES_MINUTES * 60_000;
    const perMinute: Record<string, number[]> = {};
    let lastHour = 0;
    let last5 = 0;
    if (journal) {
      const last = journal.lastSeq();
      const events = journal.history({ afterSeq: Math.max(0, last - SERIES_SCAN), limit: SERIES_SCAN });
      for (let i = events.length - 1; i >= 0; i--) {
        const e = events[i];
        const t = Date.parse(e.time);
        if (t < from) break;
        const bucket = Math.min(SERIES_MINUTES - 1, Math.floor((t - from) / 60_000));
        const key = e.reader || '(gateway)';
        (perMinute[key] ??= new Array<number>(SERIES_MINUTES).fill(0))[bucket]++;
        lastHour++;
        if (t >= now - 5 * 60_000) last5++;
      }
    }

    const diag = core.diagnostics() as { readers?: Array<{ name: string; exchanges?: Record<string, unknown> | null; device?: Record<string, unknown> }> };
    const byName = new Map((diag.readers ?? []).map((r) => [r.name, r]));
    const readers = core.readers().map((r) => {
      const t = tracker.get(r.name, r.since);
      const d = byName.get(r.name);
      const ex = (d?.exchanges ?? null) as { exchanges: number; failures: number; errorsByCode: Record<string, number>; lastError: { code: string; message: string; at: string } | null; recent: Array<[number, number]> } | null;
      const lastError = [t.lastError, ex?.lastError ?? null].filter((x) => x !== null).sort((a, b) => (a!.at < b!.at ? 1 : -1))[0] ?? null;
      const device = d?.device;
      return {
        name: r.name,
        driver: r.driver,
        available: r.available,
        cardPresent: (r.state & CARD_STATE.PRESENT) !== 0,
        mute: r.mute,
        since: r.since,
        uptimeSeconds: r.available ? Math.round((now - Date.parse(t.seenSince)) / 1000) : 0,
        insertions: t.insertions,
        removals: t.removals,
        readerErrors: t.errors,
        exchanges: ex?.exchanges ?? 0,
        exchangeFailures: ex?.failures ?? 0,
        errorsByCode: ex?.errorsByCode ?? {},
        lastError,
        linkRetries: linkRetries(device),
        firmware: typeof device?.firmware === 'string' ? device.firmware : null,
        latencyMs: (ex?.recent ?? []).map(([when, ms]) => ({ at: new Date(when).toISOString(), ms })),
      };
    });

    return {
      time: new Date(now).toISOString(),
      countingSince: tracker.since,
      gateway: {
        gatewayId: this.o.gatewayId,
        version: this.o.version,
        uptimeSeconds: Math.round((now - this.o.startedAt.getTime()) / 1000),
        cpuPercent,
        rssBytes: mem.rss,
        heapUsedBytes: mem.heapUsed,
        mqtt: config.mqtt.enabled ? { connected: m?.connected === true, url: m?.url ?? config.mqtt.url, outboxDepth: m?.outbox?.depth ?? null, running: m !== undefined } : null,
        journal: journal !== undefined,
        eventsLastHour: lastHour,
        eventsPerMinute5: Math.round((last5 / 5) * 10) / 10,
        disk,
      },
      readers,
      series: { minutes: SERIES_MINUTES, from: new Date(from).toISOString(), perMinute },
    };
  }
}
