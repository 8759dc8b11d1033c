/**
 * The technician's account from the web UI: change the password (every other
 * login ends), sign out everywhere, and the machines' API tokens (list,
 * create: shown once, revoke). Logged-in technicians only: a machine's token
 * cannot mint or revoke tokens, nor change the password.
 */
import type { FastifyInstance, FastifyRequest } from 'fastify';
import { Type, type Static } from '@sinclair/typebox';
import { SESSION_COOKIE, type SessionStore } from '../auth/sessions.js';
import { checkPasswordStrength, setPassword, verifyPassword } from '../auth/password.js';
import { SCOPES } from '../auth/scopes.js';
import type { PasswordStamp } from '../auth/password-stamp.js';
import { HttpError } from '../errors.js';
import type { HttpDeps } from '../deps.js';
import { callerOf } from './operations.js';

const PasswordBody = Type.Object(
  { current: Type.String({ minLength: 1, maxLength: 1024 }), password: Type.String({ minLength: 1, maxLength: 1024 }) },
  { additionalProperties: false },
);
const TokenBody = Type.Object(
  {
    name: Type.String({ minLength: 1, maxLength: 64 }),
    scopes: Type.Array(Type.Union(SCOPES.map((x) => Type.Literal(x))), { minItems: 1, maxItems: 3, uniqueItems: true }),
  },
  { additionalProperties: false },
);
const TokenParams = Type.Object({ id: Type.String({ minLength: 1, maxLength: 64 }) });

function technician(req: FastifyRequest): void {
  if (req.principal?.kind !== 'session') throw new HttpError(403, 'only a logged-in technician can do this (not an API token)');
}

export function accountRoutes(app: FastifyInstance, deps: HttpDeps, sessions: SessionStore, stamp: PasswordStamp, secure: boolean): void {
  const cookieOpts = { path: '/', httpOnly: true, sameSite: 'strict' as const, secure };
  const admin = { scope: 'admin' as const };

  app.post<{ Body: Static<typeof PasswordBody> }>(
    '/api/auth/password',
    { schema: { body: PasswordBody }, config: { ...admin, rateLimit: { max: deps.config.http.loginAttemptsPerMinute, timeWindow: 60_000 } } },
    async (req) => {
      technician(req);
      if (!(await verifyPassword(deps.stateDir, req.body.current))) throw new HttpError(403, 'current password: wrong password');
      const weak = checkPasswordStrength(req.body.password);
      if (weak) throw new HttpError(400, `new password: ${weak}`);
      if (req.body.password === req.body.current) throw new HttpError(400, 'new password: same as the current one');
      await setPassword(deps.stateDir, req.body.password);
      // Every other login ends (other browsers, a stolen cookie); the technician who typed the current password stays.
      const me = (req.principal as { kind: 'session'; session: { id: string; csrf: string } }).session;
      const before = sessions.size;
      sessions.keepOnly(me.id, await stamp.current());
      const ended = before - sessions.size;
      deps.log.info({ ip: req.ip, endedSessions: ended }, 'web password changed; every other session ended');
      return { changed: true, endedSessions: ended, csrfToken: me.csrf };
    },
  );

  app.post('/api/auth/signout-everywhere', { config: admin }, async (req, reply) => {
    technician(req);
    const n = sessions.size;
    sessions.endAll('logout');
    reply.clearCookie(SESSION_COOKIE, cookieOpts);
    deps.log.info({ ip: req.ip, endedSessions: n }, 'web sign-out everywhere');
    return { endedSessions: n };
  });

  // Tokens are the gateway's (tokens/list, tokens/create, tokens/revoke): the same for every frontend.
  app.get('/api/tokens', { config: admin }, async (req) => {
    technician(req);
    return deps.api.call('tokens/list', {}, callerOf(req));
  });

  app.post<{ Body: Static<typeof TokenBody> }>('/api/tokens', { schema: { body: TokenBody }, config: admin }, async (req, reply) => {
    technician(req);
    const made = await deps.api.call('tokens/create', { name: req.body.name, scopes: req.body.scopes }, callerOf(req));
    reply.code(201);
    return made;
  });

  app.delete<{ Params: Static<typeof TokenParams> }>('/api/tokens/:id', { schema: { params: TokenParams }, config: admin }, async (req) => {
    technician(req);
    await deps.api.call('tokens/revoke', { name: req.params.id }, callerOf(req));
    return { revoked: true };
  });
}
