/**
 * scardgated: load the configuration, start the gateway, say "ready" (log line
 * and systemd READY=1), then live until SIGTERM/SIGINT; SIGHUP reloads what
 * can change at run time.
 */
import type { LevelWithSilent } from 'pino';
import { ConfigError, loadConfigAsync, type LoadedConfig } from '../config/load-compiled.js';
import { LogRing, createLogger } from '../log/index.js';
import { DAEMON_USAGE, UsageError, parseDaemonArgs } from './args.js';
import { startGateway, type Gateway } from './gateway.js';
import { stopGateway } from './shutdown.js';
import { linkSystemd } from './systemd.js';
import { serialReloads } from './reload.js';
import { packageVersion } from './version.js';
import { watchHeap } from './heap-trim.js';

/** Upper bound for a clean stop; past it the process exits anyway (systemd's stop timeout is longer). */
export const STOP_BOUND_MS = 4500;

export interface MainIo {
  stdout: NodeJS.WritableStream;
  stderr: NodeJS.WritableStream;
  env: NodeJS.ProcessEnv;
}

const defaultIo = (): MainIo => ({ stdout: process.stdout, stderr: process.stderr, env: process.env });

/** Exit codes: 0 ok / clean stop, 1 configuration or start-up failure, 2 usage error. */
export async function main(argv: string[], io: MainIo = defaultIo()): Promise<number> {
  const t0 = performance.now();
  let args;
  try {
    args = parseDaemonArgs(argv);
  } catch (err) {
    if (!(err instanceof UsageError)) throw err;
    io.stderr.write(`scardgated: ${err.message}\n${DAEMON_USAGE}\n`);
    return 2;
  }
  if (args.mode === 'help') {
    io.stdout.write(`${DAEMON_USAGE}\n`);
    return 0;
  }
  if (args.mode === 'version') {
    io.stdout.write(`scardgated ${packageVersion()}\n`);
    return 0;
  }
  if (args.mode === 'check') {
    try {
      const loaded = await loadConfigAsync(args.config, { env: io.env });
      for (const w of loaded.warnings) io.stderr.write(`warning: ${w}\n`);
      io.stdout.write('ok\n');
      return 0;
    } catch (err) {
      if (!(err instanceof ConfigError)) throw err;
      io.stderr.write(`scardgated: ${err.message}\n`);
      return 1;
    }
  }

  let loaded: LoadedConfig;
  try {
    loaded = await loadConfigAsync(args.config, { env: io.env });
  } catch (err) {
    if (!(err instanceof ConfigError)) throw err;
    io.stderr.write(`scardgated: ${err.message}\n`);
    return 1;
  }
  return run(loaded, args.config, io, t0, performance.now() - t0);
}

async function run(loaded: LoadedConfig, configFile: string | undefined, io: MainIo, t0: number, configMs: number): Promise<number> {
  const { config, gatewayId } = loaded;
  const version = packageVersion();
  const ring = new LogRing(config.http.logLines);
  const log = createLogger({ level: config.log.level as LevelWithSilent, ring });
  const systemd = linkSystemd({ env: io.env, log });
  for (const w of loaded.warnings) log.warn({ config: loaded.source }, w);

  let gateway: Gateway | undefined;
  let starting: Promise<Gateway> | undefined;
  let stopping: Promise<number> | undefined;
  let resolveExit!: (code: number) => void;
  const exited = new Promise<number>((r) => (resolveExit = r));

  const shutdown = (reason: string, code = 0): Promise<number> => {
    if (stopping) return stopping;
    log.info({ reason }, 'stopping');
    systemd.stopping(reason);
    // Bounded per part, naming what hangs (shutdown.ts); the race below stays as the last resort.
    // A stop during start-up waits for the start (within the same bound), so nothing it opened is left behind.
    const since = performance.now();
    const stop = (gateway ? Promise.resolve(gateway) : (starting ?? Promise.resolve(undefined)).catch(() => undefined)).then((g) =>
      g ? stopGateway(g, { log, boundMs: Math.max(500, STOP_BOUND_MS - 250 - (performance.now() - since)) }).then(() => undefined) : undefined,
    );
    let timer: NodeJS.Timeout | undefined;
    const bound = new Promise<'timeout'>((r) => (timer = setTimeout(() => r('timeout'), STOP_BOUND_MS)));
    stopping = Promise.race([stop.then(() => 'done' as const), bound]).then((how) => {
      clearTimeout(timer);
      if (how === 'timeout') log.warn({ boundMs: STOP_BOUND_MS }, 'stop did not finish in time; exiting anyway');
      log.info({ code }, 'stopped');
      systemd.close();
      resolveExit(code);
      return code;
    });
    return stopping;
  };

  const onSignal = (sig: NodeJS.Signals): void => void shutdown(sig);
  process.on('SIGTERM', onSignal);
  process.on('SIGINT', onSignal);
  process.on(
    'SIGHUP',
    serialReloads(async () => {
      systemd.reloading();
      // The config store owns the running configuration: the same apply path as the web editor.
      if (gateway) await gateway.configStore.reload();
      systemd.reloaded();
    }, () => stopping !== undefined),
  );
  process.on('uncaughtException', (err) => {
    log.fatal({ err }, 'uncaught exception');
    void shutdown('uncaught exception', 1);
  });
  process.on('unhandledRejection', (reason) => {
    log.error({ err: reason instanceof Error ? reason : new Error(String(reason)) }, 'unhandled promise rejection');
  });

  /**
   * The web UI's restart: the file re-read and validated first (an invalid one is refused and the running
   * gateway kept), then every part stopped and started again in this process (same pid, so systemd's
   * watchdog and journald follow it). Log level and log ring are the process's and stay.
   */
  let restarting: Promise<void> | undefined;
  const requestRestart = (): Promise<void> =>
    (restarting ??= (async () => {
      if (stopping) return;
      let next: LoadedConfig;
      try {
        next = await loadConfigAsync(configFile, { env: io.env });
      } catch (err) {
        log.error({ err }, 'restart refused: the configuration does not load');
        return;
      }
      log.info({ config: next.source }, 'restarting');
      const old = gateway;
      gateway = undefined;
      if (old) await stopGateway(old, { log, boundMs: STOP_BOUND_MS - 250 });
      if (stopping) return;
      try {
        starting = startGateway({ config: next.config, gatewayId: next.gatewayId, log, version, logRing: ring, configFile, requestRestart });
        gateway = await starting;
        loaded = next;
        log.info({ readers: gateway.core.readers().length, listen: gateway.addresses() }, 'restarted');
      } catch (err) {
        log.fatal({ err }, 'restart failed');
        void shutdown('restart failed', 1);
      }
    })().finally(() => (restarting = undefined)));

  log.info({ version, gatewayId, config: loaded.source, pid: process.pid }, 'starting');
  try {
    starting = startGateway({ config, gatewayId, log, version, logRing: ring, configFile, env: io.env, requestRestart });
    gateway = await starting;
  } catch (err) {
    log.fatal({ err }, 'start-up failed');
    io.stderr.write(`scardgated: start-up failed: ${(err as Error).message}\n`);
    await shutdown('start-up failed', 1);
    return exited;
  }
  if (stopping) return exited;
  const readers = gateway.core.readers();
  const listen = gateway.addresses();
  log.info(
    {
      readers: readers.length,
      readerNames: readers.map((r) => r.name),
      listen,
      startupMs: Math.round(performance.now() - t0),
      // From process start: includes loading node and the daemon's modules.
      sinceProcessStartMs: Math.round(performance.now()),
      timings: { config: Math.round(configMs * 10) / 10, ...gateway.timings },
    },
    'ready',
  );
  systemd.ready(gateway);
  // Memory back once a load is over, whichever frontend it came through (src/daemon/heap-trim.ts).
  watchHeap();
  return exited;
}
