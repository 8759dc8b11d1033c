/**
 * systemd's service watchdog (WatchdogSec=): WATCHDOG=1 every half of
 * $WATCHDOG_USEC while the event loop is healthy. A sampler measures how late
 * its own timer fires (event-loop lag); when the worst lag since the last ping
 * is beyond a bound the ping is withheld, so a daemon whose loop is wedged or
 * starved is restarted by systemd rather than kept alive by a timer that still
 * fires now and then. A loop that is blocked outright sends nothing at all.
 */
import type { Logger } from 'pino';

export interface WatchdogSettings {
  /** WATCHDOG=1 period: half of WATCHDOG_USEC, as sd_watchdog_enabled(3) advises. */
  pingEveryMs: number;
  /** Worst event-loop lag tolerated between two pings. */
  lagBoundMs: number;
}

/**
 * The watchdog systemd asks for, or undefined: WATCHDOG_USEC unset or not a
 * positive integer, or WATCHDOG_PID naming another process (the variables
 * were inherited, they are not for us).
 */
export function watchdogSettings(env: NodeJS.ProcessEnv, pid = process.pid): WatchdogSettings | undefined {
  const usecText = env.WATCHDOG_USEC;
  if (!usecText || !/^\d+$/.test(usecText)) return undefined;
  const usec = Number(usecText);
  if (!Number.isSafeInteger(usec) || usec <= 0) return undefined;
  const forPid = env.WATCHDOG_PID;
  if (forPid !== undefined && forPid !== '' && forPid !== String(pid)) return undefined;
  const timeoutMs = usec / 1000;
  // A quarter of the timeout: two consecutive stalls that long leave systemd without a ping for a full period.
  return { pingEveryMs: Math.max(1, Math.floor(timeoutMs / 2)), lagBoundMs: Math.max(1, Math.floor(timeoutMs / 4)) };
}

export interface WatchdogOptions extends WatchdogSettings {
  /** Sends WATCHDOG=1 (and whatever else rides along). */
  ping(): void;
  log: Logger;
}

export interface Watchdog {
  stop(): void;
  stats(): { pings: number; withheld: number; worstLagMs: number };
}

export function startWatchdog(opts: WatchdogOptions): Watchdog {
  const sampleEveryMs = Math.min(1000, Math.max(10, Math.floor(opts.pingEveryMs / 4)));
  let last = performance.now();
  let worstSincePing = 0;
  let worstEver = 0;
  let pings = 0;
  let withheld = 0;

  const sample = (): number => {
    const now = performance.now();
    const lag = Math.max(0, now - last - sampleEveryMs);
    last = now;
    if (lag > worstSincePing) worstSincePing = lag;
    if (lag > worstEver) worstEver = lag;
    return lag;
  };

  const sampler = setInterval(sample, sampleEveryMs);
  sampler.unref();
  const pinger = setInterval(() => {
    // The sampler may not have run since the stall ended; look at the clock now as well.
    const lag = Math.max(worstSincePing, performance.now() - last - sampleEveryMs);
    worstSincePing = 0;
    if (lag > opts.lagBoundMs) {
      withheld++;
      opts.log.warn({ lagMs: Math.round(lag), boundMs: opts.lagBoundMs }, 'event loop stalled; watchdog ping withheld');
      return;
    }
    pings++;
    opts.ping();
  }, opts.pingEveryMs);
  pinger.unref();

  return {
    stop() {
      clearInterval(sampler);
      clearInterval(pinger);
    },
    stats: () => ({ pings, withheld, worstLagMs: Math.round(worstEver) }),
  };
}
