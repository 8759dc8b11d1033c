/**
 * Gateway events: what door controllers, fleets (MQTT) and technicians (HTTP,
 * CLI) see. Produced from core events by src/events (owned by the MQTT work),
 * numbered with a sequence that only grows and survives restarts, recorded
 * durably before anyone publishes them.
 */
import type { EventEmitter } from 'node:events';

export type GatewayEventType = 'card.inserted' | 'card.removed' | 'reader.added' | 'reader.removed' | 'reader.error';

export interface GatewayEvent {
  /** Durable sequence number: strictly increasing across restarts; a gap means a lost event. */
  seq: number;
  type: GatewayEventType;
  gatewayId: string;
  /** Reader name (pcscd style). */
  reader: string;
  /** ISO 8601 UTC time the event happened. */
  time: string;
  /** Present (true) when the gateway's clock was not known to be synchronised: `time` may be off by years; order by `seq` (src/events/clock.ts). */
  timeUnsynced?: true;
  /** Type-specific payload (atr, uid, wiegand, cardType, protocol, profile results, error...). */
  data: Record<string, unknown>;
}

export interface JournalEvents {
  /** Emitted once the event is recorded durably. */
  event: [ev: GatewayEvent];
}

export interface EventJournal extends EventEmitter<JournalEvents> {
  /** Recorded events with seq > afterSeq, oldest first, at most `limit`. */
  history(opts?: { afterSeq?: number; limit?: number }): GatewayEvent[];
  lastSeq(): number;
  stats(): Record<string, unknown>;
}
