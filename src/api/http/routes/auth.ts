/** Login, logout, session: the technician's way in. */
import type { FastifyInstance } from 'fastify';
import { LoginBody } from '../schemas.js';
import { SESSION_COOKIE, type SessionStore } from '../auth/sessions.js';
import { verifyPassword } from '../auth/password.js';
import type { HttpDeps } from '../deps.js';

export function authRoutes(app: FastifyInstance, deps: HttpDeps, sessions: SessionStore, secure: boolean): void {
  const cookieOpts = { path: '/', httpOnly: true, sameSite: 'strict' as const, secure };

  app.post<{ Body: LoginBody }>(
    '/api/auth/login',
    {
      schema: { body: LoginBody },
      config: { public: true, rateLimit: { max: deps.config.http.loginAttemptsPerMinute, timeWindow: 60_000 } },
    },
    async (req, reply) => {
      if (!(await verifyPassword(deps.stateDir, req.body.password))) {
        deps.log.warn({ ip: req.ip }, 'web login refused: wrong password');
        return reply.code(401).send({ statusCode: 401, error: 'Unauthorized', message: 'wrong password' });
      }
      const s = await sessions.open();
      deps.log.info({ ip: req.ip }, 'web login');
      reply.setCookie(SESSION_COOKIE, s.id, cookieOpts);
      return { csrfToken: s.csrf, idleMinutes: deps.config.http.sessionIdleMinutes };
    },
  );

  app.post('/api/auth/logout', async (req, reply) => {
    if (req.principal?.kind === 'session') sessions.end(req.principal.session.id);
    reply.clearCookie(SESSION_COOKIE, cookieOpts);
    return { loggedOut: true };
  });

  app.get('/api/auth/session', async (req) => {
    const p = req.principal!;
    if (p.kind === 'token') return { kind: 'token', name: p.token.name };
    return { kind: 'session', csrfToken: p.session.csrf, gatewayId: deps.gatewayId, version: deps.version };
  });
}
