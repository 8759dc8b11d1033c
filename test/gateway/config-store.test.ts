/**
 * The config store through the web editor: changes applied against the
 * running configuration (an unchanged file restarts nothing), a masked
 * secret never follows a changed endpoint, environment variables that
 * shadow a file value are named; cross-field checks and one clear error for
 * a bad card model at start-up.
 */
import t from 'tap';
import { createServer, type Socket } from 'node:net';
import { readFile } from 'node:fs/promises';
import { startTestGateway, Client } from '../http/harness.js';
import { startMosquitto } from '../mqtt/mosquitto.js';
import { ConfigError, resolveConfig } from '../../src/config/load.js';

const problemsOf = (content: unknown): string[] => {
  try {
    resolveConfig(content, 'test', { env: {} });
    return [];
  } catch (e) {
    if (e instanceof ConfigError) return e.problems;
    throw e;
  }
};

t.test('cross-field checks and card models', async (t) => {
  t.same(problemsOf({ mqtt: { password: 'x' } }), ['mqtt.password: set without mqtt.username (expected mqtt.username too: a broker takes a password only with a user name)']);
  t.same(problemsOf({ mqtt: { username: 'u', password: 'x' } }), []);
  t.same(problemsOf({ http: { tls: { key: '/k.pem' } } }), ['http.tls.key: set without http.tls.cert (expected both, or neither)']);
  t.same(problemsOf({ http: { tls: { cert: '/c.pem' } } }), ['http.tls.cert: set without http.tls.key (expected both, or neither)']);
  t.same(problemsOf({ mqtt: { cert: '/c.pem' } }), ['mqtt.cert: set without mqtt.key (expected both, or neither)']);
  const card = problemsOf({ drivers: { sim: { readers: [{ name: 'X', card: 'nosuchcard' }] } } });
  t.equal(card.length, 1, 'one problem for one bad card model');
  t.match(card[0], /^drivers\.sim\.readers\[0\]\.card: "nosuchcard" is not one of the valid names: iso7816, iso7816-t0, .*mifare-classic-1k/);
});

t.test('web editor: applied against the running configuration; secrets stay with their endpoint', async (t) => {
  const m = await startMosquitto();
  t.teardown(() => m.close());
  const g = await startTestGateway({
    services: ['mqtt'],
    config: { mqtt: { enabled: true, url: m.url, username: 'gw', password: 'broker-secret-1' }, log: { level: 'debug' } },
    env: { SCARDGATE_LOG_LEVEL: 'info' },
  });
  t.teardown(() => g.stop());
  const c = new Client(g.url);
  await c.login();
  const v = await c.req('GET', '/api/config');
  t.match(v.json.yaml, /password: "?\*{8}"?/, 'the password is masked');
  t.notMatch(v.text, /broker-secret-1/);

  // One change restarts MQTT; saving the same file again restarts nothing.
  const edited = v.json.yaml.replace(/keepaliveS: \d+|mqtt:\n/, (s: string) => (s.startsWith('mqtt') ? 'mqtt:\n  keepaliveS: 33\n' : 'keepaliveS: 33'));
  const first = await c.req('PUT', '/api/config', { yaml: edited });
  t.equal(first.status, 200, first.text);
  t.same(first.json.changed, ['mqtt']);
  t.same(first.json.restarted, ['mqtt'], 'the changed section restarted');
  const again = await c.req('PUT', '/api/config', { yaml: (await c.req('GET', '/api/config')).json.yaml });
  t.same([again.json.changed, again.json.restarted], [[], []], 'an unchanged file restarts nothing');
  t.same(again.json.shadowed, [{ key: 'log.level', env: 'SCARDGATE_LOG_LEVEL' }], 'the environment variable shadowing log.level is named');

  // A masked password with a new broker URL is refused: the real one is not sent to a server the editor chose.
  const connects: Socket[] = [];
  const trap = createServer((s) => connects.push(s));
  await new Promise<void>((r) => trap.listen(0, '127.0.0.1', r));
  t.teardown(() => {
    for (const s of connects) s.destroy();
    trap.close();
  });
  const trapUrl = `mqtt://127.0.0.1:${(trap.address() as { port: number }).port}`;
  const before = await readFile(g.configFile, 'utf8');
  const masked = (await c.req('GET', '/api/config')).json.yaml as string;
  const moved = masked.replace(/url: .*/, `url: ${trapUrl}`);
  const refused = await c.req('PUT', '/api/config', { yaml: moved });
  t.equal(refused.status, 400);
  t.match(refused.json, { name: 'SCARD_E_INVALID_PARAMETER', message: /mqtt\.password: mqtt\.url changed, so the masked value is not sent there: type the secret again/ });
  t.equal(await readFile(g.configFile, 'utf8'), before, 'nothing written');
  // The refusal is final: the running MQTT frontend still talks to the first broker, and the trap saw nobody.
  t.equal((await c.req('GET', '/api/status')).json.mqtt.url.startsWith(m.url.replace(/\/$/, '')), true);
  t.equal(connects.length, 0, 'no connection to the new URL');

  // Typed again, the secret goes where the editor says (the trap sees the connection: the check above could fail).
  const typed = moved.replace(/password: "?\*{8}"?/, 'password: typed-again');
  const ok = await c.req('PUT', '/api/config', { yaml: typed });
  t.equal(ok.status, 200, ok.text);
  t.same(ok.json.restarted, ['mqtt']);
  await new Promise<void>((resolve) => (connects.length ? resolve() : trap.once('connection', () => resolve())));
  t.equal(connects.length >= 1, true, 'with the secret typed again the gateway connects to the new URL');
  const logs = await c.req('GET', '/api/logs?limit=2000');
  t.notOk(logs.json.lines.some((l: string) => /broker-secret-1|typed-again/.test(l)), 'secrets not logged');
});
