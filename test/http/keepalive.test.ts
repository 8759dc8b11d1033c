/**
 * Many requests on one kept-alive connection (a door controller's client): nothing per request stays
 * attached to the socket. The body deadline once added a 'close' listener per request and never removed
 * it, so every request (its body included) stayed in memory until the connection closed; Node names that
 * with a MaxListenersExceededWarning at the eleventh.
 */
import t from 'tap';
import { Agent, request } from 'node:http';
import { startTestGateway, type TestGateway } from './harness.js';
import { createToken } from '../../src/api/http/auth/tokens.js';

let g: TestGateway;
t.before(async () => {
  g = await startTestGateway();
});
t.teardown(async () => g?.stop());

t.test('requests with a body on one kept-alive connection leave no listener behind', async (t) => {
  const { token } = await createToken(g.stateDir, 'keepalive', ['transmit']);
  const warnings: string[] = [];
  const onWarning = (w: Error): void => void warnings.push(`${w.name}: ${w.message}`);
  process.on('warning', onWarning);
  t.teardown(() => void process.off('warning', onWarning));
  const agent = new Agent({ keepAlive: true, maxSockets: 1 });
  t.teardown(() => agent.destroy());
  const sockets = new Set<unknown>();
  const u = new URL(g.url);
  const post = (): Promise<number> =>
    new Promise((resolve, reject) => {
      const body = JSON.stringify({ reader: 'no such reader', apdus: ['00A4040000'] });
      const req = request(
        { agent, host: u.hostname, port: u.port, path: '/api/transmit', method: 'POST', headers: { authorization: `Bearer ${token}`, 'content-type': 'application/json', 'content-length': Buffer.byteLength(body) } },
        (res) => {
          res.resume();
          res.on('end', () => resolve(res.statusCode ?? 0));
        },
      );
      req.on('socket', (s) => sockets.add(s));
      req.on('error', reject);
      req.end(body);
    });
  for (let i = 0; i < 30; i++) t.equal(await post(), 404, `request ${i + 1} answered (unknown reader)`);
  t.equal(sockets.size, 1, 'all on one connection');
  // Warnings go out on a later tick: one more round trip is past it.
  await post();
  t.same(warnings.filter((w) => /MaxListenersExceeded/.test(w)), [], 'no listener piled up on the socket');
});
