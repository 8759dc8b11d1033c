/**
 * Event-loop delay of the daemon (one record for the process, started on
 * first use): how long a ready callback waited for the loop. A gateway whose
 * loop lags answers everything late, so diagnostics show it (soak reports it).
 *
 * Node's fine monitor samples with a 10 ms timer: a hundred wake-ups a second,
 * which was nearly all of an idle gateway's CPU (about 1 % against 0.05 %
 * without it, README "Idle CPU"). So it runs only while the loop has work:
 * a once-a-second look turns it on when the loop ran callbacks for more than
 * 5 % of two seconds in a row (or 25 % of one), and off after five quiet
 * seconds. While it is off, the look's own lateness is recorded, so a long
 * block from idle still shows in `max`.
 */
import { createHistogram, monitorEventLoopDelay, performance, type EventLoopUtilization, type IntervalHistogram, type RecordableHistogram } from 'node:perf_hooks';

const LOOK_MS = 1000;
/**
 * Share of a second the loop spent running callbacks above which it has work: two such seconds in a row, or one
 * over HEAVY, turn the fine monitor on. An idle gateway has single seconds of 2-5 % here (a collection, a periodic
 * publish), now and then two in a row, that are not load.
 */
const BUSY = 0.05;
const HEAVY = 0.25;
/** Quiet looks in a row before the fine monitor stops. */
const QUIET_LOOKS = 5;

let fine: IntervalHistogram | undefined;
let coarse: RecordableHistogram | undefined;
let sampling = false;
let quiet = 0;
let busyBefore = false;
let elu: EventLoopUtilization;
let due = 0;

function look(): void {
  const now = performance.now();
  const late = Math.max(0, now - due);
  due = now + LOOK_MS;
  if (!sampling) coarse!.record(Math.max(1, Math.round(late * 1e6)));
  const e = performance.eventLoopUtilization();
  const busy = performance.eventLoopUtilization(e, elu).utilization;
  elu = e;
  const working = busy > HEAVY || (busy > BUSY && busyBefore);
  busyBefore = busy > BUSY;
  if (working || (sampling && busy > BUSY)) {
    quiet = 0;
    if (!sampling) fine!.enable();
    sampling = true;
  } else if (sampling && ++quiet >= QUIET_LOOKS) {
    fine!.disable();
    sampling = false;
  }
}

export function startLoopLag(): void {
  if (fine) return;
  fine = monitorEventLoopDelay({ resolution: 10 });
  coarse = createHistogram();
  elu = performance.eventLoopUtilization();
  due = performance.now() + LOOK_MS;
  setInterval(look, LOOK_MS).unref();
}

/** Milliseconds since start: p50, p99, max; `fineSampling`: the fine monitor runs now (the loop has work). */
export function loopLag(): { p50Ms: number; p99Ms: number; maxMs: number; fineSampling: boolean } {
  if (!fine || !coarse) return { p50Ms: 0, p99Ms: 0, maxMs: 0, fineSampling: false };
  const ms = (ns: number): number => Math.round(ns / 1e4) / 100;
  // Percentiles from the fine samples once there are any (the coarse ones are one a second); max from both.
  const from = fine.count > 0 ? fine : coarse;
  const max = Math.max(fine.count > 0 ? fine.max : 0, coarse.count > 0 ? coarse.max : 0);
  return { p50Ms: ms(from.count > 0 ? from.percentile(50) : 0), p99Ms: ms(from.count > 0 ? from.percentile(99) : 0), maxMs: ms(max), fineSampling: sampling };
}
