/**
 * An operator's view of every gateway on a broker, built from their retained
 * topics (availability, info, readers) and, when following, their events:
 * events de-duplicated by (gatewayId, seq) — delivery is at least once — and
 * seq gaps per gateway (a gap is a lost or not-yet-delivered event; the
 * `events` request with afterSeq fills it while the gateway still has it).
 */
import type { GatewayEvent, GatewayInfo, ReadersList } from '../api/mqtt/topics.js';

export interface GatewayRow {
  gatewayId: string;
  availability: string;
  version: string;
  readers: number;
  outboxDepth: number | null;
  lastSeq: number | null;
  lastEvent: string | null;
  /** Missing seqs seen while following (not yet filled). */
  gaps: number;
}

interface Entry {
  availability?: string;
  info?: GatewayInfo;
  readers?: ReadersList;
  /** Highest seq seen. */
  last: number;
  lastEvent?: GatewayEvent;
  /** Seqs below `last` not seen yet. */
  missing: Set<number>;
  seen: Set<number>;
}

/** The largest gap filled by remembering single seqs; a bigger jump is counted, not enumerated. */
const MAX_TRACKED_GAP = 100000;

export class FleetView {
  private readonly gws = new Map<string, Entry>();
  duplicates = 0;

  private entry(id: string): Entry {
    let e = this.gws.get(id);
    if (!e) this.gws.set(id, (e = { last: 0, missing: new Set(), seen: new Set() }));
    return e;
  }

  /** A message on `<base>/<gatewayId>/<rest>`; returns a new event (not a duplicate) when it is one. */
  message(base: string, topic: string, payload: Buffer): { event?: GatewayEvent; gap?: { gatewayId: string; from: number; to: number } } {
    if (!topic.startsWith(`${base}/`)) return {};
    const rest = topic.slice(base.length + 1);
    const slash = rest.indexOf('/');
    if (slash <= 0) return {};
    const id = rest.slice(0, slash);
    const kind = rest.slice(slash + 1);
    if (kind !== 'availability' && kind !== 'info' && kind !== 'readers' && kind !== 'events') return {};
    // An empty retained payload deletes; nothing to show.
    if (payload.length === 0) return {};
    const e = this.entry(id);
    const text = payload.toString('utf8');
    if (kind === 'availability') {
      e.availability = text;
      return {};
    }
    let body: unknown;
    try {
      body = JSON.parse(text);
    } catch {
      return {};
    }
    if (!body || typeof body !== 'object') return {};
    if (kind === 'info') e.info = body as GatewayInfo;
    else if (kind === 'readers') e.readers = body as ReadersList;
    else return this.event(id, e, body as GatewayEvent);
    return {};
  }

  private event(id: string, e: Entry, ev: GatewayEvent): { event?: GatewayEvent; gap?: { gatewayId: string; from: number; to: number } } {
    if (!Number.isSafeInteger(ev.seq) || ev.seq < 1) return {};
    if (e.seen.has(ev.seq) || (ev.seq < e.last && !e.missing.has(ev.seq) && e.last - ev.seq <= MAX_TRACKED_GAP)) {
      this.duplicates++;
      return {};
    }
    e.seen.add(ev.seq);
    // Only the recent past is needed to tell a duplicate: keep the set bounded.
    if (e.seen.size > 4 * MAX_TRACKED_GAP) e.seen = new Set([...e.seen].filter((s) => s > e.last - MAX_TRACKED_GAP));
    let gap: { gatewayId: string; from: number; to: number } | undefined;
    if (ev.seq > e.last + 1 && e.last > 0) {
      gap = { gatewayId: id, from: e.last + 1, to: ev.seq - 1 };
      if (ev.seq - e.last <= MAX_TRACKED_GAP) for (let s = e.last + 1; s < ev.seq; s++) e.missing.add(s);
    }
    e.missing.delete(ev.seq);
    if (ev.seq > e.last) {
      e.last = ev.seq;
      e.lastEvent = ev;
    }
    return { event: ev, gap };
  }

  /** Seqs still missing for a gateway (after the first event seen). */
  missing(gatewayId: string): number[] {
    return [...(this.gws.get(gatewayId)?.missing ?? [])].sort((a, b) => a - b);
  }

  rows(): GatewayRow[] {
    return [...this.gws.entries()]
      .sort(([a], [b]) => a.localeCompare(b))
      .map(([id, e]) => ({
        gatewayId: id,
        availability: e.availability ?? 'unknown',
        version: e.info?.version ?? '',
        readers: e.readers?.readers.length ?? e.info?.readers ?? 0,
        outboxDepth: e.info?.outbox.depth ?? null,
        lastSeq: e.last || (e.info?.outbox.lastSeq ?? null),
        lastEvent: e.lastEvent ? `${e.lastEvent.type} ${e.lastEvent.time}` : null,
        gaps: e.missing.size,
      }));
  }
}
