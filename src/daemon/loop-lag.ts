/**
 * Event-loop delay of the daemon (one histogram for the process, started on
 * first use): how long a ready callback waited for the loop. A gateway whose
 * loop lags answers everything late, so diagnostics show it (soak reports it).
 */
import { monitorEventLoopDelay, type IntervalHistogram } from 'node:perf_hooks';

let h: IntervalHistogram | undefined;

export function startLoopLag(): void {
  if (h) return;
  h = monitorEventLoopDelay({ resolution: 10 });
  h.enable();
}

/** Milliseconds since start: p50, p99, max. */
export function loopLag(): { p50Ms: number; p99Ms: number; maxMs: number } {
  if (!h) return { p50Ms: 0, p99Ms: 0, maxMs: 0 };
  const ms = (ns: number): number => Math.round(ns / 1e4) / 100;
  return { p50Ms: ms(h.percentile(50)), p99Ms: ms(h.percentile(99)), maxMs: ms(h.max) };
}
