/**
 * The scope each /api route needs from a token (sessions of the technician hold every scope). A route may
 * name its own (`config: { scope }`); otherwise the path decides, and a state-changing route that no rule
 * names needs admin: a new route is closed until someone says who may use it.
 */
import type { Scope } from './scopes.js';

declare module 'fastify' {
  interface FastifyContextConfig {
    /** The token scope this route needs (default: from requiredScope's path rules). */
    scope?: Scope;
  }
}

const ADMIN = [/^\/api\/config(\/|$)/, /^\/api\/tokens(\/|$)/, /^\/api\/auth\/password(\/|$)/, /^\/api\/restart(\/|$)/, /^\/api\/diagnostics$/, /^\/api\/logs$/];
const TRANSMIT = [
  /^\/api\/transmit$/,
  /^\/api\/sessions(\/|$)/,
  /^\/api\/readers\/[^/]+\/(control|feedback)$/,
  /^\/api\/readers\/[^/]+\/simulate(\/|$)/,
];
/** State-changing routes any authenticated caller may use. */
const ANYONE = [/^\/api\/auth\/logout$/];

/** `route` is the matched route pattern (e.g. /api/readers/:name/feedback), never the raw URL. */
export function requiredScope(method: string, route: string, own?: Scope): Scope {
  if (own) return own;
  if (ADMIN.some((r) => r.test(route))) return 'admin';
  if (TRANSMIT.some((r) => r.test(route))) return 'transmit';
  if (method === 'GET' || method === 'HEAD' || ANYONE.some((r) => r.test(route))) return 'read';
  return 'admin';
}
