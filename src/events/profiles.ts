/**
 * Card profiles: APDUs run through the core (src/core/oneshot.ts: shared connect, one transaction)
 * as soon as a matching card appears, so card.inserted already carries their
 * answers and a door controller needs no round trip. Secret-bearing commands
 * are shown redacted (src/log/redact.ts decides which).
 */
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
}

export interface CompiledProfile {
  profile: CardProfileT;
  atrPrefix?: Buffer;
  apdus: { name: string; bytes: Buffer; secret: boolean }[];
}

/** Parse hex once at start-up so a bad profile fails loudly with its name, not at the first tap. */
export function compileProfiles(profiles: CardProfileT[]): CompiledProfile[] {
  return profiles.map((p) => {
    const apdus = p.apdus.map((a) => {
      let bytes: Buffer;
      try {
        bytes = parseHex(a.apdu);
      } catch (e) {
        throw new Error(`events.profiles: profile "${p.name}" APDU "${a.name}": ${(e as Error).message}`, { cause: e });
      }
      if (bytes.length < 4) throw new Error(`events.profiles: profile "${p.name}" APDU "${a.name}": an APDU needs at least 4 bytes`);
      return { name: a.name, bytes, secret: a.secret || isSecretApdu(bytes) };
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
      const resp = res.response;
      const sw = resp.length >= 2 ? decodeSw(resp) : undefined;
      const r: ProfileApduResult = { apdu: apduText, ok: sw?.kind === 'success' || sw?.kind === 'info' };
      if (a.secret || isSecretResponse(a.bytes)) r.redacted = true;
      else r.data = toHex(resp.subarray(0, Math.max(0, resp.length - 2)), '');
      if (sw) {
        r.sw = sw.hex;
        r.swText = sw.text;
      }
      out.results[a.name] = r;
    });
  } catch (e) {
    out.error = e instanceof Error ? e.message : String(e);
  } finally {
    clearTimeout(timer);
  }
  return out;
}
