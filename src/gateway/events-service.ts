/**
 * The events pipeline (src/events) as a service of its own: started before
 * the frontends and stopped after them, it hands its journal to the gateway
 * API, where MQTT (publishing, acknowledging), HTTP (history, live) and the
 * control channel find it. Without an MQTT frontend nobody acknowledges
 * events, so the outbox acknowledges them itself.
 */
import type { Service, ServiceFactory } from '../daemon/service.js';
import { GatewayEvents } from '../events/pipeline.js';
import { eventsConfigOf, eventsDir } from '../events/index.js';

export const createEventsService: ServiceFactory = (ctx) => {
  let pipeline: GatewayEvents | undefined;
  const service: Service = {
    name: 'events',
    async start() {
      const p = new GatewayEvents({
        core: ctx.core,
        gatewayId: ctx.gatewayId,
        config: eventsConfigOf(ctx.config),
        dir: eventsDir(ctx.config),
        log: ctx.log.child({ module: 'events' }),
        autoAck: !ctx.config.mqtt.enabled,
        countersAtLastStop: ctx.api.countersAtJournalStop,
        listingReaders: ctx.listingReaders,
      });
      await p.start();
      pipeline = p;
      ctx.api.setJournal(p);
    },
    async stop() {
      const p = pipeline;
      pipeline = undefined;
      if (!p) return;
      if (ctx.api.events() === p) ctx.api.setJournal(undefined);
      await p.stop();
    },
    diagnostics() {
      return pipeline ? pipeline.stats() : { running: false };
    },
  };
  return service;
};
