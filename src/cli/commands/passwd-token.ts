/** `scardctl token create|list|revoke`: API tokens for machines (stored hashed in the state directory). */
import { createToken, readTokens, revokeToken } from '../../api/http/auth/tokens.js';
import { UsageError, type Command } from './command.js';
import { stateDirFromArgs } from './passwd-state.js';
import { DEFAULT_SCOPES, parseScopes, type Scope } from '../../api/http/auth/scopes.js';

/** `--scope read,transmit` / `--scope=admin` (repeatable) out of the arguments. */
function takeScopes(args: string[]): { scopes?: Scope[]; rest: string[] } {
  const rest: string[] = [];
  let named: string[] | undefined;
  for (let i = 0; i < args.length; i++) {
    const a = args[i];
    const m = /^--scopes?(?:=(.*))?$/.exec(a);
    if (!m) {
      rest.push(a);
      continue;
    }
    const v = m[1] ?? args[++i];
    if (v === undefined) throw new UsageError('token create: --scope needs a value (read, transmit, admin)');
    (named ??= []).push(v);
  }
  if (!named) return { rest };
  try {
    return { scopes: parseScopes(named.join(',')), rest };
  } catch (e) {
    throw new UsageError(`token create: ${(e as Error).message}`);
  }
}

export const token: Command = {
  name: 'token',
  usage: 'create <name> [--scope read|transmit|admin] | list | revoke <name> [--state-dir DIR | --config FILE]',
  summary: 'API tokens for the HTTP API (Authorization: Bearer ...) with scopes (read < transmit < admin, default read); the token is shown once at creation',
  async run(io) {
    const { stateDir, rest: afterState } = stateDirFromArgs('token', io.args);
    const { scopes, rest } = takeScopes(afterState);
    const [sub, name, ...extra] = rest;
    if (scopes && sub !== 'create') throw new UsageError('token: --scope goes with create');
    if (extra.length > 0) throw new UsageError(`token: unexpected argument ${JSON.stringify(extra[0])}`);
    switch (sub) {
      case 'create': {
        if (!name) throw new UsageError('token create: missing <name> (e.g. door-controller)');
        let created;
        try {
          created = await createToken(stateDir, name, scopes ?? DEFAULT_SCOPES);
        } catch (e) {
          throw new UsageError(`token create: ${(e as Error).message}`);
        }
        const sc = created.record.scopes;
        io.out(
          io.json
            ? JSON.stringify({ name, id: created.record.id, scopes: sc, token: created.token })
            : `${created.token}\n(token "${name}", scopes ${sc.join(',')}: shown once, store it now; send it as "Authorization: Bearer <token>")`,
        );
        return 0;
      }
      case 'list': {
        const list = await readTokens(stateDir);
        if (io.json) io.out(JSON.stringify(list.map(({ id, name: n, created, scopes: sc }) => ({ id, name: n, created, scopes: sc }))));
        else if (list.length === 0) io.out('no API tokens');
        else for (const t of list) io.out(`${t.name}\t${t.id}\t${t.scopes.join(',') || '-'}\t${t.created}`);
        return 0;
      }
      case 'revoke': {
        if (!name) throw new UsageError('token revoke: missing <name>');
        if (!(await revokeToken(stateDir, name))) {
          io.err(`token revoke: no token named "${name}"`);
          return 1;
        }
        io.out(`token "${name}" revoked`);
        return 0;
      }
      default:
        throw new UsageError(`token: expected create, list or revoke${sub ? `, got ${JSON.stringify(sub)}` : ''}`);
    }
  },
};
