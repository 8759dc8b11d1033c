/** Readers and their state, reader control, feedback and simulated cards. */
import type { FastifyInstance } from 'fastify';
import type { TSchema } from '@sinclair/typebox';
import { SimCardSpec } from '../../../../drivers/sim/config.js';
import { SCARD, SHARE, DISPOSITION, PROTOCOL, CARD_STATE } from '../../../pcsc/constants.js';
import type { ReaderSnapshot, ScardCore } from '../../../core/api.js';
import { PcscError } from '../../../pcsc/error.js';
import { parseHex, toHex } from '../../../iso7816/hex.js';
import { ControlBody, FeedbackBody, ReaderParams, SimulateInsertBody } from '../schemas.js';
import { readerJson } from '../json.js';
import { HttpError } from '../errors.js';
import type { HttpDeps } from '../deps.js';
import type { Feedback } from '../../../driver/contract.js';

/** Card models a simulated reader accepts, read from the sim driver's schema. */
const CARD_MODELS: string[] = ((SimCardSpec.anyOf[0] as TSchema).anyOf as TSchema[]).map((t) => String(t.const));

export function readerRoutes(app: FastifyInstance, deps: HttpDeps): void {
  const { core } = deps;
  const known = (name: string) => {
    const r = core.reader(name);
    if (!r) throw new HttpError(404, `unknown reader "${name}" (GET /api/readers lists them)`);
    return r;
  };

  app.get('/api/readers', async () => ({ readers: core.readers().map(readerJson), cardModels: CARD_MODELS }));

  app.get<{ Params: ReaderParams }>('/api/readers/:name', { schema: { params: ReaderParams } }, async (req) => readerJson(known(req.params.name)));

  app.post<{ Params: ReaderParams; Body: ControlBody }>(
    '/api/readers/:name/control',
    { schema: { params: ReaderParams, body: ControlBody } },
    async (req) => {
      known(req.params.name);
      const data = parseHexField(req.body.data ?? '', 'data');
      const ctx = core.establishContext('http');
      try {
        // Direct mode: control works with or without a card, as SCardControl after SCARD_SHARE_DIRECT.
        const { handle } = await core.connect(ctx, req.params.name, SHARE.DIRECT, PROTOCOL.UNDEFINED);
        try {
          const out = await core.control(handle, req.body.code, data);
          return { response: toHex(out) };
        } finally {
          await core.disconnect(handle, DISPOSITION.LEAVE).catch(() => undefined);
        }
      } finally {
        await core.releaseContext(ctx).catch(() => undefined);
      }
    },
  );

  app.post<{ Params: ReaderParams; Body: FeedbackBody }>(
    '/api/readers/:name/feedback',
    { schema: { params: ReaderParams, body: FeedbackBody } },
    async (req) => {
      const r = known(req.params.name);
      if (!r.capabilities.feedback) throw new PcscError(SCARD.E_UNSUPPORTED_FEATURE, `reader "${r.name}" has no LED or buzzer`);
      await core.feedback(r.name, req.body as Feedback);
      return { done: true };
    },
  );

  app.post<{ Params: ReaderParams; Body: SimulateInsertBody }>(
    '/api/readers/:name/simulate/insert',
    { schema: { params: ReaderParams, body: SimulateInsertBody } },
    async (req) => {
      const r = known(req.params.name);
      if (!r.capabilities.simulate) throw new HttpError(409, `reader "${r.name}" cannot simulate cards (driver ${r.driver})`);
      const settled = untilPresence(core, r.name, true);
      await core.simulateInsert(r.name, req.body.card ?? 'iso7816');
      return readerJson(await settled);
    },
  );

  app.post<{ Params: ReaderParams }>('/api/readers/:name/simulate/remove', { schema: { params: ReaderParams } }, async (req) => {
    const r = known(req.params.name);
    if (!r.capabilities.simulate) throw new HttpError(409, `reader "${r.name}" cannot simulate cards (driver ${r.driver})`);
    const settled = untilPresence(core, r.name, false);
    await core.simulateRemove(r.name);
    return readerJson(await settled);
  });
}

/**
 * The reader's table entry once it shows the card (or its absence), so the
 * answer to "insert" already carries the ATR. Bounded: a card that never
 * powers up is answered with whatever the table says then.
 */
function untilPresence(core: ScardCore, name: string, present: boolean, boundMs = 3000): Promise<ReaderSnapshot> {
  return new Promise((resolve) => {
    const done = (): void => {
      clearTimeout(timer);
      core.off('reader-state', onState);
      const r = core.reader(name);
      resolve(r ?? ({ name } as ReaderSnapshot));
    };
    const onState = (r: ReaderSnapshot): void => {
      if (r.name === name && ((r.state & CARD_STATE.PRESENT) !== 0) === present && (!present || r.atr.length > 0 || r.mute)) done();
    };
    const timer = setTimeout(done, boundMs);
    core.on('reader-state', onState);
  });
}

/** parseHex with the field named in the error. */
export function parseHexField(text: string, field: string): Buffer {
  try {
    return parseHex(text);
  } catch (e) {
    throw new HttpError(400, `${field}: ${(e as Error).message}`);
  }
}
