/**
 * The gateway event pipeline: card and reader events from the core, card
 * profiles run on insertion, recorded durably and numbered. One pipeline per
 * daemon, run by the `events` service (src/gateway/events-service.ts) and
 * reached through the gateway API.
 */
import { join } from 'node:path';
import { defaultConfig } from '../config/schema-compiled.js';
import type { EventsConfigT } from './config.js';

export { GatewayEvents } from './pipeline.js';
export type { GatewayEvent, GatewayEventType, EventJournal } from './types.js';
export { wiegand26, wiegand34 } from './wiegand.js';

/** Config section with defaults filled in (when the daemon's config predates the `events` key). */
export function eventsConfigOf(config: unknown): EventsConfigT {
  const section = (config as { events?: unknown }).events ?? {};
  // The compiled schema's defaults (what Value.Default gives for the section), without TypeBox's interpreter at start.
  return (defaultConfig({ events: structuredClone(section) }) as { events: EventsConfigT }).events;
}

export function eventsDir(config: unknown): string {
  const dir = (config as { state?: { dir?: string } }).state?.dir ?? './var/lib';
  return join(dir, 'events');
}
