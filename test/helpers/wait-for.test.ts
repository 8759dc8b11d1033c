import t from 'tap';
import { EventEmitter } from 'node:events';
import { waitFor, waitForEvent, WaitTimeout } from './wait-for.js';

t.test('resolves with the first truthy value of the condition', async (t) => {
  let n = 0;
  const v = await waitFor(() => (++n >= 3 ? { n } : undefined), 'third check', 2000, 1);
  t.same(v, { n: 3 });
});

t.test('async conditions and conditions that throw until they hold', async (t) => {
  let n = 0;
  const v = await waitFor(async () => {
    if (++n < 3) throw new Error('not yet');
    return 'ok';
  }, 'async check', 2000, 1);
  t.equal(v, 'ok');
});

t.test('times out naming what it waited for and the last error', async (t) => {
  await t.rejects(waitFor(() => false, 'the moon', 30, 5), { name: 'WaitTimeout', message: /timed out after 30 ms waiting for the moon$/ });
  await t.rejects(
    waitFor(() => {
      throw new Error('socket closed');
    }, 'a socket', 30, 5),
    { message: /waiting for a socket \(last check threw: socket closed\)/ },
  );
});

t.test('waitForEvent resolves on a matching event and rejects naming the event otherwise', async (t) => {
  const e = new EventEmitter();
  const p = waitForEvent<number>(e, 'x', 'x = 2', 2000, (v: number) => v === 2);
  e.emit('x', 1);
  e.emit('x', 2);
  t.equal(await p, 2);
  t.equal(e.listenerCount('x'), 0, 'listener removed');
  const err = await waitForEvent(e, 'y', 'event y', 20).catch((x: unknown) => x);
  t.ok(err instanceof WaitTimeout);
  t.match((err as Error).message, /waiting for event y/);
  t.equal(e.listenerCount('y'), 0, 'listener removed after timeout');
});
