/**
 * The gateway's operations as HTTP routes: one table, each row a method, a
 * path and how the request's path, query and body become the operation's
 * parameters. Answers are the gateway's shapes; failures its error body.
 * Card sessions belong to the technician login or token that opened them.
 */
import { createHash } from 'node:crypto';
import type { FastifyInstance, FastifyRequest } from 'fastify';
import { OPERATIONS, type Operation, type Scope } from '../../../gateway/catalog.js';
import type { Caller } from '../../../gateway/types.js';
import type { GatewayApi } from '../../../gateway/api.js';
import type { SessionStore } from '../auth/sessions.js';

type Req = FastifyRequest<{ Params: Record<string, string>; Querystring: Record<string, string>; Body: unknown }>;

interface Row {
  method: 'GET' | 'POST' | 'PUT' | 'DELETE';
  url: string;
  op: Operation;
  /** Parameters from the request (default: the JSON body, path parameters added). */
  params?: (req: Req) => unknown;
  status?: number;
}

/** Path parameters named as the operation names them. */
const PATH_PARAM: Record<string, string> = { name: 'reader', id: 'session', token: 'name', item: 'name' };

/** Is `field` of `op`'s parameters an integer in the catalog's schema? */
const integerField = (op: Operation, field: string): boolean =>
  (OPERATIONS[op].params as { properties?: Record<string, { type?: string }> }).properties?.[field]?.type === 'integer';

/**
 * Query values are text; those the operation's schema declares integers go to the gateway as numbers when
 * they are whole numbers (anything else is passed on as text, for the schema to name).
 */
const queryParams = (op: Operation, q: Record<string, string>, rename: Record<string, string> = {}): Record<string, unknown> =>
  Object.fromEntries(
    Object.entries(q ?? {}).map(([k, v]) => {
      const key = rename[k] ?? k;
      return [key, integerField(op, key) && /^\d{1,15}$/.test(v) ? Number(v) : v];
    }),
  );

/** Path parameters under the operation's names. */
const pathParams = (req: Req): Record<string, unknown> => Object.fromEntries(Object.entries(req.params ?? {}).map(([k, v]) => [PATH_PARAM[k] ?? k, v]));

/** For routes without a body: the query and the path. */
const queryAndPath =
  (op: Operation) =>
  (req: Req): unknown => ({ ...queryParams(op, req.query), ...pathParams(req) });

export const HTTP_ROUTES: Row[] = [
  { method: 'GET', url: '/api/readers', op: 'readers', params: () => ({}) },
  { method: 'GET', url: '/api/readers/:name', op: 'reader/status' },
  { method: 'POST', url: '/api/readers/:name/control', op: 'control' },
  { method: 'POST', url: '/api/readers/:name/feedback', op: 'feedback' },
  { method: 'POST', url: '/api/readers/:name/simulate/insert', op: 'simulate/insert' },
  { method: 'POST', url: '/api/readers/:name/simulate/remove', op: 'simulate/remove' },
  { method: 'POST', url: '/api/readers/:name/simulate/pinpad', op: 'simulate/pinpad' },
  { method: 'POST', url: '/api/transmit', op: 'transmit' },
  { method: 'POST', url: '/api/sessions', op: 'session/open', status: 201 },
  { method: 'POST', url: '/api/sessions/:id/transmit', op: 'session/transmit' },
  { method: 'POST', url: '/api/sessions/:id/control', op: 'session/control' },
  { method: 'DELETE', url: '/api/sessions/:id', op: 'session/close', params: queryAndPath('session/close') },
  { method: 'GET', url: '/api/events', op: 'events', params: (r) => queryParams('events', r.query, { after: 'afterSeq' }) },
  { method: 'GET', url: '/api/info', op: 'info', params: () => ({}) },
  { method: 'GET', url: '/api/config', op: 'config/get', params: () => ({}) },
  { method: 'PUT', url: '/api/config', op: 'config/apply' },
  { method: 'POST', url: '/api/config/validate', op: 'config/validate' },
  // The Smart Card data cache: a card by its identifier, or the card now in a reader.
  { method: 'GET', url: '/api/readers/:name/cache', op: 'cache/card', params: queryAndPath('cache/card') },
  { method: 'GET', url: '/api/cache', op: 'cache/list', params: queryAndPath('cache/list') },
  { method: 'GET', url: '/api/cache/:cardId/:item', op: 'cache/read', params: queryAndPath('cache/read') },
  { method: 'PUT', url: '/api/cache/:cardId/:item', op: 'cache/write' },
  { method: 'DELETE', url: '/api/cache/:cardId/:item', op: 'cache/remove', params: queryAndPath('cache/remove') },
  { method: 'DELETE', url: '/api/cache/:cardId', op: 'cache/remove', params: queryAndPath('cache/remove') },
  { method: 'GET', url: '/api/readers/:name/cache/:item', op: 'cache/read', params: queryAndPath('cache/read') },
  { method: 'PUT', url: '/api/readers/:name/cache/:item', op: 'cache/write' },
  { method: 'DELETE', url: '/api/readers/:name/cache/:item', op: 'cache/remove', params: queryAndPath('cache/remove') },
  { method: 'DELETE', url: '/api/readers/:name/cache', op: 'cache/remove', params: queryAndPath('cache/remove') },
  // Tokens over HTTP: routes/account.ts (the web UI's account page), on the same token file.
];

function bodyParams(req: Req): unknown {
  const body = req.body ?? {};
  if (typeof body !== 'object' || Array.isArray(body)) return body;
  return { ...(body as Record<string, unknown>), ...pathParams(req) };
}

/** Card sessions are private to who opened them; the owner label never contains the cookie itself. */
export const sessionOwner = (loginId: string): string => `http:session:${createHash('sha256').update(loginId).digest('hex').slice(0, 16)}`;

export function callerOf(req: FastifyRequest): Caller {
  const p = req.principal!;
  if (p.kind === 'token') {
    // A token from before scopes keeps the full access it was created with.
    const scopes = (p.token as { scopes?: Scope[] }).scopes ?? ['admin'];
    return { owner: `http:token:${p.token.id}`, scopes, label: `token ${p.token.name}` };
  }
  return { owner: sessionOwner(p.session.id), scopes: ['admin'], label: 'web login' };
}

export function operationRoutes(app: FastifyInstance, api: GatewayApi, logins: SessionStore): void {
  for (const row of HTTP_ROUTES) {
    app.route({
      method: row.method,
      url: row.url,
      // The token scope is the operation's (the catalog's), not guessed from the path.
      config: { scope: OPERATIONS[row.op].scope },
      handler: async (req, reply) => {
        const answer = await api.call(row.op, (row.params ?? bodyParams)(req as Req), callerOf(req));
        if (row.status) reply.code(row.status);
        return answer;
      },
    });
  }

  // The newest `limit` events (the UI's first page).
  app.get('/api/events/recent', async (req) => {
    const q = queryParams('events', req.query as Record<string, string>);
    const limit = typeof q.limit === 'number' ? q.limit : 100;
    const last = api.events()?.lastSeq() ?? 0;
    return api.call('events', { afterSeq: Math.max(0, last - limit), limit }, callerOf(req));
  });

  // Logging out closes the card sessions that login opened (card reset).
  const onEnded = (id: string): void => {
    const owner = sessionOwner(id);
    for (const s of api.sessions.list(owner)) void api.sessions.close(owner, s.id).catch(() => undefined);
  };
  logins.on('ended', onEnded);
  app.addHook('onClose', async () => {
    logins.off('ended', onEnded);
  });
}
