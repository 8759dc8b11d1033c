/** Health, diagnostics with the board's devices, the UI's status banner, the logs tail. */
import type { FastifyInstance } from 'fastify';
import { LogsQuery } from '../schemas.js';
import { boardDevices } from '../../../gateway/board.js';
import type { HttpDeps } from '../deps.js';
import { callerOf } from './operations.js';

export function systemRoutes(app: FastifyInstance, deps: HttpDeps): void {
  /** Health at a glance (the Health view): the gateway's `health` operation. */
  app.get('/api/health', async (req) => deps.api.call('health', {}, callerOf(req)));

  app.get('/api/diagnostics', async () => {
    const mem = process.memoryUsage();
    let services: Record<string, unknown>;
    try {
      services = deps.diagnostics();
    } catch (e) {
      services = { error: (e as Error).message };
    }
    return {
      gatewayId: deps.gatewayId,
      version: deps.version,
      versions: { scardgate: deps.version, node: process.versions.node, v8: process.versions.v8, openssl: process.versions.openssl },
      startedAt: deps.startedAt.toISOString(),
      uptimeSeconds: Math.round((Date.now() - deps.startedAt.getTime()) / 1000),
      memory: { rssBytes: mem.rss, heapUsedBytes: mem.heapUsed, heapTotalBytes: mem.heapTotal, externalBytes: mem.external },
      core: safe(() => deps.api.core.diagnostics()),
      services,
      board: await boardDevices(),
    };
  });

  /** Cheap health summary the UI polls for its banners (broker down, journal missing). */
  app.get('/api/status', async () => {
    let services: Record<string, unknown> = {};
    try {
      services = deps.diagnostics();
    } catch {
      // diagnostics of a service failing is shown by /api/diagnostics; the banner stays quiet
    }
    const m = services.mqtt as { connected?: boolean; url?: string; outbox?: { depth?: number } } | undefined;
    return {
      readers: deps.api.core.readers().length,
      journal: deps.api.events() !== undefined,
      mqtt: deps.config.mqtt.enabled ? { connected: m?.connected === true, url: m?.url ?? deps.config.mqtt.url, outboxDepth: m?.outbox?.depth ?? null, running: m !== undefined } : null,
    };
  });

  app.get<{ Querystring: LogsQuery }>('/api/logs', { schema: { querystring: LogsQuery } }, async (req) => {
    const lines = deps.logRing.tail(req.query.limit ?? 200);
    return { lines, capacity: deps.logRing.capacity };
  });

}

function safe(f: () => Record<string, unknown>): Record<string, unknown> {
  try {
    return f();
  } catch (e) {
    return { error: (e as Error).message };
  }
}
