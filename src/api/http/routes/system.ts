/** Diagnostics, logs tail and the configuration view/editor. */
import { chmod, readFile, stat, writeFile } from 'node:fs/promises';
import type { FastifyInstance } from 'fastify';
import { ConfigError } from '../../../config/load.js';
import { walkKeys } from '../../../config/keys.js';
import { LogsQuery, ConfigPutBody } from '../schemas.js';
import { boardDevices } from '../board.js';
import { changedParts, isSecretKey, maskObject, maskYaml, validateEdit } from '../config-edit.js';
import { HttpError } from '../errors.js';
import { writePrivateFile } from '../auth/password.js';
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

  app.put<{ Body: ConfigPutBody }>('/api/config', { schema: { body: ConfigPutBody } }, async (req) => {
    const file = deps.configFile;
    if (!file) throw new HttpError(409, 'the gateway runs on the embedded default configuration; start it with --config <file> to edit');
    const current = await readFile(file, 'utf8').catch(() => '');
    let edit;
    try {
      edit = validateEdit(req.body.yaml, current, file);
    } catch (e) {
      if (e instanceof ConfigError) {
        throw new HttpError(400, `invalid configuration: ${e.problems.join('; ')}`, { problems: e.problems });
      }
      throw e;
    }
    const parts = changedParts(deps.config, edit.loaded.config);
    await writeConfigFile(file, edit.text);
    deps.log.info({ parts, by: principalLabel(req.principal) }, 'configuration changed through the web API');
    let report = { restarted: [] as string[], pending: parts } as Awaited<ReturnType<NonNullable<HttpDeps['applyConfig']>>>;
    if (deps.applyConfig && parts.length > 0) report = await deps.applyConfig(parts, edit.loaded.config);
    return { saved: true, file, changed: parts, ...report };
  });
}

/**
 * Atomic replace (temp file + rename, mode kept) where the directory allows it;
 * else in place (a file the daemon may write in a directory it may not, as
 * /etc/scardgate often is). Failures say which file and why.
 */
async function writeConfigFile(file: string, text: string): Promise<void> {
  const mode = (await stat(file).catch(() => undefined))?.mode;
  try {
    await writePrivateFile(file, text);
    if (mode !== undefined) await chmod(file, mode & 0o777);
    return;
  } catch (e) {
    const code = (e as NodeJS.ErrnoException).code;
    if (code !== 'EACCES' && code !== 'EPERM' && code !== 'EROFS') throw new HttpError(500, `cannot write the configuration file ${file}: ${(e as Error).message}`);
  }
  try {
    await writeFile(file, text);
  } catch (e) {
    throw new HttpError(500, `cannot write the configuration file ${file}: ${(e as NodeJS.ErrnoException).code === 'EACCES' ? 'permission denied for the daemon user' : (e as Error).message}`);
  }
}

function safe(f: () => Record<string, unknown>): Record<string, unknown> {
  try {
    return f();
  } catch (e) {
    return { error: (e as Error).message };
  }
}
