/**
 * Give memory back after a burst. V8 collects its old generation when
 * allocation pushes it to a limit; an idle daemon allocates almost nothing,
 * so the garbage of a burst (thousands of MQTT requests) would sit in the
 * heap, and in RSS, for hours. A frontend that has just finished a burst
 * asks for one full collection once things are quiet; V8 then shrinks the
 * heap. Rate-limited: at most one per `minGapMs`.
 *
 * watchHeap() does the same for every frontend without them asking (a pcsc
 * client's 100,000 calls, an HTTP poller): it looks every few seconds, and when
 * the process has gone quiet after work with a heap larger than its low-water
 * mark, collects once. The collection must come once allocation has stopped:
 * V8 shrinks its young generation (2 MB idle, 16 MB after load) only when the
 * allocation rate it measured since the last collection is low.
 */
import { existsSync, readFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { join } from 'node:path';
import { performance } from 'node:perf_hooks';
import { getHeapSpaceStatistics, getHeapStatistics, setFlagsFromString } from 'node:v8';
import { runInNewContext } from 'node:vm';
import { packageRoot } from '../config/package-root.js';

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

interface TrimAddon {
  /**
   * V8's memory-reducing collection: 0 incremental (MemoryPressureNotification, moderate), 1 one blocking
   * full collection (critical), 2 LowMemoryNotification (several).
   */
  v8(level: 0 | 1 | 2): boolean;
  /** glibc's malloc_trim(0); false elsewhere. */
  malloc(): boolean;
}
let addon: TrimAddon | null | undefined;
/** Time for V8's incremental collection and its freeing of ArrayBuffers, before the C heap is trimmed. */
const TRIM_SETTLE_MS = 2000;

/** The daemon's addon (src/daemon/native/memory_trim.cc), when the build made it. */
function trimAddon(): TrimAddon | null {
  if (addon !== undefined) return addon;
  addon = null;
  try {
    const file = join(packageRoot(), 'dist', 'native', 'memory_trim.node');
    if (existsSync(file)) {
      const a = createRequire(import.meta.url)(file) as Partial<TrimAddon>;
      if (typeof a.v8 === 'function' && typeof a.malloc === 'function') addon = a as TrimAddon;
    }
  } catch {
    // Not loadable here (another libc, another Node ABI): a plain full collection still runs.
  }
  return addon;
}

/**
 * V8's memory-reducing collection (else a plain full one), then the C heap's free pages back to the kernel.
 * The second step waits: the collection runs in steps on the event loop, and V8 frees the memory behind
 * dead ArrayBuffers (Node's socket reads, Buffers) from a background task after it.
 */
function collectAndTrim(level: 0 | 1 = 0): void {
  const a = trimAddon();
  if (a) a.v8(level);
  else collector()?.();
  lastAt = performance.now();
  if (a) setTimeout(() => a.malloc(), TRIM_SETTLE_MS).unref();
}

/** One full collection `afterMs` from now (restarted by each call: it runs once the burst is over). */
export function trimHeapSoon(afterMs = 5000, minGapMs = 60000): void {
  clearTimeout(timer);
  timer = setTimeout(() => {
    if (performance.now() - lastAt < minGapMs) return;
    collectAndTrim();
  }, afterMs);
  timer.unref();
}

export interface HeapWatchOptions {
  /** How often to look (ms). */
  everyMs?: number;
  /** Event-loop utilisation (0..1) over one look below which the process counts as quiet. */
  quiet?: number;
  /** Growth of V8's committed heap over its low-water mark that is worth a collection (bytes). */
  growth?: number;
}

export interface HeapWatch {
  /** Collections it ran. */
  readonly trims: number;
  /** Times it looked. */
  readonly looks: number;
  stop(): void;
}

let watch: HeapWatch | undefined;

const mb = (n: number): number => Math.round(n / 104857.6) / 10;

/**
 * Where the process's memory is, in MB: V8's heap (committed, in use, and its code), memory outside it
 * that V8 knows of (external: Buffers' ArrayBuffers among it), RSS split into anonymous pages (the heaps)
 * and file pages (mostly the node binary), and the collections the watch ran.
 */
export function memoryFigures(): Record<string, number> {
  const m = process.memoryUsage();
  const code = getHeapSpaceStatistics()
    .filter((s) => s.space_name.startsWith('code'))
    .reduce((n, s) => n + s.space_used_size, 0);
  const out: Record<string, number> = {
    rss: mb(m.rss),
    heapTotal: mb(m.heapTotal),
    heapUsed: mb(m.heapUsed),
    code: mb(code),
    external: mb(m.external),
    arrayBuffers: mb(m.arrayBuffers),
    trims: watch?.trims ?? 0,
  };
  try {
    for (const [, k, v] of readFileSync('/proc/self/status', 'utf8').matchAll(/^(RssAnon|RssFile):\s+(\d+) kB/gm)) out[k === 'RssAnon' ? 'rssAnon' : 'rssFile'] = Math.round(Number(v) / 102.4) / 10;
  } catch {
    // Not Linux.
  }
  return out;
}

/**
 * Collects once whenever the process goes quiet after work with its heap grown (one watch per
 * process; later calls return the first). Its timer never keeps the process alive.
 */
export function watchHeap(o: HeapWatchOptions = {}): HeapWatch {
  if (watch) return watch;
  const everyMs = o.everyMs ?? 5000;
  const quiet = o.quiet ?? 0.01;
  const growth = o.growth ?? 2 * 1048576;
  const committed = (): number => getHeapStatistics().total_physical_size;
  let low = committed();
  let elu = performance.eventLoopUtilization();
  /**
   * Work seen since the last collection: without it a heap that stays big is live data, not garbage.
   * Starting up was work (its garbage: parsed configuration, schemas, module loading).
   */
  let worked = true;
  let first = true;
  /** The look after an incremental collection checks it worked; if not, one blocking collection follows. */
  let check = false;
  let lowBefore = low;
  let trims = 0;
  let looks = 0;
  const collected = (): void => {
    trims++;
    // The collection is not work to collect after; what survives it is live: the new low-water mark,
    // once V8 has given its pages back.
    elu = performance.eventLoopUtilization();
    setTimeout(() => {
      low = committed();
      elu = performance.eventLoopUtilization();
    }, TRIM_SETTLE_MS + 500).unref();
  };
  const timer = setInterval(() => {
    looks++;
    const now = performance.eventLoopUtilization();
    const busy = performance.eventLoopUtilization(now, elu).utilization;
    elu = now;
    const size = committed();
    if (busy >= quiet) {
      worked = true;
      check = false;
      return;
    }
    if (check) {
      // The incremental collection can end early (V8 decides); when the heap is still grown, one
      // blocking collection (tens of ms, the process being quiet).
      check = false;
      if (size >= lowBefore + growth) {
        collectAndTrim(1);
        collected();
      }
      return;
    }
    if (size < low) low = size;
    if (!worked || (size < low + growth && !first)) return;
    worked = false;
    first = false;
    lowBefore = low;
    collectAndTrim(0);
    collected();
    check = true;
  }, everyMs);
  timer.unref();
  watch = {
    get trims() {
      return trims;
    },
    get looks() {
      return looks;
    },
    stop() {
      clearInterval(timer);
      watch = undefined;
    },
  };
  return watch;
}
