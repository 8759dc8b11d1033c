/**
 * The daemon's side of Type=notify: READY=1 once readers are enumerated and
 * every frontend listens, a STATUS= line kept current, watchdog pings, and
 * RELOADING=1 ... READY=1 around a reload, STOPPING=1 on the way out.
 * Everything is a no-op when systemd did not start us.
 */
import type { Logger } from 'pino';
import type { Gateway } from './gateway.js';
import { createNotifier, type Notifier, type NotifierOptions } from './sd-notify.js';
import { statusLine } from './status-line.js';
import { startWatchdog, watchdogSettings, type Watchdog } from './watchdog.js';

/** How often STATUS= is recomputed besides reader and card events (MQTT and client counts change silently). */
const STATUS_REFRESH_MS = 5000;

export interface SystemdLink {
  readonly notifier: Notifier;
  /** Gateway up: READY=1 + STATUS=, then watchdog pings and status updates. */
  ready(gateway: Pick<Gateway, 'core' | 'services'>): void;
  reloading(): void;
  reloaded(): void;
  stopping(reason: string): void;
  /** Timers off (the process is about to exit). */
  close(): void;
}

export interface SystemdLinkOptions extends NotifierOptions {
  env: NodeJS.ProcessEnv;
  log: Logger;
}

/** CLOCK_MONOTONIC in µs, which systemd >= 253 wants next to RELOADING=1 (Type=notify-reload). */
function monotonicUsec(): string {
  return (process.hrtime.bigint() / 1000n).toString();
}

export function linkSystemd(opts: SystemdLinkOptions): SystemdLink {
  const { log } = opts;
  const notifier = createNotifier(opts.env, opts);
  if (notifier.fallbackReason) log.warn({ notifySocket: opts.env.NOTIFY_SOCKET }, notifier.fallbackReason);
  let failures = 0;
  const send = (fields: Record<string, string>): void => {
    if (!notifier.enabled) return;
    notifier.notify(fields).then(
      () => (failures = 0),
      // Once per streak: a watchdog ping every few seconds must not flood the journal.
      (err: Error) => {
        if (failures++ === 0) log.warn({ problem: err.message, fields: Object.keys(fields) }, 'systemd notification failed');
      },
    );
  };

  let gateway: Pick<Gateway, 'core' | 'services'> | undefined;
  let lastStatus = '';
  let watchdog: Watchdog | undefined;
  let refresh: NodeJS.Timeout | undefined;
  let detach: (() => void) | undefined;
  let state: 'starting' | 'ready' | 'reloading' | 'stopping' = 'starting';

  const currentStatus = (): string => {
    if (!gateway) return '';
    try {
      return statusLine(gateway);
    } catch (err) {
      return `status unavailable: ${(err as Error).message}`;
    }
  };
  const pushStatus = (): void => {
    if (state !== 'ready') return;
    const line = currentStatus();
    if (line === lastStatus) return;
    lastStatus = line;
    send({ STATUS: line });
  };

  const stopTimers = (): void => {
    watchdog?.stop();
    watchdog = undefined;
    clearInterval(refresh);
    refresh = undefined;
    detach?.();
    detach = undefined;
  };

  return {
    notifier,
    ready(gw) {
      if (state === 'stopping') return;
      gateway = gw;
      state = 'ready';
      lastStatus = currentStatus();
      const wd = watchdogSettings(opts.env);
      // The first ping rides with READY=1: the watchdog may have been armed since the process started.
      send({ READY: '1', STATUS: lastStatus, ...(wd ? { WATCHDOG: '1' } : {}) });
      if (!notifier.enabled) return;
      if (wd) {
        watchdog = startWatchdog({ ...wd, log, ping: () => send({ WATCHDOG: '1' }) });
        log.debug({ pingEveryMs: wd.pingEveryMs, lagBoundMs: wd.lagBoundMs }, 'systemd watchdog on');
      }
      const onChange = (): void => pushStatus();
      const events = ['reader-added', 'reader-removed', 'card-inserted', 'card-removed', 'reader-error'] as const;
      for (const e of events) gw.core.on(e, onChange);
      detach = () => {
        for (const e of events) gw.core.off(e, onChange);
      };
      refresh = setInterval(pushStatus, STATUS_REFRESH_MS);
      refresh.unref();
    },
    reloading() {
      if (state !== 'ready') return;
      state = 'reloading';
      send({ RELOADING: '1', MONOTONIC_USEC: monotonicUsec(), STATUS: 'reloading configuration' });
    },
    reloaded() {
      if (state !== 'reloading') return;
      state = 'ready';
      lastStatus = currentStatus();
      send({ READY: '1', STATUS: lastStatus });
    },
    stopping(reason) {
      if (state === 'stopping') return;
      state = 'stopping';
      stopTimers();
      send({ STOPPING: '1', STATUS: `stopping (${reason})` });
    },
    close() {
      stopTimers();
      notifier.close();
    },
  };
}
