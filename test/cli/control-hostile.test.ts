/**
 * Hostile control-channel clients: garbage lines are each answered with an
 * error naming the problem; a client that sends requests but never reads its
 * answers is cut off once they pile up; another client is answered meanwhile.
 */
import t from 'tap';
import { connect } from 'node:net';
import { startTestGateway } from '../helpers/gateway.js';
import { ControlClient } from '../../src/cli/client.js';
import { waitFor } from '../helpers/wait-for.js';

t.test('garbage and never-reading clients on the control socket', async (t) => {
  const gw = await startTestGateway({ services: ['control'], logLevel: 'warn' });
  t.teardown(() => gw.stop());
  const path = gw.config.control.socket;

  // Garbage: one error per line, the connection stays usable.
  const g = connect(path);
  await new Promise((r) => g.once('connect', r));
  let answers = '';
  g.on('data', (d) => (answers += d.toString()));
  const garbage = ['{', '[]', '"x"', '{"method":1}', '{"method":"nope"}', '\u0000\u0001\u0002', '{"method":"readers","params":[]}'];
  g.write(garbage.join('\n') + '\n{"id":99,"method":"ping"}\n');
  await waitFor(() => answers.includes('"id":99'), 'the answer to the ping after the garbage lines');
  const lines = answers.trim().split('\n').map((l) => JSON.parse(l));
  t.equal(lines.length, garbage.length + 1, 'one answer per line');
  t.ok(lines.slice(0, garbage.length).every((l) => l.error && l.error.message.length > 0), 'each garbage line gets an error with a message');
  t.same(lines.at(-1).id, 99, 'and the connection still works');
  g.destroy();

  // Never reading: thousands of diagnostics requests, answers never read.
  const h = connect(path);
  await new Promise((r) => h.once('connect', r));
  h.pause();
  const closed = new Promise<void>((r) => h.once('close', () => r()));
  h.on('error', () => undefined);
  const req = '{"method":"diagnostics"}\n'.repeat(500);
  const other = await ControlClient.connect(path);
  t.teardown(() => other.close());
  let pings = 0;
  let cut = false;
  void closed.then(() => (cut = true));
  for (let i = 0; i < 400 && !cut; i++) {
    if (h.writable) h.write(req);
    if (i % 20 === 0) {
      await other.request('ping');
      pings++;
    }
    await new Promise((r) => setImmediate(r));
  }
  await Promise.race([closed, new Promise((_r, rej) => setTimeout(() => rej(new Error('the never-reading client was not cut off')), 30000))]);
  t.ok(pings > 0, `another client was answered during the attack (${pings} pings)`);
  // A ping answers with the daemon's clock: compare the shape, not two readings of a clock.
  const after = (await other.request('ping')) as { time?: unknown };
  t.match(after, { time: String }, 'and after it');
  t.ok(!Number.isNaN(Date.parse(String(after.time))), 'with a valid time');
  t.ok(gw.logs.lines.some((l) => /does not read its answers/.test(l.msg ?? '')), 'logged');
});
