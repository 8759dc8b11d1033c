/** Diagnostics, logs tail and the configuration view/editor. */
import { readFile } from 'node:fs/promises';
import type { FastifyInstance } from 'fastify';
import { walkKeys } from '../../../config/keys.js';
import { LogsQuery, ConfigPutBody } from '../schemas.js';
import { boardDevices } from '../board.js';
import { isSecretKey, maskObject, maskYaml } from '../config-edit.js';
import { saveConfigText } from '../config-save.js';
import { HttpError } from '../errors.js';
import { principalLabel } from '../auth/plugin.js';
import type { HttpDeps } from '../deps.js';

export function systemRoutes(app: FastifyInstance, deps: HttpDeps): void {
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
      core: safe(() => deps.core.diagnostics()),
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
      readers: deps.core.readers().length,
      journal: deps.journal?.() !== undefined,
      mqtt: deps.config.mqtt.enabled ? { connected: m?.connected === true, url: m?.url ?? deps.config.mqtt.url, outboxDepth: m?.outbox?.depth ?? null, running: m !== undefined } : null,
    };
  });

  app.get<{ Querystring: LogsQuery }>('/api/logs', { schema: { querystring: LogsQuery } }, async (req) => {
    const lines = deps.logRing.tail(req.query.limit ?? 200);
    return { lines, capacity: deps.logRing.capacity };
  });

  app.get('/api/config', async () => {
    const file = deps.configFile;
    let yaml = '';
    if (file) {
      try {
        yaml = await readFile(file, 'utf8');
      } catch (e) {
        throw new HttpError(500, `cannot read the configuration file ${file}: ${(e as Error).message}`);
      }
    }
    return {
      file: file ?? null,
      editable: file !== undefined,
      yaml: maskYaml(yaml),
      effective: maskObject(deps.config),
      // The key reference from the schema (one source with the README's table): path, type, default, description.
      keys: walkKeys().map((k) => ({ path: k.path, type: k.type, default: isSecretKey(k.path.split('.').pop() ?? '') ? undefined : k.default, description: k.description })),
    };
  });

  app.put<{ Body: ConfigPutBody }>('/api/config', { schema: { body: ConfigPutBody } }, async (req) => saveConfigText(deps, req.body.yaml, principalLabel(req.principal)));
}

function safe(f: () => Record<string, unknown>): Record<string, unknown> {
  try {
    return f();
  } catch (e) {
    return { error: (e as Error).message };
  }
}
