/**
 * Guided reader set-up from the web UI: what the board offers (serial ports,
 * I2C buses, USB CCID devices), which drivers take readers (from the config
 * schema: every drivers.<name>.readers list, and drivers.ccid.emulate; the
 * CCID specifics are in ../setup-ccid.ts), a live probe of a candidate
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
import { checkRealFree, describeEmulated, emulatedLabel, findUsbDevice, pcscNames, realCcidConfig, testSlot, usbCandidate } from '../setup-ccid.js';
import { principalLabel } from '../auth/plugin.js';
import type { HttpDeps } from '../deps.js';

const DriverName = Type.String({ pattern: '^[a-z0-9]{1,32}$' });
const ProbeBody = Type.Object(
  {
    driver: DriverName,
    reader: Type.Record(Type.String(), Type.Unknown()),
    /** Wait this long for a card in the field after the reader answers (0 = firmware only). */
    tapWaitMs: Type.Optional(Type.Integer({ minimum: 0, maximum: 30_000 })),
    /** Emulated readers only (drivers.ccid.emulate): a card (drivers/sim spec) inserted on the emulator for the test tap. */
    testCard: Type.Optional(Type.Unknown()),
  },
  { additionalProperties: false },
);
const AddBody = Type.Object({ driver: DriverName, reader: Type.Record(Type.String(), Type.Unknown()) }, { additionalProperties: false });
const ReaderAt = Type.Object({ driver: DriverName, index: Type.Integer({ minimum: 0, maximum: 1000 }) });
const RenameBody = Type.Object({ name: Type.String({ minLength: 1, maxLength: 100 }) }, { additionalProperties: false });

/** How long a probe waits for the reader to answer (a PN532 wakes within a second; a port retry is slower). */
const PROBE_ATTACH_MS = 8000;

/**
 * The list under a driver's section that holds its readers: `readers` for most,
 * `emulate` for CCID (real CCID readers need no entry: drivers.ccid.enabled
 * takes every one on the bus).
 */
const LIST_KEY: Record<string, string> = { ccid: 'emulate' };
export const listKeyOf = (driver: string): string => LIST_KEY[driver] ?? 'readers';

/** Drivers whose config section holds a reader list, with that list's item schema. */
export function readerDrivers(): Array<{ name: string; listKey: string; readerSchema: TSchema }> {
  const drivers = (ConfigSchema.properties.drivers as unknown as { properties: Record<string, TSchema> }).properties;
  const out: Array<{ name: string; listKey: string; readerSchema: TSchema }> = [];
  for (const [name, section] of Object.entries(drivers)) {
    const listKey = listKeyOf(name);
    const list = (section as { properties?: Record<string, TSchema> }).properties?.[listKey] as { items?: TSchema } | undefined;
    if (list?.items) out.push({ name, listKey, readerSchema: list.items });
  }
  return out;
}

function known(driver: string): void {
  if (!readerDrivers().some((d) => d.name === driver)) {
    throw new HttpError(400, `driver: "${driver}" takes no readers in this build (expected one of: ${readerDrivers().map((d) => d.name).join(', ')})`);
  }
}

const readersOf = (config: Config, driver: string): Array<Record<string, unknown>> =>
  ((config.drivers as unknown as Record<string, Record<string, Array<Record<string, unknown>> | undefined>>)[driver]?.[listKeyOf(driver)] ?? []);

/**
 * The candidate reader validated as start-up would validate it, defaults filled: the running
 * configuration with only this reader under its driver. Problems name the key path.
 */
function validateCandidate(deps: HttpDeps, driver: string, reader: Record<string, unknown>): { config: Config; reader: Record<string, unknown> } {
  const raw = JSON.parse(JSON.stringify(deps.config)) as Record<string, Record<string, Record<string, unknown>>>;
  const key = listKeyOf(driver);
  raw.drivers[driver] = { ...raw.drivers[driver], [key]: [reader] };
  try {
    const loaded = resolveConfig(raw, 'candidate reader', { env: {} });
    return { config: loaded.config, reader: readersOf(loaded.config, driver)[0] };
  } catch (e) {
    if (e instanceof ConfigError) {
      const problems = e.problems.map((p) => p.replace(`drivers.${driver}.${key}[0]`, 'reader'));
      throw new HttpError(400, `invalid reader: ${problems.join('; ')}`);
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
    const fileDrivers = (values.drivers ?? {}) as Record<string, Record<string, unknown> | undefined>;
    const configured = [];
    for (const { name, listKey } of readerDrivers()) {
      const list = fileDrivers[name]?.[listKey];
      for (const [index, r] of (Array.isArray(list) ? (list as Array<Record<string, unknown>>) : []).entries()) {
        const label = name === 'ccid' ? await emulatedLabel(r ?? {}) : typeof r?.name === 'string' ? r.name : null;
        configured.push({ driver: name, index, name: label, renamable: name !== 'ccid', reader: maskObject(r) });
      }
    }
    const { emulatedCcidDevices, emulatorProfiles } = await import('../../../../drivers/ccid/discover.js');
    return {
      editable: file !== undefined,
      restartAvailable: deps.restart !== undefined,
      devices: await boardDevices(),
      drivers: readerDrivers(),
      configured,
      ccid: {
        /** drivers.ccid.enabled in the file: every real USB CCID reader is taken. */
        usbEnabled: fileDrivers.ccid?.enabled === true,
        /** The emulated readers the running CCID driver hosts (drivers.ccid.emulate). */
        emulated: await emulatedCcidDevices(deps.config.drivers.ccid.emulate),
        profiles: await emulatorProfiles(),
      },
    };
  });

  app.post<{ Body: Static<typeof ProbeBody> }>('/api/setup/probe', { schema: { body: ProbeBody }, config: { scope: 'admin' } }, async (req) => {
    const { driver, testCard } = req.body;
    known(driver);
    let config: Config;
    let device: Record<string, unknown> | undefined;
    /** Which of the probe driver's readers are the candidate (a real CCID probe sees the whole bus). */
    let mine = (_r: DriverReader): boolean => true;
    const usbId = driver === 'ccid' ? usbCandidate(req.body.reader) : undefined;
    if (testCard !== undefined && (driver !== 'ccid' || usbId !== undefined)) {
      throw new HttpError(400, 'testCard: only an emulated reader takes a test card; hold a real card on a real reader');
    }
    if (usbId !== undefined) {
      checkRealFree(deps.config);
      device = { ...(await findUsbDevice(usbId)) };
      config = realCcidConfig(deps.config);
      mine = (r) => r.id.startsWith(`${usbId}:`);
    } else {
      const v = validateCandidate(deps, driver, req.body.reader);
      config = v.config;
      if (driver === 'ccid') {
        device = { ...(await describeEmulated(v.reader)) };
        delete device.emulated;
      } else {
        const key = transportKey(v.reader);
        if (readersOf(deps.config, driver).some((r) => transportKey(r) === key)) {
          throw new HttpError(409, 'a configured reader already uses this device: remove it first, or test it from the Readers view');
        }
      }
    }
    const tapWaitMs = req.body.tapWaitMs ?? (testCard !== undefined ? 5000 : 0);
    const drv = await startProbe(deps, driver, config);
    const t0 = Date.now();
    const found: DriverReader[] = [];
    const attached = new Promise<boolean>((resolve) => {
      const timer = setTimeout(() => resolve(false), PROBE_ATTACH_MS);
      const onAdded = (r: DriverReader): void => {
        if (!mine(r)) return;
        found.push(r);
        if (found.length > 1) return;
        clearTimeout(timer);
        // A composite device announces its interfaces one after the other, in the same turn.
        setImmediate(() => {
          drv.off('reader-added', onAdded);
          resolve(true);
        });
      };
      drv.on('reader-added', onAdded);
    });
    try {
      await drv.start();
      const diag = (drv.diagnostics?.() ?? {}) as Record<string, unknown>;
      if (!(await attached)) {
        const lastError = JSON.stringify(diag).match(/"lastError":"([^"]+)"/)?.[1];
        return { ok: false, ms: Date.now() - t0, error: `no answer from the reader within ${PROBE_ATTACH_MS / 1000} s${lastError ? `: ${lastError}` : ''}`, diagnostics: diag };
      }
      const first = found[0];
      const info = first.diagnostics?.() ?? {};
      const out: Record<string, unknown> = { ok: true, ms: Date.now() - t0, friendlyName: first.friendlyName, firmware: typeof info.firmware === 'string' ? info.firmware : null };
      if (driver === 'ccid') {
        out.names = pcscNames(deps, found);
        out.device = device;
      }
      if (tapWaitMs > 0) {
        const slots = found.flatMap((r) => r.slots);
        const tap = await new Promise<Record<string, unknown> | null>((resolve) => {
          const done = (v: Record<string, unknown> | null): void => {
            clearTimeout(timer);
            for (const s of slots) s.off('presence', onPresence);
            resolve(v);
          };
          const timer = setTimeout(() => done(null), tapWaitMs);
          const seen = (slot: DriverReader['slots'][number]): void => {
            const c = slot.cardInfo();
            done({ uid: c?.uid?.toString('hex').toUpperCase() ?? null, type: c?.type ?? null, at: new Date().toISOString() });
          };
          const onPresence = function (this: DriverReader['slots'][number], present: boolean): void {
            if (present) seen(this);
          };
          const already = slots.find((s) => s.isCardPresent());
          if (already) return seen(already);
          for (const s of slots) s.on('presence', onPresence);
          if (testCard !== undefined) {
            const slot = testSlot(found);
            if (!slot?.simulate) return done({ error: 'this emulated reader takes no test card' });
            slot.simulate.insert(testCard).catch((e: unknown) => done({ error: `test card refused: ${(e as Error).message}` }));
          }
        });
        if (tap && 'error' in tap) throw new HttpError(400, String(tap.error));
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
    const usbId = driver === 'ccid' ? usbCandidate(req.body.reader) : undefined;
    const { doc } = await configDocument(deps);
    if (usbId !== undefined) {
      // Real CCID readers have no entry of their own: the driver takes every one on the bus.
      if (doc.getIn(['drivers', 'ccid', 'enabled']) === true) throw new HttpError(409, 'drivers.ccid.enabled is already on: every USB CCID reader is taken (restart the gateway if it does not show)');
      doc.setIn(['drivers', 'ccid', 'enabled'], true);
    } else {
      validateCandidate(deps, driver, req.body.reader);
      const key = listKeyOf(driver);
      const list = doc.getIn(['drivers', driver, key]);
      if (isSeq(list)) list.add(doc.createNode(req.body.reader));
      else doc.setIn(['drivers', driver, key], doc.createNode([req.body.reader]));
    }
    return { ...(await saveConfigText(deps, doc.toString(), principalLabel(req.principal))), restartAvailable: deps.restart !== undefined };
  });

  app.patch<{ Params: Static<typeof ReaderAt>; Body: Static<typeof RenameBody> }>(
    '/api/setup/readers/:driver/:index',
    { schema: { params: ReaderAt, body: RenameBody }, config: { scope: 'admin' } },
    async (req) => {
      if (req.params.driver === 'ccid') throw new HttpError(400, 'CCID readers are named by their device (manufacturer, product, interface, serial number, as pcscd names them): nothing to rename');
      const { doc } = await configDocument(deps);
      const item = doc.getIn(['drivers', req.params.driver, 'readers', req.params.index]);
      if (!isMap(item)) throw new HttpError(404, `no reader drivers.${req.params.driver}.readers[${req.params.index}] in the configuration file`);
      item.set('name', req.body.name);
      return { ...(await saveConfigText(deps, doc.toString(), principalLabel(req.principal))), restartAvailable: deps.restart !== undefined };
    },
  );

  app.delete<{ Params: Static<typeof ReaderAt> }>('/api/setup/readers/:driver/:index', { schema: { params: ReaderAt }, config: { scope: 'admin' } }, async (req) => {
    const { doc } = await configDocument(deps);
    const key = listKeyOf(req.params.driver);
    const list = doc.getIn(['drivers', req.params.driver, key]);
    if (!isSeq(list) || req.params.index >= list.items.length) {
      throw new HttpError(404, `no reader drivers.${req.params.driver}.${key}[${req.params.index}] in the configuration file`);
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
        if (e instanceof ConfigError) throw new HttpError(409, `not restarting: the configuration file is invalid: ${e.problems.join('; ')}`);
        throw e;
      }
    }
    deps.log.warn({ by: principalLabel(req.principal), ip: req.ip }, 'restart requested from the web UI');
    // Answer first; the restart closes this server.
    reply.raw.once('finish', () => setTimeout(() => void restart(), 50));
    return { restarting: true };
  });
}
