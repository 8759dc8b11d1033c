/**
 * Authentication for every /api route and the live channel: a technician
 * session cookie (with CSRF token on state-changing requests) or a machine's
 * bearer token (no CSRF: a bearer header is never sent by a browser on its own).
 */
import type { FastifyInstance, FastifyReply, FastifyRequest } from 'fastify';
import { CSRF_HEADER, SESSION_COOKIE, csrfMatches, type Session, type SessionStore } from './sessions.js';
import type { TokenRecord, TokenVerifier } from './tokens.js';
import { reason } from '../errors.js';
import { allows } from './scopes.js';
import { requiredScope } from './route-scopes.js';
import { sameOrigin } from '../security.js';

export type Principal = { kind: 'session'; session: Session } | { kind: 'token'; token: TokenRecord };

declare module 'fastify' {
  interface FastifyRequest {
    principal?: Principal;
  }
  interface FastifyContextConfig {
    /** Route reachable without authentication (login, the UI's static shell). */
    public?: boolean;
  }
}

/** Who made a request, for audit lines: the token's name and id (never its text), or the technician session. */
export function principalLabel(p: Principal | undefined): string {
  if (!p) return 'anonymous';
  return p.kind === 'token' ? `token ${p.token.name} (${p.token.id})` : 'technician session';
}

const UNSAFE = new Set(['POST', 'PUT', 'PATCH', 'DELETE']);

function deny(reply: FastifyReply, status: 401 | 403, message: string): FastifyReply {
  return reply.code(status).send({ statusCode: status, error: reason(status), message });
}

/** The Origin of a browser request must be this server, scheme included (cross-site WebSocket hijacking, CSRF belt and braces). */
function originAllowed(req: FastifyRequest, tls: boolean): boolean {
  const origin = req.headers.origin;
  if (!origin) return true;
  return sameOrigin(origin, req.headers.host, tls);
}

export function registerAuth(app: FastifyInstance, sessions: SessionStore, tokens: TokenVerifier, tls = false): void {
  app.decorateRequest('principal', undefined);
  app.addHook('onRequest', async (req, reply) => {
    if (req.routeOptions.config?.public) return;
    // Decide on the matched route, never on the raw URL: "/%61pi/readers" routes to /api/readers too.
    const route = req.routeOptions.url;
    if (route !== undefined && !route.startsWith('/api/')) return;
    const authz = req.headers.authorization;
    if (typeof authz === 'string' && /^Bearer\s+/i.test(authz)) {
      const token = await tokens.verify(authz.replace(/^Bearer\s+/i, '').trim());
      if (!token) return deny(reply, 401, 'invalid or revoked API token');
      req.principal = { kind: 'token', token };
      const need = requiredScope(req.method, route ?? '', req.routeOptions.config?.scope);
      if (!allows(token.scopes, need)) {
        req.log.warn({ by: principalLabel(req.principal), method: req.method, route }, 'API token refused: scope');
        return deny(reply, 403, `this route needs the ${need} scope; token "${token.name}" has ${token.scopes.join(', ') || 'none'}`);
      }
      return;
    }
    const session = await sessions.check(req.cookies[SESSION_COOKIE]);
    if (!session) {
      const had = req.cookies[SESSION_COOKIE] !== undefined;
      return deny(reply, 401, had ? 'session expired: log in again' : 'authentication required: log in or send an API token');
    }
    if (!originAllowed(req, tls)) return deny(reply, 403, `cross-origin request refused (Origin ${req.headers.origin})`);
    if (UNSAFE.has(req.method) && !csrfMatches(session, req.headers[CSRF_HEADER])) {
      return deny(reply, 403, 'missing or wrong CSRF token: send the X-CSRF-Token header from GET /api/auth/session');
    }
    req.principal = { kind: 'session', session };
  });
  // The audit trail: who changed what. Administrative changes at info, other state changes at debug (a door
  // controller's every transmit would flood the journal); always the caller's name, never a secret.
  app.addHook('onResponse', async (req, reply) => {
    if (!req.principal || !UNSAFE.has(req.method)) return;
    const route = req.routeOptions.url ?? '';
    const admin = requiredScope(req.method, route, req.routeOptions.config?.scope) === 'admin';
    req.log[admin ? 'info' : 'debug']({ by: principalLabel(req.principal), method: req.method, route, status: reply.statusCode }, 'HTTP API change');
  });
}
