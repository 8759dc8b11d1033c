/**
 * Give memory back after a burst. V8 collects its old generation when
 * allocation pushes it to a limit; an idle daemon allocates almost nothing,
 * so the garbage of a burst (thousands of MQTT requests) would sit in the
 * heap, and in RSS, for hours. A frontend that has just finished a burst
 * asks for one full collection once things are quiet; V8 then shrinks the
 * heap. Rate-limited: at most one per `minGapMs`.
 */
import { setFlagsFromString } from 'node:v8';
import { runInNewContext } from 'node:vm';

let gcFn: (() => void) | null | undefined;
let lastAt = -Infinity;
let timer: NodeJS.Timeout | undefined;

function collector(): (() => void) | null {
  if (gcFn !== undefined) return gcFn;
  try {
    const existing = (globalThis as { gc?: () => void }).gc;
    if (existing) return (gcFn = existing);
    // The documented way to get at V8's gc() without starting node with --expose-gc.
    setFlagsFromString('--expose-gc');
    gcFn = runInNewContext('gc') as () => void;
  } catch {
    gcFn = null;
  }
  return gcFn;
}

/** One full collection `afterMs` from now (restarted by each call: it runs once the burst is over). */
export function trimHeapSoon(afterMs = 5000, minGapMs = 60000): void {
  clearTimeout(timer);
  timer = setTimeout(() => {
    if (performance.now() - lastAt < minGapMs) return;
    lastAt = performance.now();
    collector()?.();
  }, afterMs);
  timer.unref();
}
