/**
 * Guided reader set-up from the web UI over the gateway's operations
 * (src/gateway/reader-setup.ts): `setup/devices` (what the board offers) and
 * `setup/probe` (a candidate reader started on its own for a moment), plus
 * what only this frontend does: the configured readers as the file lists
 * them, and adding, renaming and removing readers by editing the file in place
 * (comments kept) and saving it through `config/apply` like the config editor.
 * Plus the restart that applies what only a restart can.
 */
import type { FastifyInstance } from 'fastify';
import { Type, type Static } from '@sinclair/typebox';
import { ConfigError, parseYamlAsync, resolveConfigAsync } from '../../../config/load-compiled.js';
import { emulatedLabel, usbCandidate } from '../../../gateway/reader-setup.js';
import { maskObject } from '../../../gateway/config-store.js';
import { configDocument, readEditedFile, saveConfigText } from '../config-save.js';
import { HttpError } from '../errors.js';
import { principalLabel } from '../auth/plugin.js';
import type { HttpDeps } from '../deps.js';
import { callerOf } from './operations.js';

const DriverName = Type.String({ pattern: '^[a-z0-9]{1,32}$' });
const AddBody = Type.Object({ driver: DriverName, reader: Type.Record(Type.String(), Type.Unknown()) }, { additionalProperties: false });
const ReaderAt = Type.Object({ driver: DriverName, index: Type.Integer({ minimum: 0, maximum: 1000 }) });
const RenameBody = Type.Object({ name: Type.String({ minLength: 1, maxLength: 100 }) }, { additionalProperties: false });

/** The reader set-up's schema part (TypeBox) and the yaml library are imported by the routes that use them, not at start (README, "Idle memory"). */
const schemaPart = (): Promise<typeof import('../../../gateway/reader-schema.js')> => import('../../../gateway/reader-schema.js');

export function setupRoutes(app: FastifyInstance, deps: HttpDeps): void {
  app.get('/api/setup', { config: { scope: 'admin' } }, async (req) => {
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
    const { readerDrivers } = await schemaPart();
    const configured = [];
    for (const { name, listKey } of readerDrivers()) {
      const list = fileDrivers[name]?.[listKey];
      for (const [index, r] of (Array.isArray(list) ? (list as Array<Record<string, unknown>>) : []).entries()) {
        const label = name === 'ccid' ? await emulatedLabel(r ?? {}) : typeof r?.name === 'string' ? r.name : null;
        configured.push({ driver: name, index, name: label, renamable: name !== 'ccid', reader: maskObject(r) });
      }
    }
    const found = await deps.api.call('setup/devices', {}, callerOf(req));
    return {
      editable: file !== undefined,
      restartAvailable: deps.restart !== undefined,
      devices: found.devices,
      drivers: found.drivers,
      configured,
      ccid: {
        /** drivers.ccid.enabled in the file: every real USB CCID reader is taken. */
        usbEnabled: fileDrivers.ccid?.enabled === true,
        /** The emulated readers the running CCID driver hosts (drivers.ccid.emulate). */
        emulated: found.ccid.emulated,
        profiles: found.ccid.profiles,
      },
    };
  });

  app.post('/api/setup/probe', { config: { scope: 'admin' } }, async (req) => deps.api.call('setup/probe', req.body, callerOf(req)));

  app.post<{ Body: Static<typeof AddBody> }>('/api/setup/readers', { schema: { body: AddBody }, config: { scope: 'admin' } }, async (req) => {
    const { driver } = req.body;
    const [{ isSeq }, { checkCandidate, knownDriver, listKeyOf }] = await Promise.all([import('yaml'), schemaPart()]);
    knownDriver(driver);
    const usbId = driver === 'ccid' ? usbCandidate(req.body.reader) : undefined;
    const { doc } = await configDocument(deps);
    if (usbId !== undefined) {
      // Real CCID readers have no entry of their own: the driver takes every one on the bus.
      if (doc.getIn(['drivers', 'ccid', 'enabled']) === true) throw new HttpError(409, 'drivers.ccid.enabled is already on: every USB CCID reader is taken (restart the gateway if it does not show)');
      doc.setIn(['drivers', 'ccid', 'enabled'], true);
    } else {
      checkCandidate(deps.config, driver, req.body.reader);
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
      const { isMap } = await import('yaml');
      const item = doc.getIn(['drivers', req.params.driver, 'readers', req.params.index]);
      if (!isMap(item)) throw new HttpError(404, `no reader drivers.${req.params.driver}.readers[${req.params.index}] in the configuration file`);
      item.set('name', req.body.name);
      return { ...(await saveConfigText(deps, doc.toString(), principalLabel(req.principal))), restartAvailable: deps.restart !== undefined };
    },
  );

  app.delete<{ Params: Static<typeof ReaderAt> }>('/api/setup/readers/:driver/:index', { schema: { params: ReaderAt }, config: { scope: 'admin' } }, async (req) => {
    const { doc } = await configDocument(deps);
    const [{ isSeq }, { listKeyOf }] = await Promise.all([import('yaml'), schemaPart()]);
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
      const text = await readEditedFile(deps.configFile);
      try {
        await resolveConfigAsync(await parseYamlAsync(text, deps.configFile), deps.configFile);
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
