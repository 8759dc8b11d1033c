/** What the HTTP routes need from the gateway; index.ts builds it from the ServiceContext, tests may build it directly. */
import type { Logger } from 'pino';
import type { ScardCore } from '../../core/api.js';
import type { Config } from '../../config/schema.js';
import type { EventJournal } from '../../events/types.js';
import type { LogRing } from '../../log/index.js';

export interface RestartReport {
  /** Parts restarted with the new configuration. */
  restarted: string[];
  /** Parts that take the change only when the daemon restarts. */
  pending: string[];
  /** Parts whose restart failed, with why. */
  failed?: Array<{ part: string; error: string }>;
}

export interface HttpDeps {
  core: ScardCore;
  /** The running configuration (validated). */
  config: Config;
  log: Logger;
  gatewayId: string;
  version: string;
  startedAt: Date;
  stateDir: string;
  /** Event history and live events; undefined while the events service is absent. */
  journal?: () => EventJournal | undefined;
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
