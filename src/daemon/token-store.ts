/**
 * The gateway's token store over the HTTP frontend's token file
 * (src/api/http/auth/tokens.ts): the daemon composes it so the gateway layer
 * reads no frontend's files. A token without scopes predates them and keeps
 * the full access it had.
 */
import type { Scope } from '../gateway/catalog.js';
import type { Token, TokenStore } from '../gateway/types.js';
import { createToken, readTokens, revokeToken, type TokenRecord } from '../api/http/auth/tokens.js';
import { invalid } from '../gateway/errors.js';

const scopesOf = (t: TokenRecord): Scope[] => ((t as { scopes?: Scope[] }).scopes ?? ['admin']).slice();
const view = (t: TokenRecord): Token => ({ id: t.id, name: t.name, created: t.created, scopes: scopesOf(t) });

export function tokenFileStore(stateDir: string): TokenStore {
  return {
    async list() {
      return (await readTokens(stateDir)).map(view);
    },
    async create(name, scopes) {
      // One write with the scopes in it: the token never exists with others.
      try {
        const created = await createToken(stateDir, name, scopes);
        return { ...view(created.record), token: created.token };
      } catch (e) {
        throw invalid(`name: ${(e as Error).message}`);
      }
    },
    revoke: (nameOrId) => revokeToken(stateDir, nameOrId),
  };
}
