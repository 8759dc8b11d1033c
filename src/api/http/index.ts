/**
 * The HTTP API and web UI as a daemon service (registered in src/daemon/registry.ts).
 */
import type { AddressInfo } from 'node:net';
import type { Service, ServiceContext, ServiceFactory } from '../../daemon/service.js';
import { LogRing } from '../../log/index.js';
import { buildHttpApp, type HttpApp } from './server.js';
import { ensurePassword } from './auth/password.js';
import type { HttpDeps } from './deps.js';

/** Printed once, straight to stdout (journald), never through the log ring the logs view shows. */
export function announceInitialPassword(password: string, url: string, out: NodeJS.WritableStream = process.stdout): void {
  out.write(
    JSON.stringify({
      level: 'warn',
      time: new Date().toISOString(),
      module: 'http',
      initialPassword: password,
      msg: `*** INITIAL WEB UI PASSWORD: ${password} *** (shown once; log in at ${url} and change it with "scardctl passwd")`,
    }) + '\n',
  );
}

export function depsFromContext(ctx: ServiceContext): HttpDeps {
  return {
    api: ctx.api,
    config: ctx.config,
    log: ctx.log,
    gatewayId: ctx.gatewayId,
    version: ctx.version,
    startedAt: ctx.startedAt,
    stateDir: ctx.config.state.dir,
    logRing: ctx.logRing ?? new LogRing(ctx.config.http.logLines),
    diagnostics: () => ctx.diagnostics(),
    configFile: ctx.configFile,
    webRoot: ctx.config.http.webRoot || undefined,
    applyConfig: ctx.restartServices && (async (parts, config) => ctx.restartServices!(parts, config)),
    restart: ctx.requestRestart,
  };
}

export class HttpService implements Service {
  readonly name = 'http';
  private built?: HttpApp;
  private url?: string;
  constructor(
    ctx: ServiceContext,
    private readonly deps: HttpDeps = depsFromContext(ctx),
  ) {}

  async start(): Promise<void> {
    const { http } = this.deps.config;
    if (!http.enabled) {
      this.deps.log.info('HTTP API disabled (http.enabled: false)');
      return;
    }
    this.built = await buildHttpApp(this.deps);
    await this.built.app.listen({ host: http.host, port: http.port });
    const addr = this.built.app.server.address() as AddressInfo;
    const host = addr.family === 'IPv6' ? `[${addr.address}]` : addr.address;
    this.url = `${this.built.https ? 'https' : 'http'}://${host}:${addr.port}/`;
    this.deps.log.info({ url: this.url }, 'HTTP API and web UI listening');
    const initial = await ensurePassword(this.deps.stateDir);
    if (initial) announceInitialPassword(initial, this.url);
  }

  async stop(): Promise<void> {
    const b = this.built;
    this.built = undefined;
    if (b) await b.app.close();
  }

  /** Where it listens (after start), e.g. http://127.0.0.1:8080/ */
  addresses(): Record<string, string> {
    return this.url ? { http: this.url } : {};
  }

  diagnostics(): Record<string, unknown> {
    return {
      url: this.url ?? null,
      technicianSessions: this.built?.sessions.size ?? 0,
      cardSessions: this.deps.api.sessions.list().filter((s) => s.owner.startsWith('http:')).length,
    };
  }
}

export const createHttpService: ServiceFactory = (ctx) => new HttpService(ctx);
