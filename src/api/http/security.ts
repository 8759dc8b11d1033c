/**
 * The HTTP security policy every response follows, whoever produced it:
 * - the same security headers on every response, including those fastify itself produces (a 400 for a
 *   malformed URL, an unparsable request) before any route or hook runs;
 * - a Host allow-list against DNS rebinding (a page on evil.example whose name resolves to the gateway
 *   would otherwise reach the login with the browser's same-origin blessing): the names in
 *   http.allowedHosts, the board's own addresses and host name, and localhost / 127.0.0.1 / [::1];
 * - the Origin of a browser request compared as scheme://host:port with this server's.
 */
import { hostname, networkInterfaces } from 'node:os';
import type { Socket } from 'node:net';
import type { FastifyInstance, FastifyReply, FastifyRequest, FastifyServerOptions } from 'fastify';

export const SECURITY_HEADERS: Record<string, string> = {
  'content-security-policy':
    "default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self' data:; connect-src 'self'; frame-ancestors 'none'; base-uri 'none'; form-action 'self'",
  'x-content-type-options': 'nosniff',
  'referrer-policy': 'no-referrer',
  'x-frame-options': 'DENY',
};

export function securityHeaders(tls: boolean): Record<string, string> {
  return tls ? { ...SECURITY_HEADERS, 'strict-transport-security': 'max-age=31536000' } : SECURITY_HEADERS;
}

/**
 * Fastify options for the responses it makes on its own: `frameworkErrors` (bad URL encoding) and
 * `clientErrorHandler` (a request the HTTP parser refuses), with the security headers and the API's error body.
 */
export function frameworkErrorOptions(tls: boolean): Pick<FastifyServerOptions, 'frameworkErrors' | 'clientErrorHandler'> {
  const headers = securityHeaders(tls);
  return {
    frameworkErrors: (err: Error, _req: FastifyRequest, reply: FastifyReply) => {
      reply.headers(headers).code(400).send({ statusCode: 400, error: 'Bad Request', message: err.message });
    },
    clientErrorHandler: (err: Error & { code?: string }, socket: Socket) => {
      if (!socket.writable) return socket.destroy();
      const status = err.code === 'HPE_HEADER_OVERFLOW' ? 431 : err.code === 'ERR_HTTP_REQUEST_TIMEOUT' ? 408 : 400;
      const reason = status === 431 ? 'Request Header Fields Too Large' : status === 408 ? 'Request Timeout' : 'Bad Request';
      const body = JSON.stringify({ statusCode: status, error: reason, message: `malformed HTTP request (${err.code ?? err.message})` });
      const head = [`HTTP/1.1 ${status} ${reason}`, 'content-type: application/json; charset=utf-8', `content-length: ${Buffer.byteLength(body)}`, 'connection: close'];
      for (const [k, v] of Object.entries(headers)) head.push(`${k}: ${v}`);
      socket.end(head.join('\r\n') + '\r\n\r\n' + body);
    },
  };
}

/** The host part of a Host header value, lower case, IPv6 in brackets; undefined when it does not parse. */
export function hostOf(header: string | undefined): string | undefined {
  if (!header) return undefined;
  try {
    const u = new URL(`http://${header}`);
    if (u.username || u.password || u.pathname !== '/' || u.search || u.hash) return undefined;
    return u.hostname.toLowerCase().replace(/\.$/, '');
  } catch {
    return undefined;
  }
}

const LOCAL = ['localhost', '127.0.0.1', '[::1]'];

/** The board's own names: host name (and .local for mDNS), every interface address. */
function boardNames(): string[] {
  const names = [hostname().toLowerCase(), `${hostname().toLowerCase()}.local`];
  for (const list of Object.values(networkInterfaces())) {
    for (const a of list ?? []) {
      if (a.family === 'IPv4') names.push(a.address);
      else if (!a.address.includes('%')) names.push(`[${a.address.toLowerCase()}]`);
    }
  }
  return names;
}

export class HostAllowList {
  private cached: Set<string> = new Set();
  private at = -Infinity;
  constructor(
    private readonly configured: readonly string[],
    private readonly bindHost: string,
    private readonly now: () => number = Date.now,
  ) {}

  /** Addresses change (DHCP, a new interface): re-read them at most every 10 s. */
  private names(): Set<string> {
    if (this.now() - this.at > 10_000) {
      const extra = [...this.configured, this.bindHost].map((h) => hostOf(h)).filter((h): h is string => h !== undefined);
      this.cached = new Set([...LOCAL, ...boardNames(), ...extra]);
      this.at = this.now();
    }
    return this.cached;
  }

  allows(header: string | undefined): boolean {
    const h = hostOf(header);
    return h !== undefined && this.names().has(h);
  }
}

/** Refuse any request whose Host is not one of this gateway's names (before authentication, static files included). */
export function registerHostCheck(app: FastifyInstance, allow: HostAllowList): void {
  app.addHook('onRequest', async (req, reply) => {
    if (allow.allows(req.headers.host)) return;
    return reply.code(421).send({
      statusCode: 421,
      error: 'Misdirected Request',
      message: `Host ${JSON.stringify(req.headers.host ?? '')} is not a name of this gateway (add it to http.allowedHosts)`,
    });
  });
}

/** Is `origin` exactly this server (scheme://host:port), as reached through the request's Host? */
export function sameOrigin(origin: string, host: string | undefined, tls: boolean): boolean {
  if (!host) return false;
  try {
    return new URL(origin).origin === new URL(`${tls ? 'https' : 'http'}://${host}`).origin;
  } catch {
    return false;
  }
}
