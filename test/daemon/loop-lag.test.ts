/**
 * The daemon's event-loop delay record (src/daemon/loop-lag.ts): the fine
 * 10 ms monitor runs only while the loop has work, and a long block from idle
 * still shows.
 */
import t from 'tap';
import { loopLag, startLoopLag } from '../../src/daemon/loop-lag.js';
import { waitFor } from '../helpers/wait-for.js';

function block(ms: number): void {
  const end = performance.now() + ms;
  while (performance.now() < end) {
    // the loop is held, as a synchronous job would hold it
  }
}

t.test('idle: no fine sampling; a block shows in max and turns it on; quiet again: off', async (t) => {
  startLoopLag();
  t.equal(loopLag().fineSampling, false, 'not sampling at start');
  // Longer than the once-a-second look: the look due inside it is late by most of it, and that second was busy.
  block(1500);
  await waitFor(() => loopLag().fineSampling, 'the fine monitor on after a busy second', 5000);
  t.ok(loopLag().maxMs >= 400, `the block is in max (${loopLag().maxMs} ms)`);
  await waitFor(() => !loopLag().fineSampling, 'the fine monitor off after quiet seconds', 15000);
  const l = loopLag();
  t.ok(l.p50Ms >= 0 && l.p99Ms >= l.p50Ms && l.maxMs >= l.p99Ms, `ordered figures ${JSON.stringify(l)}`);
});
