/**
 * Card profiles: APDUs run through the core (src/core/oneshot.ts: shared connect, one transaction)
 * as soon as a matching card appears, so card.inserted already carries their
 * answers and a door controller needs no round trip. Secret-bearing commands
 * are shown redacted (src/log/redact.ts decides which).
 */
import { createHash } from 'node:crypto';
import type { ReaderSnapshot, ScardCore } from '../core/api.js';
import { SCARD } from '../pcsc/constants.js';
import { runApdus } from '../core/oneshot.js';
import { parseHex, toHex } from '../iso7816/hex.js';
import { decodeSw } from '../iso7816/status-words.js';
import { isSecretApdu, isSecretResponse, renderApdu } from '../log/redact.js';
import type { CardProfileT } from './config.js';

export interface ProfileApduResult {
  apdu: string;
  /** Response data (without SW) in hex; absent when hidden. */
  data?: string;
  sw?: string;
  swText?: string;
  ok: boolean;
  error?: { code: number; name: string; message: string };
  redacted?: boolean;
}

export interface ProfileResult {
  name: string;
  results: Record<string, ProfileApduResult>;
  error?: string;
  /** Every answer came from the card's data cache (no card I/O). */
  cached?: boolean;
}

export interface CompiledProfile {
  profile: CardProfileT;
  atrPrefix?: Buffer;
  apdus: { name: string; bytes: Buffer; secret: boolean; cache: boolean; cacheKey: string; underSecret: boolean }[];
}

/** Parse hex once at start-up so a bad profile fails loudly with its name, not at the first tap. */
export function compileProfiles(profiles: CardProfileT[]): CompiledProfile[] {
  return profiles.map((p) => {
    let sawSecret = false;
    const apdus = p.apdus.map((a) => {
      let bytes: Buffer;
      try {
        bytes = parseHex(a.apdu);
      } catch (e) {
        throw new Error(`events.profiles: profile "${p.name}" APDU "${a.name}": ${(e as Error).message}`, { cause: e });
      }
      if (bytes.length < 4) throw new Error(`events.profiles: profile "${p.name}" APDU "${a.name}": an APDU needs at least 4 bytes`);
      const secret = a.secret || isSecretApdu(bytes);
      // Nothing secret reaches the cache unless the profile says so.
      const hidden = secret || isSecretResponse(bytes);
      const cache = a.cache === true && (!hidden || a.cacheSecret === true);
      // The key names the command so an edited profile misses; a secret-bearing one (a VERIFY's PIN) only by a
      // digest, since cache/list shows keys to any reader of the cache.
      const command = hidden ? `sha256-${createHash('sha256').update(bytes).digest('hex').slice(0, 16)}` : toHex(bytes, '');
      // What a card answers after a VERIFY in the same profile was read under that secret: cached, it is the admin's only.
      const underSecret = hidden || sawSecret;
      if (hidden) sawSecret = true;
      return { name: a.name, bytes, secret, cache, cacheKey: `profile:${p.name}:${a.name}:${command}`, underSecret };
    });
    let atrPrefix: Buffer | undefined;
    if (p.match.atrPrefix !== undefined) {
      try {
        atrPrefix = parseHex(p.match.atrPrefix);
      } catch (e) {
        throw new Error(`events.profiles: profile "${p.name}" match.atrPrefix: ${(e as Error).message}`, { cause: e });
      }
    }
    return { profile: p, atrPrefix, apdus };
  });
}

export function matchProfile(profiles: CompiledProfile[], r: ReaderSnapshot): CompiledProfile | undefined {
  const contactless = Boolean(r.card?.contactless ?? r.capabilities.contactless);
  return profiles.find((c) => {
    const m = c.profile.match;
    if (m.contactless !== undefined && m.contactless !== contactless) return false;
    if (c.atrPrefix && !r.atr.subarray(0, c.atrPrefix.length).equals(c.atrPrefix)) return false;
    if (m.reader !== undefined && !r.name.includes(m.reader)) return false;
    return true;
  });
}

/** Run a profile's APDUs on the card in `reader` (src/core/oneshot.ts: one connection, one transaction); never throws. */
export async function runProfile(core: ScardCore, reader: string, cp: CompiledProfile, timeoutMs: number): Promise<ProfileResult> {
  const out: ProfileResult = { name: cp.profile.name, results: {} };
  let timer: NodeJS.Timeout | undefined;
  const timeout = new Promise<never>((_, reject) => {
    timer = setTimeout(() => reject(new Error(`profile did not finish within ${timeoutMs} ms`)), timeoutMs);
  });
  const card = core.dataCache.cardIn(reader);
  const fromCache = card ? cachedAnswers(core, cp, card) : undefined;
  if (fromCache) {
    cp.apdus.forEach((a, i) => (out.results[a.name] = resultOf(a, fromCache[i])));
    out.cached = true;
    clearTimeout(timer);
    return out;
  }
  try {
    const run = await Promise.race([runApdus(core, reader, cp.apdus.map((a) => a.bytes), { owner: 'events:profile', timeoutMs }), timeout]);
    cp.apdus.forEach((a, i) => {
      const res = run.results[i];
      const apduText = !a.secret
        ? toHex(a.bytes, '')
        : isSecretApdu(a.bytes)
          ? renderApdu(a.bytes)
          : `${toHex(a.bytes.subarray(0, 4))} <${a.bytes.length - 4} bytes redacted>`;
      if (!res?.response) {
        out.results[a.name] = { apdu: apduText, ok: false, error: res?.error ?? { code: SCARD.F_UNKNOWN_ERROR, name: 'SCARD_F_UNKNOWN_ERROR', message: 'no answer' } };
        return;
      }
      out.results[a.name] = resultOf(a, res.response);
      if (card && a.cache && res.response.length >= 2 && decodeSw(res.response).kind === 'success') {
        try {
          core.dataCache.write(card.cardId, a.cacheKey, res.response, card.freshness, a.underSecret);
        } catch {
          // Stale (the profile itself wrote to the card) or too big: not cached, answered from the card next time.
        }
      }
    });
  } catch (e) {
    out.error = e instanceof Error ? e.message : String(e);
  } finally {
    clearTimeout(timer);
  }
  return out;
}

type Compiled = CompiledProfile['apdus'][number];

/** Every answer of the profile from the card's cache, or undefined when one is missing (then all run on the card). */
function cachedAnswers(core: ScardCore, cp: CompiledProfile, card: { cardId: string; freshness: number }): Buffer[] | undefined {
  if (!cp.apdus.every((a) => a.cache)) return undefined;
  const out: Buffer[] = [];
  for (const a of cp.apdus) {
    try {
      out.push(core.dataCache.read(card.cardId, a.cacheKey, card.freshness).data);
    } catch {
      return undefined;
    }
  }
  return out;
}

function resultOf(a: Compiled, resp: Buffer): ProfileApduResult {
  const apduText = !a.secret
    ? toHex(a.bytes, '')
    : isSecretApdu(a.bytes)
      ? renderApdu(a.bytes)
      : `${toHex(a.bytes.subarray(0, 4))} <${a.bytes.length - 4} bytes redacted>`;
  const sw = resp.length >= 2 ? decodeSw(resp) : undefined;
  const r: ProfileApduResult = { apdu: apduText, ok: sw?.kind === 'success' || sw?.kind === 'info' };
  if (a.secret || isSecretResponse(a.bytes)) r.redacted = true;
  else r.data = toHex(resp.subarray(0, Math.max(0, resp.length - 2)), '');
  if (sw) {
    r.sw = sw.hex;
    r.swText = sw.text;
  }
  return r;
}
