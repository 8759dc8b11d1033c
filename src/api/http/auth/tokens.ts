/**
 * API tokens for machines: `Authorization: Bearer sgt_...`. Only a SHA-256
 * of each token is stored (tokens carry 256 random bits, so a fast hash is
 * enough; the slow hash is for human passwords). `scardctl token create`
 * appends to the file; the daemon re-reads it when it changes.
 */
import { createHash, randomBytes, timingSafeEqual } from 'node:crypto';
import { readFile, stat } from 'node:fs/promises';
import { join } from 'node:path';
import { writePrivateFile } from './password.js';
import { DEFAULT_SCOPES, LEGACY_SCOPES, isScope, type Scope } from './scopes.js';

export const TOKENS_FILE = 'http-tokens.json';
export const TOKEN_PREFIX = 'sgt_';

export interface TokenRecord {
  id: string;
  name: string;
  /** sha256 of the whole token text, hex. */
  sha256: string;
  created: string;
  /** What the token may do (scopes.ts); a record without it predates scopes and gets LEGACY_SCOPES. */
  scopes: Scope[];
}

export const tokensPath = (stateDir: string): string => join(stateDir, TOKENS_FILE);

const sha256 = (s: string): string => createHash('sha256').update(s, 'utf8').digest('hex');

export async function readTokens(stateDir: string): Promise<TokenRecord[]> {
  try {
    const parsed = JSON.parse(await readFile(tokensPath(stateDir), 'utf8')) as { tokens?: Array<Partial<TokenRecord>> };
    if (!Array.isArray(parsed.tokens)) return [];
    return parsed.tokens.map((t) => {
      const scopes = Array.isArray(t.scopes) ? t.scopes.filter(isScope) : undefined;
      // A record naming only unknown scopes gets none: it authenticates and may do nothing.
      return { ...t, scopes: scopes ?? [...LEGACY_SCOPES] } as TokenRecord;
    });
  } catch (e) {
    if ((e as NodeJS.ErrnoException).code === 'ENOENT') return [];
    throw e;
  }
}

/** Creates a token named `name` allowed `scopes`; returns the token text, shown once and never stored. */
export async function createToken(stateDir: string, name: string, scopes: readonly Scope[] = DEFAULT_SCOPES): Promise<{ token: string; record: TokenRecord }> {
  if (scopes.length === 0 || !scopes.every(isScope)) throw new Error('token scopes must be one or more of read, transmit, admin');
  if (!/^[A-Za-z0-9_.@-]{1,64}$/.test(name)) throw new Error('token name must be 1-64 characters of A-Z a-z 0-9 _ . @ -');
  const tokens = await readTokens(stateDir);
  if (tokens.some((t) => t.name === name)) throw new Error(`a token named "${name}" already exists (revoke it first)`);
  const token = TOKEN_PREFIX + randomBytes(32).toString('base64url');
  const record: TokenRecord = { id: randomBytes(6).toString('hex'), name, sha256: sha256(token), created: new Date().toISOString(), scopes: [...new Set(scopes)] };
  tokens.push(record);
  await writePrivateFile(tokensPath(stateDir), JSON.stringify({ tokens }, null, 2) + '\n');
  return { token, record };
}

/** Removes the token with this name or id; returns false when there was none. */
export async function revokeToken(stateDir: string, nameOrId: string): Promise<boolean> {
  const tokens = await readTokens(stateDir);
  const kept = tokens.filter((t) => t.name !== nameOrId && t.id !== nameOrId);
  if (kept.length === tokens.length) return false;
  await writePrivateFile(tokensPath(stateDir), JSON.stringify({ tokens: kept }, null, 2) + '\n');
  return true;
}

/** The daemon's view of the token file: cached, reloaded when its mtime changes. */
export class TokenVerifier {
  private cache: TokenRecord[] = [];
  private mtimeMs = -1;
  constructor(private readonly stateDir: string) {}

  private async refresh(): Promise<void> {
    let m: number;
    try {
      m = (await stat(tokensPath(this.stateDir))).mtimeMs;
    } catch {
      this.cache = [];
      this.mtimeMs = -1;
      return;
    }
    if (m !== this.mtimeMs) {
      this.cache = await readTokens(this.stateDir);
      this.mtimeMs = m;
    }
  }

  /** The matching record, or undefined. */
  async verify(token: string): Promise<TokenRecord | undefined> {
    if (!token.startsWith(TOKEN_PREFIX) || token.length > 200) return undefined;
    await this.refresh();
    const h = Buffer.from(sha256(token), 'hex');
    return this.cache.find((t) => {
      const c = Buffer.from(t.sha256, 'hex');
      return c.length === h.length && timingSafeEqual(c, h);
    });
  }
}
