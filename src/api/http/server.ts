/**
 * The fastify application: hooks (auth, security headers), error shape,
 * compression, the built UI, and the route modules. Built without listening
 * so tests can use inject() or listen on port 0.
 */
import { existsSync, readFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import Fastify, { LogController, type FastifyInstance } from 'fastify';
import { AjvCompiler } from '@fastify/ajv-compiler';
import fastifyCookie from '@fastify/cookie';
import fastifyRateLimit from '@fastify/rate-limit';
import fastifyWebsocket from '@fastify/websocket';
import { SessionStore } from './auth/sessions.js';
import { TokenVerifier } from './auth/tokens.js';
import { PasswordStamp } from './auth/password-stamp.js';
import { registerAuth } from './auth/plugin.js';
import { frameworkErrorOptions, HostAllowList, registerHostCheck, securityHeaders } from './security.js';
import { toHttpError } from './errors.js';
import { authRoutes } from './routes/auth.js';
import { eventRoutes } from './routes/events.js';
import { operationRoutes } from './routes/operations.js';
import { systemRoutes } from './routes/system.js';
import { HttpError } from './errors.js';
import { accountRoutes } from './routes/account.js';
import { configFormRoutes } from './routes/config-form.js';
import { setupRoutes } from './routes/setup.js';
import type { HttpDeps } from './deps.js';
import { assetRoutes, listAssets } from './assets.js';
import { registerCompression } from './compress.js';

export interface HttpApp {
  app: FastifyInstance;
  sessions: SessionStore;
  https: boolean;
}

/** dist/web next to the package root, from src/api/http (tsx) or dist/src/api/http (built). */
export function defaultWebRoot(): string {
  let dir = dirname(fileURLToPath(import.meta.url));
  for (let i = 0; i < 6; i++) {
    if (existsSync(join(dir, 'package.json'))) return join(dir, 'dist', 'web');
    dir = dirname(dir);
  }
  return join(process.cwd(), 'dist', 'web');
}


/**
 * Fastify's own validator compiler (same Ajv and options), but each route's validator is compiled on the
 * route's first request rather than for every route before listen: that compiling was the largest part of
 * the HTTP start-up, on the daemon's path to ready. (No route has a headers schema, the one part fastify
 * treats differently under a custom compiler.)
 */
const buildValidator = AjvCompiler();
const lazyValidators: typeof buildValidator = (externalSchemas, options) => {
  // The Ajv instance too (about 5 ms with its formats) waits for the first request that validates.
  let compile: ReturnType<typeof buildValidator> | undefined;
  return (route) => {
    let validate: ReturnType<ReturnType<typeof buildValidator>> | undefined;
    const lazy = (data: unknown): unknown => {
      validate ??= (compile ??= buildValidator(externalSchemas, options))(route);
      const ok = validate(data);
      lazy.errors = validate.errors;
      return ok;
    };
    lazy.errors = undefined as unknown;
    return lazy as unknown as ReturnType<ReturnType<typeof buildValidator>>;
  };
};

export async function buildHttpApp(deps: HttpDeps): Promise<HttpApp> {
  const { http } = deps.config;
  const tls = http.tls.cert && http.tls.key ? { cert: readFileSync(http.tls.cert), key: readFileSync(http.tls.key) } : undefined;
  const app = Fastify({
    loggerInstance: deps.log,
    // Our own onResponse line at debug: a technician's polling must not flood journald at info.
    logController: new LogController({ disableRequestLogging: true }),
    bodyLimit: http.bodyLimitBytes,
    // Fastify's default (0) turns off Node's own request timeout (which covers the headers; the body: bodyDeadline below).
    requestTimeout: http.requestTimeoutMs,
    ...frameworkErrorOptions(tls !== undefined),
    ...(tls ? { https: tls } : {}),
    // validateSchema: false skips compiling Ajv's meta-schema at every start (a third of the HTTP start-up):
    // the route schemas are ours, built with TypeBox, and strict mode still refuses unknown keywords.
    ajv: { customOptions: { allErrors: false, coerceTypes: 'array', removeAdditional: false, validateSchema: false } },
    schemaController: { compilersFactory: { buildValidator: lazyValidators } },
  }) as unknown as FastifyInstance;
  bodyDeadline(app, http.requestTimeoutMs);

  // The API speaks JSON only: anything else is 415, not a string body that fails later.
  app.removeContentTypeParser('text/plain');

  const stamp = new PasswordStamp(deps.stateDir);
  const sessions = new SessionStore(http.sessionIdleMinutes * 60_000, { maxAgeMs: http.sessionMaxHours * 3_600_000, credential: () => stamp.current() });
  const tokens = new TokenVerifier(deps.stateDir);

  app.setErrorHandler((err, req, reply) => {
    const { status, body } = toHttpError(err);
    if (status >= 500 && status !== 501 && status !== 503) req.log.error({ err, url: req.url }, 'HTTP request failed');
    else req.log.debug({ status, msg: body.message, url: req.url }, 'HTTP request refused');
    reply.code(status).send(body);
  });
  app.setNotFoundHandler((req, reply) => {
    const { status, body } = toHttpError(new HttpError(404, `no route ${req.method} ${req.url.split('?')[0]}`));
    reply.code(status).send(body);
  });
  app.addHook('onSend', async (_req, reply, payload) => {
    reply.headers(securityHeaders(tls !== undefined));
    if (String(_req.url).startsWith('/api/')) reply.header('cache-control', 'no-store');
    return payload;
  });
  app.addHook('onResponse', async (req, reply) => {
    req.log.debug({ method: req.method, url: req.url.split('?')[0], status: reply.statusCode, ms: Math.round(reply.elapsedTime) }, 'http');
  });

  await app.register(fastifyCookie);
  await app.register(fastifyRateLimit, {
    global: false,
    // Thrown to the error handler: the one error body, with status 429.
    errorResponseBuilder: (_req, ctx) => new HttpError(429, `too many login attempts: try again in ${Math.ceil(ctx.ttl / 1000)} s`),
  });
  registerCompression(app);
  await app.register(fastifyWebsocket, { options: { maxPayload: 4096 } });
  registerHostCheck(app, new HostAllowList(http.allowedHosts, http.host));
  registerAuth(app, sessions, tokens, tls !== undefined);

  authRoutes(app, deps, sessions, tls !== undefined);
  operationRoutes(app, deps.api, sessions);
  eventRoutes(app, deps, sessions);
  systemRoutes(app, deps);
  accountRoutes(app, deps, sessions, stamp, tls !== undefined);
  configFormRoutes(app, deps);
  setupRoutes(app, deps);

  const webRoot = deps.webRoot ?? defaultWebRoot();
  const assets = existsSync(join(webRoot, 'index.html')) ? await listAssets(webRoot) : undefined;
  if (assets) {
    assetRoutes(app, assets);
  } else {
    app.get('/', { config: { public: true } }, async (_req, reply) => {
      reply.type('text/plain; charset=utf-8').code(503);
      return `The web UI is not built (${webRoot} missing): run "npm run build:web". The API under /api works.\n`;
    });
  }

  app.addHook('onClose', async () => {
    sessions.endAll();
  });
  return { app, sessions, https: tls !== undefined };
}

/**
 * Node stops timing a request once its headers are in: a client that trickles
 * its body (slow loris) would hold the socket, and a handler, forever. The
 * whole request must be in within `ms`, or the connection is closed.
 */
function bodyDeadline(app: FastifyInstance, ms: number): void {
  app.addHook('onRequest', (req, _reply, done) => {
    const raw = req.raw;
    if (!raw.complete) {
      const timer = setTimeout(() => {
        if (!raw.complete) {
          req.log.warn({ url: req.url, timeoutMs: ms }, 'request body not received in time (http.requestTimeoutMs); closing the connection');
          raw.socket.destroy();
        }
      }, ms);
      timer.unref();
      // Not cleared by the reply: a request answered early (401, 400) whose body still trickles in holds the socket just the same.
      // A kept-alive socket carries many requests: its listener goes with this request's end, or each request
      // would stay reachable (and in memory) from the socket until the connection closes.
      const socket = raw.socket;
      const clear = (): void => {
        clearTimeout(timer);
        raw.off('end', clear);
        socket.off('close', clear);
      };
      raw.once('end', clear);
      socket.once('close', clear);
    }
    done();
  });
}
