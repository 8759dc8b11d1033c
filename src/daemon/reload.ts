/**
 * SIGHUP (`systemctl reload scardgate`): re-read and validate the file, then
 * apply what can change in a running daemon. The log level applies at once;
 * a changed section of a running frontend that can restart by itself (mqtt,
 * pcsc, control) restarts that frontend alone with the new section, so a new
 * broker URL does not drop the PC/SC clients; everything else (drivers, core,
 * state, events, http, a frontend switched on or off) is named as needing a
 * restart of the daemon. An invalid file is refused whole and the running
 * configuration kept. Reloads run one at a time, between RELOADING=1 and
 * READY=1.
 */
import type { Logger } from 'pino';
import { ConfigError, loadConfig, type LoadedConfig } from '../config/load.js';
import type { Gateway } from './gateway.js';

/** Sections that are one frontend each and can be restarted alone (the web UI cannot restart itself mid-request). */
const RESTARTABLE = new Set(['mqtt', 'pcsc', 'control']);

export interface ReloadOptions {
  log: Logger;
  /** The file the daemon runs on (undefined: the embedded default, re-read too). */
  file: string | undefined;
  env: NodeJS.ProcessEnv;
  /** The running configuration; updated in place with what was applied. */
  current: LoadedConfig;
  gateway(): Pick<Gateway, 'services' | 'context'> | undefined;
}

export interface ReloadReport {
  ok: boolean;
  applied: string[];
  restarted: string[];
  restartNeeded: string[];
  failed: Array<{ part: string; error: string }>;
}

const same = (a: unknown, b: unknown): boolean => JSON.stringify(a) === JSON.stringify(b);

export async function reloadConfig(opts: ReloadOptions): Promise<ReloadReport> {
  const { log, current } = opts;
  const report: ReloadReport = { ok: false, applied: [], restarted: [], restartNeeded: [], failed: [] };
  let next: LoadedConfig;
  try {
    next = loadConfig(opts.file, { env: opts.env });
  } catch (err) {
    log.error({ problems: err instanceof ConfigError ? err.problems : [(err as Error).message] }, 'reload refused: configuration invalid; keeping the running one');
    return report;
  }
  report.ok = true;
  const cur = current.config as Record<string, unknown>;
  const nxt = next.config as Record<string, unknown>;

  if (next.config.log.level !== current.config.log.level) {
    log.level = next.config.log.level;
    current.config.log.level = next.config.log.level;
    report.applied.push('log.level');
  }

  const changed = Object.keys(nxt).filter((k) => k !== 'log' && !same(nxt[k], cur[k]));
  const gateway = opts.gateway();
  const running = new Set(gateway?.services.map((s) => s.name) ?? []);
  const restartable = changed.filter((k) => RESTARTABLE.has(k) && running.has(k) && (nxt[k] as { enabled?: boolean }).enabled !== false);
  report.restartNeeded = changed.filter((k) => !restartable.includes(k));

  if (restartable.length && gateway?.context.restartServices) {
    // Each frontend gets the whole new configuration, of which only its own section changed (the rest is as running).
    const merged = structuredClone(current.config) as Record<string, unknown>;
    for (const k of restartable) merged[k] = nxt[k];
    const r = await gateway.context.restartServices(restartable, merged as LoadedConfig['config']);
    for (const k of r.restarted) cur[k] = nxt[k];
    report.restarted = r.restarted;
    report.restartNeeded.push(...r.pending);
    report.failed = r.failed;
  } else {
    report.restartNeeded.push(...restartable);
  }

  const { applied, restarted, restartNeeded, failed } = report;
  if (failed.length) log.error({ failed }, 'reload: a frontend did not restart with the new configuration');
  log.info({ applied, restarted, restartNeeded }, 'configuration reloaded');
  return report;
}

/** SIGHUP handler: one reload at a time (a second signal during a reload runs once after it), none once stopping. */
export function serialReloads(run: () => Promise<void>, stopping: () => boolean): () => void {
  let busy: Promise<void> | undefined;
  let again = false;
  const loop = async (): Promise<void> => {
    do {
      again = false;
      if (stopping()) return;
      await run();
    } while (again);
  };
  return () => {
    if (busy) {
      again = true;
      return;
    }
    busy = loop().finally(() => (busy = undefined));
  };
}
