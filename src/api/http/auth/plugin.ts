/**
 * Authentication for every /api route and the live channel: a technician
 * session cookie (with CSRF token on state-changing requests) or a machine's
 * bearer token (no CSRF: a bearer header is never sent by a browser on its own).
 */
import type { FastifyInstance, FastifyReply, FastifyRequest } from 'fastify';
import { CSRF_HEADER, SESSION_COOKIE, csrfMatches, type Session, type SessionStore } from './sessions.js';
import type { TokenRecord, TokenVerifier } from './tokens.js';
import { HttpError, toHttpError } from '../errors.js';

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

const UNSAFE = new Set(['POST', 'PUT', 'PATCH', 'DELETE']);

function deny(reply: FastifyReply, status: 401 | 403, message: string): FastifyReply {
  const { body } = toHttpError(new HttpError(status, message));
  return reply.code(status).send(body);
}

/** The Origin of a browser request must be this server (cross-site WebSocket hijacking, CSRF belt and braces). */
function originAllowed(req: FastifyRequest): boolean {
  const origin = req.headers.origin;
  if (!origin) return true;
  try {
    return new URL(origin).host === req.headers.host;
  } catch {
    return false;
  }
}

export function registerAuth(app: FastifyInstance, sessions: SessionStore, tokens: TokenVerifier): void {
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
      return;
    }
    const session = sessions.get(req.cookies[SESSION_COOKIE]);
    if (!session) {
      const had = req.cookies[SESSION_COOKIE] !== undefined;
      return deny(reply, 401, had ? 'session expired: log in again' : 'authentication required: log in or send an API token');
    }
    if (!originAllowed(req)) return deny(reply, 403, `cross-origin request refused (Origin ${req.headers.origin})`);
    if (UNSAFE.has(req.method) && !csrfMatches(session, req.headers[CSRF_HEADER])) {
      return deny(reply, 403, 'missing or wrong CSRF token: send the X-CSRF-Token header from GET /api/auth/session');
    }
    req.principal = { kind: 'session', session };
  });
}
