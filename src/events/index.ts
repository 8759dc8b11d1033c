/**
 * The gateway event pipeline: card and reader events from the core, card
 * profiles run on insertion, recorded durably and numbered. One pipeline per
 * daemon, run by the `events` service (src/gateway/events-service.ts) and
 * reached through the gateway API.
 */
import { join } from 'node:path';
import { sectionWithDefaults } from '../config/load-compiled.js';
import type { EventsConfigT } from './config.js';

export { GatewayEvents } from './pipeline.js';
export type { GatewayEvent, GatewayEventType, EventJournal } from './types.js';
export { wiegand26, wiegand34 } from './wiegand.js';

/** Config section with defaults filled in (when the daemon's config predates the `events` key). */
export function eventsConfigOf(config: unknown): EventsConfigT {
  return sectionWithDefaults(config, 'events');
}

export function eventsDir(config: unknown): string {
  const dir = (config as { state?: { dir?: string } }).state?.dir ?? './var/lib';
  return join(dir, 'events');
}
