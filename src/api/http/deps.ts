/** What the HTTP routes need from the gateway; index.ts builds it from the ServiceContext, tests may build it directly. */
import type { Logger } from 'pino';
import type { Config } from '../../config/schema.js';
import type { GatewayApi } from '../../gateway/api.js';
import type { LogRing } from '../../log/index.js';

export interface RestartReport {
  restarted: string[];
  pending: string[];
  failed?: Array<{ part: string; error: string }>;
}

export interface HttpDeps {
  /** The gateway's operations (src/gateway): every route that is an operation goes through it. */
  api: GatewayApi;
  /** The configuration this service started with (validated). */
  config: Config;
  log: Logger;
  gatewayId: string;
  version: string;
  startedAt: Date;
  stateDir: string;
  logRing: LogRing;
  /** Diagnostics of every service (ServiceContext.diagnostics). */
  diagnostics: () => Record<string, unknown>;
  /** The YAML file the daemon loaded; undefined = running on the embedded default (editing refused). */
  configFile?: string;
  /** Restart the named parts (top-level sections, "drivers.<name>") with a new config. */
  applyConfig?: (parts: string[], config: Config) => Promise<RestartReport>;
  /** Restart the whole gateway in place (the daemon re-reads its file); undefined when not run by scardgated. */
  restart?: () => Promise<void>;
  /** Directory of the built web UI (dist/web). */
  webRoot?: string;
}
