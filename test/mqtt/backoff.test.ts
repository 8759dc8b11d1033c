/** Reconnect back-off: exponential ceiling, full jitter, never 0, reset on connect. */
import t from 'tap';
import { Backoff } from '../../src/api/mqtt/backoff.js';
import { rng } from '../helpers/prng.js';

t.test('the ceiling doubles up to the maximum; the delay is spread below it', async (t) => {
  const top = new Backoff(1000, 30000, () => 0.999999);
  t.same(
    Array.from({ length: 7 }, () => top.next()),
    [1000, 2000, 4000, 8000, 16000, 30000, 30000],
  );
  const bottom = new Backoff(1000, 30000, () => 0);
  t.equal(bottom.next(), 100, 'never 0 (mqtt.js would not reconnect at all)');
  bottom.next();
  bottom.reset();
  const mid = new Backoff(1000, 30000, () => 0.5);
  t.equal(mid.next(), 500);
});

t.test('200 gateways dropped at once do not come back in the same second', async (t) => {
  // Each gateway's first retry after a broker restart, with the default reconnectMinMs of 1 s and a broker down for 5 s.
  const perSecond = new Map<number, number>();
  const random = rng(16);
  for (let g = 0; g < 200; g++) {
    const b = new Backoff(1000, 30000, random);
    let at = 0;
    do at += b.next();
    while (at < 5000);
    const s = Math.floor(at / 1000);
    perSecond.set(s, (perSecond.get(s) ?? 0) + 1);
  }
  const peak = Math.max(...perSecond.values());
  t.ok(perSecond.size >= 4, `reconnects spread over ${perSecond.size} seconds`);
  t.ok(peak <= 60, `at most ${peak} of 200 in one second`);
});
