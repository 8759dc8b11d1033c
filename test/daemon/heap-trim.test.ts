/**
 * The heap watch (src/daemon/heap-trim.ts): after a burst of work, once the process is quiet, it collects
 * once and V8's heap comes back down; without work in between it does not collect again. And the
 * memory figures the diagnostics show.
 */
import t from 'tap';
import { getHeapStatistics } from 'node:v8';
import { memoryFigures, watchHeap } from '../../src/daemon/heap-trim.js';
import { waitFor } from '../helpers/wait-for.js';

t.test('collects once after work, when quiet', async (t) => {
  // Quiet below 5 % of the loop busy, not the daemon's 1 %: this test's own 10 ms polling, slowed by a loaded machine,
  // can come near 1 % and make a quiet look count as work; the burst below is 100 % either way.
  const w = watchHeap({ everyMs: 300, growth: 1048576, quiet: 0.05 });
  t.teardown(() => w.stop());
  t.equal(watchHeap(), w, 'one watch per process');
  // The start counts as work: the first quiet look collects.
  await waitFor(() => w.trims >= 1, 'the first collection', 60000);
  const base = w.trims;

  // A burst: garbage that survives scavenges (kept for a while, then dropped) and keeps the loop busy.
  const before = getHeapStatistics().total_physical_size;
  const keep: unknown[] = [];
  let peak = before;
  const end = Date.now() + 1500;
  while (Date.now() < end) {
    for (let i = 0; i < 20000; i++) keep.push({ i, s: `item ${i}` });
    if (keep.length > 400000) keep.length = 0;
    peak = Math.max(peak, getHeapStatistics().total_physical_size);
  }
  keep.length = 0;
  t.ok(peak > before + 1048576, `the burst grew the heap (${before} -> ${peak} bytes)`);

  await waitFor(() => w.trims > base, 'a collection after the burst', 60000);
  await waitFor(() => getHeapStatistics().total_physical_size < peak - 1048576, 'the heap to shrink after the collection', 60000);
  // The look after a collection may follow it with a blocking one when the heap is still grown: past it.
  const settled = w.looks;
  await waitFor(() => w.looks >= settled + 2, 'two more looks', 60000);
  const after = w.trims;
  // Quiet, no work: the next looks leave the heap alone.
  const looked = w.looks;
  await waitFor(() => w.looks >= looked + 4, 'four more looks', 60000);
  t.equal(w.trims, after, 'no collection without work in between');
});

t.test('memory figures', async (t) => {
  const m = memoryFigures();
  for (const k of ['rss', 'heapTotal', 'heapUsed', 'code', 'external', 'arrayBuffers', 'rssAnon', 'rssFile']) t.type(m[k], 'number', k);
  t.ok(m.heapUsed <= m.heapTotal, 'heap used within the committed heap');
  t.ok(m.rssAnon + m.rssFile <= m.rss + 1, 'anonymous and file pages make up the RSS');
});
