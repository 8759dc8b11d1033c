/**
 * The gateway's token store over the HTTP frontend's token file
 * (src/api/http/auth/tokens.ts): the daemon composes it so the gateway layer
 * reads no frontend's files. A token without scopes predates them and keeps
 * the full access it had.
 */
import type { Scope } from '../gateway/catalog.js';
import type { Token, TokenStore } from '../gateway/types.js';
import { createToken, readTokens, revokeToken, tokensPath, type TokenRecord } from '../api/http/auth/tokens.js';
import { writePrivateFile } from '../api/http/auth/password.js';
import { invalid } from '../gateway/errors.js';

const scopesOf = (t: TokenRecord): Scope[] => ((t as { scopes?: Scope[] }).scopes ?? ['admin']).slice();
const view = (t: TokenRecord): Token => ({ id: t.id, name: t.name, created: t.created, scopes: scopesOf(t) });

export function tokenFileStore(stateDir: string): TokenStore {
  return {
    async list() {
      return (await readTokens(stateDir)).map(view);
    },
    async create(name, scopes) {
      let created;
      try {
        created = await createToken(stateDir, name);
      } catch (e) {
        throw invalid((e as Error).message);
      }
      const all = await readTokens(stateDir);
      for (const t of all) if (t.id === created.record.id) (t as { scopes?: Scope[] }).scopes = scopes;
      await writePrivateFile(tokensPath(stateDir), JSON.stringify({ tokens: all }, null, 2) + '\n');
      return { ...view({ ...created.record, scopes } as TokenRecord), token: created.token };
    },
    revoke: (nameOrId) => revokeToken(stateDir, nameOrId),
  };
}
