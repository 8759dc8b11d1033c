/**
 * The HTTP API and web UI as a daemon service (registered in src/daemon/registry.ts).
 */
import type { AddressInfo } from 'node:net';
import type { Service, ServiceContext, ServiceFactory } from '../../daemon/service.js';
import { LogRing } from '../../log/index.js';
import { buildHttpApp, type HttpApp } from './server.js';
import { ensurePassword } from './auth/password.js';
import type { HttpDeps } from './deps.js';

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
    const initialFile = await ensurePassword(this.deps.stateDir);
    if (initialFile) {
      this.deps.log.warn(
        { initialPasswordFile: initialFile },
        `first start: a web UI password was generated into ${initialFile} (readable by the service user only: sudo cat ${initialFile}); log in at ${this.url} and change it (web UI, or "scardctl passwd"), which deletes that file`,
      );
    }
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
