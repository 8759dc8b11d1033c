/**
 * The one gateway event pipeline of a daemon, shared by every frontend that
 * shows events (MQTT publishes and acknowledges them, HTTP shows history and
 * live events). Acquired per core and released by each user; the last release
 * stops it.
 */
import { join } from 'node:path';
import type { ScardCore } from '../core/api.js';
import type { ServiceContext } from '../daemon/service.js';
import { GatewayEvents } from './pipeline.js';
import { EventsConfig, type EventsConfigT } from './config.js';
import { Value } from '@sinclair/typebox/value';

export { GatewayEvents } from './pipeline.js';
export type { GatewayEvent, GatewayEventType, EventJournal } from './types.js';
export { wiegand26, wiegand34 } from './wiegand.js';

interface Shared {
  refs: number;
  pipeline: GatewayEvents;
  starting: Promise<void>;
}

const shared = new WeakMap<ScardCore, Shared>();

/** Config section with defaults filled in (when the daemon's config predates the `events` key). */
export function eventsConfigOf(config: unknown): EventsConfigT {
  const section = (config as { events?: unknown }).events ?? {};
  return Value.Default(EventsConfig, structuredClone(section)) as EventsConfigT;
}

export function eventsDir(config: unknown): string {
  const dir = (config as { state?: { dir?: string } }).state?.dir ?? './var/lib';
  return join(dir, 'events');
}

/** Start (first caller) or join the pipeline of this daemon. */
export async function acquireGatewayEvents(ctx: ServiceContext): Promise<GatewayEvents> {
  let s = shared.get(ctx.core);
  if (!s) {
    const cfg = ctx.config as unknown as { mqtt?: { enabled?: boolean } };
    const pipeline = new GatewayEvents({
      core: ctx.core,
      gatewayId: ctx.gatewayId,
      config: eventsConfigOf(ctx.config),
      dir: eventsDir(ctx.config),
      log: ctx.log.child({ module: 'events' }),
      autoAck: cfg.mqtt?.enabled === false,
    });
    s = { refs: 0, pipeline, starting: pipeline.start() };
    shared.set(ctx.core, s);
  }
  s.refs++;
  try {
    await s.starting;
  } catch (e) {
    s.refs--;
    if (s.refs === 0) shared.delete(ctx.core);
    throw e;
  }
  return s.pipeline;
}

export async function releaseGatewayEvents(core: ScardCore): Promise<void> {
  const s = shared.get(core);
  if (!s) return;
  if (--s.refs > 0) return;
  shared.delete(core);
  await s.pipeline.stop();
}
