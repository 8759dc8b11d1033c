/**
 * Guided reader set-up from the web UI: what the board offers (serial ports,
 * I2C buses, USB CCID devices), which drivers take readers (from the config
 * schema: every drivers.<name>.readers list), a live probe of a candidate
 * reader (its driver started on its own for a moment: firmware, then
 * optionally a test tap), and adding, renaming and removing configured
 * readers through the same save path as the config editor. Plus the restart
 * that applies what only a restart can.
 */
import type { FastifyInstance } from 'fastify';
import { Type, type Static, type TSchema } from '@sinclair/typebox';
import { isMap, isSeq } from 'yaml';
import { ConfigSchema, type Config } from '../../../config/schema.js';
import { ConfigError, resolveConfig } from '../../../config/load.js';
import type { Driver, DriverReader } from '../../../driver/contract.js';
import { boardDevices } from '../board.js';
import { maskObject } from '../config-edit.js';
import { configDocument, readConfigText, saveConfigText } from '../config-save.js';
import { HttpError } from '../errors.js';
import { principalLabel } from '../auth/plugin.js';
import type { HttpDeps } from '../deps.js';

const DriverName = Type.String({ pattern: '^[a-z0-9]{1,32}$' });
const ProbeBody = Type.Object(
  {
    driver: DriverName,
    reader: Type.Record(Type.String(), Type.Unknown()),
    /** Wait this long for a card in the field after the reader answers (0 = firmware only). */
    tapWaitMs: Type.Optional(Type.Integer({ minimum: 0, maximum: 30_000 })),
  },
  { additionalProperties: false },
);
const AddBody = Type.Object({ driver: DriverName, reader: Type.Record(Type.String(), Type.Unknown()) }, { additionalProperties: false });
const ReaderAt = Type.Object({ driver: DriverName, index: Type.Integer({ minimum: 0, maximum: 1000 }) });
const RenameBody = Type.Object({ name: Type.String({ minLength: 1, maxLength: 100 }) }, { additionalProperties: false });

/** How long a probe waits for the reader to answer (a PN532 wakes within a second; a port retry is slower). */
const PROBE_ATTACH_MS = 8000;

/** Drivers whose config section holds a `readers` list, with that list's item schema. */
export function readerDrivers(): Array<{ name: string; readerSchema: TSchema }> {
  const drivers = (ConfigSchema.properties.drivers as unknown as { properties: Record<string, TSchema> }).properties;
  const out: Array<{ name: string; readerSchema: TSchema }> = [];
  for (const [name, section] of Object.entries(drivers)) {
    const readers = (section as { properties?: Record<string, TSchema> }).properties?.readers as { items?: TSchema } | undefined;
    if (readers?.items) out.push({ name, readerSchema: readers.items });
  }
  return out;
}

function known(driver: string): void {
  if (!readerDrivers().some((d) => d.name === driver)) {
    throw new HttpError(400, `driver: "${driver}" takes no readers in this build (expected one of: ${readerDrivers().map((d) => d.name).join(', ')})`);
  }
}

const readersOf = (config: Config, driver: string): Array<Record<string, unknown>> =>
  ((config.drivers as Record<string, { readers?: Array<Record<string, unknown>> }>)[driver]?.readers ?? []);

/**
 * The candidate reader validated as start-up would validate it, defaults filled: the running
 * configuration with only this reader under its driver. Problems name the key path.
 */
function validateCandidate(deps: HttpDeps, driver: string, reader: Record<string, unknown>): { config: Config; reader: Record<string, unknown> } {
  const raw = JSON.parse(JSON.stringify(deps.config)) as Record<string, Record<string, Record<string, unknown>>>;
  raw.drivers[driver] = { ...raw.drivers[driver], readers: [reader] };
  try {
    const loaded = resolveConfig(raw, 'candidate reader', { env: {} });
    return { config: loaded.config, reader: readersOf(loaded.config, driver)[0] };
  } catch (e) {
    if (e instanceof ConfigError) {
      const problems = e.problems.map((p) => p.replace(`drivers.${driver}.readers[0]`, 'reader'));
      throw new HttpError(400, `invalid reader: ${problems.join('; ')}`, { problems });
    }
    throw e;
  }
}

/** Same device twice would fight over the port: refuse a probe of what a configured reader already uses. */
function transportKey(reader: Record<string, unknown>): string {
  const t = reader.transport as Record<string, unknown> | undefined;
  return JSON.stringify(t ? { type: t.type, path: t.path, bus: t.bus, address: t.address } : reader);
}

async function startProbe(deps: HttpDeps, driver: string, config: Config): Promise<Driver> {
  // The registry knows how to build each driver from its config section; only the candidate reader is in it.
  const { DRIVERS } = await import('../../../daemon/registry.js');
  const entry = DRIVERS.find((d) => d.name === driver);
  if (!entry) throw new HttpError(400, `driver: "${driver}" is not in this build`);
  return entry.create(config, { log: deps.log.child({ module: 'setup-probe', driver }) });
}

export function setupRoutes(app: FastifyInstance, deps: HttpDeps): void {
  app.get('/api/setup', { config: { scope: 'admin' } }, async () => {
    const file = deps.configFile;
    let values: Record<string, unknown> = {};
    if (file) {
      try {
        const { doc } = await configDocument(deps);
        values = (doc.toJS() as Record<string, unknown>) ?? {};
      } catch {
        values = {};
      }
    }
    const fileDrivers = (values.drivers ?? {}) as Record<string, { readers?: unknown[] }>;
    const configured = readerDrivers().flatMap(({ name }) =>
      (Array.isArray(fileDrivers[name]?.readers) ? (fileDrivers[name].readers as Array<Record<string, unknown>>) : []).map((r, index) => ({
        driver: name,
        index,
        name: typeof r?.name === 'string' ? r.name : null,
        reader: maskObject(r),
      })),
    );
    return {
      editable: file !== undefined,
      restartAvailable: deps.restart !== undefined,
      devices: await boardDevices(),
      drivers: readerDrivers(),
      configured,
    };
  });

  app.post<{ Body: Static<typeof ProbeBody> }>('/api/setup/probe', { schema: { body: ProbeBody }, config: { scope: 'admin' } }, async (req) => {
    const { driver, tapWaitMs = 0 } = req.body;
    known(driver);
    const { config, reader } = validateCandidate(deps, driver, req.body.reader);
    const key = transportKey(reader);
    if (readersOf(deps.config, driver).some((r) => transportKey(r) === key)) {
      throw new HttpError(409, 'a configured reader already uses this device: remove it first, or test it from the Readers view');
    }
    const drv = await startProbe(deps, driver, config);
    const t0 = Date.now();
    let found: DriverReader | undefined;
    const attached = new Promise<DriverReader | undefined>((resolve) => {
      const timer = setTimeout(() => resolve(undefined), PROBE_ATTACH_MS);
      drv.once('reader-added', (r) => {
        clearTimeout(timer);
        resolve(r);
      });
    });
    try {
      await drv.start();
      found = await attached;
      const diag = (drv.diagnostics?.() ?? {}) as Record<string, unknown>;
      if (!found) {
        const lastError = JSON.stringify(diag).match(/"lastError":"([^"]+)"/)?.[1];
        return { ok: false, ms: Date.now() - t0, error: `no answer from the reader within ${PROBE_ATTACH_MS / 1000} s${lastError ? `: ${lastError}` : ''}`, diagnostics: diag };
      }
      const info = found.diagnostics?.() ?? {};
      const out: Record<string, unknown> = { ok: true, ms: Date.now() - t0, friendlyName: found.friendlyName, firmware: typeof info.firmware === 'string' ? info.firmware : null };
      if (tapWaitMs > 0) {
        const slot = found.slots[0];
        const tap = await new Promise<Record<string, unknown> | null>((resolve) => {
          const timer = setTimeout(() => {
            slot.off('presence', onPresence);
            resolve(null);
          }, tapWaitMs);
          const onPresence = (present: boolean): void => {
            if (!present) return;
            clearTimeout(timer);
            slot.off('presence', onPresence);
            const c = slot.cardInfo();
            resolve({ uid: c?.uid?.toString('hex').toUpperCase() ?? null, type: c?.type ?? null, at: new Date().toISOString() });
          };
          if (slot.isCardPresent()) onPresence(true);
          else slot.on('presence', onPresence);
        });
        out.tap = tap;
        if (!tap) out.tapMessage = `no card seen within ${Math.round(tapWaitMs / 1000)} s`;
      }
      return out;
    } finally {
      await drv.stop().catch((err) => deps.log.warn({ err }, 'probe: driver stop failed'));
    }
  });

  app.post<{ Body: Static<typeof AddBody> }>('/api/setup/readers', { schema: { body: AddBody }, config: { scope: 'admin' } }, async (req) => {
    const { driver } = req.body;
    known(driver);
    validateCandidate(deps, driver, req.body.reader);
    const { doc } = await configDocument(deps);
    const list = doc.getIn(['drivers', driver, 'readers']);
    if (isSeq(list)) list.add(doc.createNode(req.body.reader));
    else doc.setIn(['drivers', driver, 'readers'], doc.createNode([req.body.reader]));
    return { ...(await saveConfigText(deps, doc.toString(), principalLabel(req.principal))), restartAvailable: deps.restart !== undefined };
  });

  app.patch<{ Params: Static<typeof ReaderAt>; Body: Static<typeof RenameBody> }>(
    '/api/setup/readers/:driver/:index',
    { schema: { params: ReaderAt, body: RenameBody }, config: { scope: 'admin' } },
    async (req) => {
      const { doc } = await configDocument(deps);
      const item = doc.getIn(['drivers', req.params.driver, 'readers', req.params.index]);
      if (!isMap(item)) throw new HttpError(404, `no reader drivers.${req.params.driver}.readers[${req.params.index}] in the configuration file`);
      item.set('name', req.body.name);
      return { ...(await saveConfigText(deps, doc.toString(), principalLabel(req.principal))), restartAvailable: deps.restart !== undefined };
    },
  );

  app.delete<{ Params: Static<typeof ReaderAt> }>('/api/setup/readers/:driver/:index', { schema: { params: ReaderAt }, config: { scope: 'admin' } }, async (req) => {
    const { doc } = await configDocument(deps);
    const list = doc.getIn(['drivers', req.params.driver, 'readers']);
    if (!isSeq(list) || req.params.index >= list.items.length) {
      throw new HttpError(404, `no reader drivers.${req.params.driver}.readers[${req.params.index}] in the configuration file`);
    }
    list.delete(req.params.index);
    return { ...(await saveConfigText(deps, doc.toString(), principalLabel(req.principal))), restartAvailable: deps.restart !== undefined };
  });

  app.post('/api/restart', { config: { scope: 'admin' } }, async (req, reply) => {
    const restart = deps.restart;
    if (!restart) throw new HttpError(501, 'this gateway cannot restart itself from the web UI (not started by scardgated)');
    // Refuse a restart into a configuration that would not start.
    if (deps.configFile) {
      const text = await readConfigText(deps.configFile);
      try {
        const { parseYaml } = await import('../../../config/load.js');
        resolveConfig(parseYaml(text, deps.configFile), deps.configFile);
      } catch (e) {
        if (e instanceof ConfigError) throw new HttpError(409, `not restarting: the configuration file is invalid: ${e.problems.join('; ')}`, { problems: e.problems });
        throw e;
      }
    }
    deps.log.warn({ by: principalLabel(req.principal), ip: req.ip }, 'restart requested from the web UI');
    // Answer first; the restart closes this server.
    reply.raw.once('finish', () => setTimeout(() => void restart(), 50));
    return { restarting: true };
  });
}
