/**
 * `scardctl events`: the recorded events (the journal's recent history), the
 * way a technician asks "which cards were read here in the last hour":
 * one line per event, oldest first, with the sequence number MQTT carries.
 */
import type { EventsAnswer } from '../../gateway/types.js';
import type { GatewayEvent } from '../../events/types.js';
import { spaced } from '../format.js';
import { UsageError, type Command } from './command.js';

/** The most the daemon answers per request (the catalog's limit for `events`). */
const PAGE = 1000;

function count(flag: string, v: string | undefined, min: number): number {
  if (v === undefined || !/^\d+$/.test(v) || Number(v) < min) throw new UsageError(`events: ${flag} needs a whole number${min ? ` of at least ${min}` : ''}, not ${JSON.stringify(v ?? '')}`);
  return Number(v);
}

export function eventLine(e: GatewayEvent): string {
  const d = e.data as Record<string, unknown>;
  const parts: string[] = [];
  if (typeof d.cardType === 'string') parts.push(d.cardType);
  if (typeof d.uid === 'string') parts.push(`UID ${d.uid}`);
  if (typeof d.atr === 'string' && !d.uid) parts.push(`ATR ${spaced(d.atr)}`);
  if (typeof d.presentMs === 'number') parts.push(`present ${(d.presentMs / 1000).toFixed(1)} s`);
  const err = (d.error as { message?: unknown } | undefined)?.message;
  if (typeof err === 'string') parts.push(err);
  const when = `${e.time}${e.timeUnsynced ? ' (clock not synchronised)' : ''}`;
  return `${e.seq} ${when} ${e.type} ${e.reader}${parts.length ? `: ${parts.join(', ')}` : ''}`;
}

export const events: Command = {
  name: 'events',
  usage: '[--last N | --after SEQ] [--limit N]',
  summary: 'print recorded events, oldest first: the last 20 (--last N), or those after a sequence number (--after SEQ)',
  async run(io) {
    let last: number | undefined;
    let after: number | undefined;
    let limit = Infinity;
    for (let i = 0; i < io.args.length; i++) {
      const a = io.args[i];
      if (a === '--last') last = count(a, io.args[++i], 1);
      else if (a === '--after') after = count(a, io.args[++i], 0);
      else if (a === '--limit') limit = count(a, io.args[++i], 1);
      else throw new UsageError(`events: unexpected argument ${JSON.stringify(a)} (usage: scardctl events ${this.usage})`);
    }
    if (last !== undefined && after !== undefined) throw new UsageError('events: --last and --after do not go together');
    const client = await io.client();
    if (after === undefined) {
      const head = await client.request<EventsAnswer>('events', { limit: 1 });
      after = Math.max(0, head.lastSeq - (last ?? 20));
    }
    const out: GatewayEvent[] = [];
    for (;;) {
      const page: EventsAnswer = await client.request<EventsAnswer>('events', { afterSeq: after, limit: Math.min(PAGE, limit - out.length) });
      out.push(...page.events);
      if (!page.more || page.events.length === 0 || out.length >= limit) break;
      after = page.events[page.events.length - 1].seq;
    }
    if (io.json) io.out(JSON.stringify(out, null, 2));
    else if (!out.length) io.out('no events recorded in that range');
    else for (const e of out) io.out(eventLine(e));
    return 0;
  },
};
