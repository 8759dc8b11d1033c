/** `scardctl token create|list|revoke`: API tokens for machines (stored hashed in the state directory). */
import { createToken, readTokens, revokeToken } from '../../api/http/auth/tokens.js';
import { UsageError, type Command } from './command.js';
import { stateDirFromArgs } from './passwd-state.js';

export const token: Command = {
  name: 'token',
  usage: 'create <name> | list | revoke <name> [--state-dir DIR | --config FILE]',
  summary: 'API tokens for the HTTP API (Authorization: Bearer ...); the token is shown once at creation',
  async run(io) {
    const { stateDir, rest } = stateDirFromArgs('token', io.args);
    const [sub, name, ...extra] = rest;
    if (extra.length > 0) throw new UsageError(`token: unexpected argument ${JSON.stringify(extra[0])}`);
    switch (sub) {
      case 'create': {
        if (!name) throw new UsageError('token create: missing <name> (e.g. door-controller)');
        let created;
        try {
          created = await createToken(stateDir, name);
        } catch (e) {
          throw new UsageError(`token create: ${(e as Error).message}`);
        }
        io.out(io.json ? JSON.stringify({ name, id: created.record.id, token: created.token }) : `${created.token}\n(token "${name}": shown once, store it now; send it as "Authorization: Bearer <token>")`);
        return 0;
      }
      case 'list': {
        const list = await readTokens(stateDir);
        if (io.json) io.out(JSON.stringify(list.map(({ id, name: n, created }) => ({ id, name: n, created }))));
        else if (list.length === 0) io.out('no API tokens');
        else for (const t of list) io.out(`${t.name}\t${t.id}\t${t.created}`);
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
