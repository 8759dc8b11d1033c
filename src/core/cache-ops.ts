/**
 * The data cache's operations as every frontend offers them (control channel,
 * MQTT, HTTP): JSON parameters in, JSON results out, PcscError for every
 * failure (the SCARD_W_CACHE_ITEM_* warnings included) so each frontend reports
 * it in its usual error form. Data travels as hex. The card is named by its
 * identifier (`cardId`, a UUID) or by the reader it is in now (`reader`, the
 * full reader name; frontends resolve their own reader references first).
 */
import { SCARD } from '../pcsc/constants.js';
import { PcscError } from '../pcsc/error.js';
import { parseHex, toHex } from '../iso7816/hex.js';
import type { ScardCore } from './api.js';

export const CACHE_OPERATIONS = ['cache/card', 'cache/read', 'cache/write', 'cache/remove', 'cache/list'] as const;
export type CacheOperation = (typeof CACHE_OPERATIONS)[number];

export function isCacheOperation(name: string): name is CacheOperation {
  return (CACHE_OPERATIONS as readonly string[]).includes(name);
}

const bad = (msg: string): PcscError => new PcscError(SCARD.E_INVALID_PARAMETER, msg);

function str(p: Record<string, unknown>, key: string, required: boolean): string | undefined {
  const v = p[key];
  if (v === undefined && !required) return undefined;
  if (typeof v !== 'string' || v.length === 0) throw bad(`params.${key} must be a non-empty string`);
  return v;
}

function int(p: Record<string, unknown>, key: string): number | undefined {
  const v = p[key];
  if (v === undefined) return undefined;
  if (typeof v !== 'number' || !Number.isInteger(v) || v < 0) throw bad(`params.${key} must be a non-negative integer`);
  return v;
}

/** The card a request means: params.cardId, else the card now in params.reader. */
function cardOf(core: ScardCore, p: Record<string, unknown>): string {
  const id = str(p, 'cardId', false);
  if (id !== undefined) return id;
  const reader = str(p, 'reader', false);
  if (reader === undefined) throw bad('params.cardId or params.reader is required');
  const card = core.dataCache.cardIn(reader);
  if (!card) {
    if (!core.reader(reader)) throw new PcscError(SCARD.E_UNKNOWN_READER, `no reader named "${reader}"`);
    throw new PcscError(SCARD.E_NO_SMARTCARD, `no card in "${reader}"`);
  }
  return card.cardId;
}

/**
 * Runs one cache operation; `params` is the request's parameter object as received. `mayReadSecret`: the caller
 * may read entries cached from secret-bearing exchanges (the gateway grants it to the admin scope only).
 */
export function runCacheOperation(core: ScardCore, op: CacheOperation, params: unknown, mayReadSecret = true): Record<string, unknown> {
  if (params !== undefined && (typeof params !== 'object' || params === null || Array.isArray(params))) throw bad('params must be an object');
  const p = (params ?? {}) as Record<string, unknown>;
  const cache = core.dataCache;
  switch (op) {
    case 'cache/card': {
      const reader = str(p, 'reader', true)!;
      const cardId = cardOf(core, { reader });
      return { reader, cardId, freshness: cache.cardIn(reader)!.freshness };
    }
    case 'cache/read': {
      const cardId = cardOf(core, p);
      const name = str(p, 'name', true)!;
      const r = cache.read(cardId, name, int(p, 'freshness'), mayReadSecret);
      return { cardId, name, freshness: r.freshness, data: toHex(r.data, '') };
    }
    case 'cache/write': {
      const cardId = cardOf(core, p);
      const name = str(p, 'name', true)!;
      if (typeof p.data !== 'string') throw bad('params.data must be hex text');
      let data: Buffer;
      try {
        data = parseHex(p.data);
      } catch (e) {
        throw bad(`params.data: ${(e as Error).message}`);
      }
      const r = cache.write(cardId, name, data, int(p, 'freshness'));
      return { cardId, name, freshness: r.freshness, size: data.length };
    }
    case 'cache/remove': {
      const cardId = cardOf(core, p);
      return { cardId, removed: cache.remove(cardId, str(p, 'name', false)) };
    }
    case 'cache/list': {
      const cardId = p.cardId === undefined && p.reader === undefined ? undefined : cardOf(core, p);
      return { items: cache.list(cardId), ...cache.diagnostics() };
    }
  }
}
