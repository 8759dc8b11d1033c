/**
 * How the gateway reaches a broker: mqtts with a client certificate from a
 * test CA, ws and wss, user name + password under an ACL (the password never
 * in a log line), persistent sessions, and the built-in broker of the default
 * run seen by Debian's mosquitto_sub.
 */
import t from 'tap';
import { spawn } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { mqttPasswordPath } from '../../src/api/mqtt/broker-auth.js';
import { startTestGateway, type TestGateway } from '../helpers/gateway.js';
import { startMosquitto } from './mosquitto.js';
import { Observer, request } from './client.js';
import { freePort } from './mosquitto.js';

const ROOT = 'scardgate/test-gw';

const gatewayWith = (mqtt: Record<string, unknown>): Promise<TestGateway> =>
  startTestGateway({ services: ['mqtt'], logLevel: 'debug', config: { mqtt: { reconnectMinMs: 200, reconnectMaxMs: 1000, ...mqtt } } });

t.test('mqtts with a client certificate, ws and wss', async (t) => {
  const m = await startMosquitto({ tls: true, ws: true });
  t.teardown(() => m.close());
  const o = await Observer.connect(m.url, [`${ROOT}/availability`, `${ROOT}/info`]);
  t.teardown(() => o.close());
  const pki = m.pki!;
  for (const [label, mqtt] of [
    ['mqtts + client certificate', { url: m.tlsUrl, ca: pki.ca, cert: pki.clientCert, key: pki.clientKey }],
    ['ws', { url: m.wsUrl }],
    ['wss', { url: m.wssUrl, ca: pki.ca }],
  ] as const) {
    const mark = o.messages.length;
    const gw = await gatewayWith(mqtt);
    const info = await o.waitFor((x) => o.messages.indexOf(x) >= mark && x.topic === `${ROOT}/info`, 15000, `info over ${label}`);
    t.equal(info.json().broker.connected, true, `${label}: connected and publishing`);
    await gw.stop();
    await o.waitFor((x) => o.messages.indexOf(x) >= mark && x.topic === `${ROOT}/availability` && x.text === 'offline', 10000, 'offline');
  }
  // Without the client certificate the TLS listener refuses us; the gateway keeps trying and says why.
  const gw = await gatewayWith({ url: m.tlsUrl, ca: pki.ca });
  t.teardown(() => gw.stop());
  await gw.logs.waitFor((l) => l.module === 'mqtt' && l.msg === 'MQTT connection error', 15000, 'connection error logged');
  const svc = gw.gateway.services.find((s) => s.name === 'mqtt')!;
  t.equal(svc.diagnostics!().connected, false);
});

t.test('user name + password under an ACL; the password is never logged', async (t) => {
  const password = 'S3cret-pw-for-test';
  const m = await startMosquitto({
    users: { gateway: password, controller: 'ctl-pw' },
    acl: ['user gateway', 'topic readwrite scardgate/#', '', 'user controller', 'topic read scardgate/test-gw/#', 'topic write scardgate/test-gw/request/#', ''].join('\n'),
  });
  t.teardown(() => m.close());
  const o = await Observer.connect(m.authUrl!, [`${ROOT}/#`], { username: 'controller', password: 'ctl-pw' });
  t.teardown(() => o.close());
  const bad = await gatewayWith({ url: m.authUrl, username: 'gateway', password: 'wrong-password-xyz' });
  await bad.logs.waitFor((l) => l.module === 'mqtt' && l.msg === 'MQTT connection error', 15000, 'refused');
  t.notMatch(JSON.stringify(bad.logs.lines), /wrong-password-xyz/, 'a wrong password is not logged either');
  await bad.stop();
  const gw = await gatewayWith({ url: m.authUrl, username: 'gateway', password });
  t.teardown(() => gw.stop());
  await o.waitFor((x) => x.topic === `${ROOT}/availability` && x.text === 'online', 15000, 'online');
  const r = await request(o, ROOT, 'readers', {});
  t.equal(r.status, 'ok', 'an authorised controller gets answers');
  const svc = gw.gateway.services.find((s) => s.name === 'mqtt')!;
  t.notMatch(JSON.stringify(svc.diagnostics!()), new RegExp(password), 'not in diagnostics');
  t.notMatch(JSON.stringify(gw.logs.lines), new RegExp(password), 'not in any log line');
  const info = (await o.waitFor((x) => x.topic === `${ROOT}/info`)).text;
  t.notMatch(info, new RegExp(password), 'not in gateway info');
});

t.test('persistent session: a request sent while the gateway is away is answered when it is back', async (t) => {
  const m = await startMosquitto();
  t.teardown(() => m.close());
  const gw = await gatewayWith({ url: m.url, clean: false, reconnectMinMs: 1500, reconnectMaxMs: 1500 });
  t.teardown(() => gw.stop());
  const o = await Observer.connect(m.url, [`${ROOT}/response/#`, `${ROOT}/availability`]);
  t.teardown(() => o.close());
  await o.waitFor((x) => x.topic === `${ROOT}/availability` && x.text === 'online');
  const svc = gw.gateway.services.find((s) => s.name === 'mqtt') as unknown as { client: { stream: { destroy(): void } } };
  const mark = o.messages.length;
  svc.client.stream.destroy();
  await o.waitFor((x) => o.messages.indexOf(x) >= mark && x.text === 'offline', 10000, 'will');
  const r = await request(o, ROOT, 'readers', {}, 'while-away');
  t.equal(r.status, 'ok', 'the broker kept the request for the persistent session');
});

t.test('embedded default: a built-in broker on 127.0.0.1, seen by mosquitto_sub', async (t) => {
  const port = await freePort();
  const gw = await startTestGateway({ services: ['mqtt'], logLevel: 'warn', config: { mqtt: { url: 'embedded', embedded: { port } } } });
  t.teardown(() => gw.stop());
  const password = readFileSync(mqttPasswordPath(gw.config.state.dir), 'utf8').trim();
  const sub = spawn('mosquitto_sub', ['-h', '127.0.0.1', '-p', String(port), '-u', 'scardgate', '-P', password, '-t', 'scardgate/#', '-v', '-C', '4']);
  let out = '';
  sub.stdout.on('data', (d: Buffer) => (out += d.toString()));
  const code = await new Promise<number | null>((resolve) => {
    const timer = setTimeout(() => sub.kill(), 10000);
    sub.on('exit', (c) => {
      clearTimeout(timer);
      resolve(c);
    });
  });
  t.equal(code, 0, 'mosquitto_sub got 4 messages');
  t.match(out, /^scardgate\/test-gw\/availability online$/m);
  t.match(out, /^scardgate\/test-gw\/info \{/m);
  t.equal(gw.gateway.addresses().mqtt, `mqtt://127.0.0.1:${port}`);
});

t.test('embedded default with the port taken by a broker already running: the start fails and says why (that broker is not ours)', async (t) => {
  const m = await startMosquitto();
  t.teardown(() => m.close());
  await t.rejects(
    startTestGateway({ services: ['mqtt'], logLevel: 'warn', config: { mqtt: { url: 'embedded', embedded: { port: m.port } } } }),
    /mqtt\.embedded: 127\.0\.0\.1:\d+ is already in use .*Set mqtt\.url/,
  );
});

t.test('an unreadable certificate file fails the start with the key named, and leaves nothing running', async (t) => {
  await t.rejects(gatewayWith({ url: 'mqtts://127.0.0.1:1', ca: '/nonexistent/ca.pem' }), /mqtt\.ca: cannot read \/nonexistent\/ca\.pem/);
});

t.test('reconnect back-off (full jitter) grows up to mqtt.reconnectMaxMs and starts again from the minimum once connected', async (t) => {
  const port = await freePort();
  const gw = await gatewayWith({ url: `mqtt://127.0.0.1:${port}`, reconnectMinMs: 100, reconnectMaxMs: 400 });
  t.teardown(() => gw.stop());
  const svc = gw.gateway.services.find((s) => s.name === 'mqtt') as unknown as { client: { options: { reconnectPeriod: number } }; diagnostics(): Record<string, any> };
  const seen = new Set<number>();
  const deadline = Date.now() + 15000;
  // Jittered delays lie in [min/10, min(max, min * 2^n)]: some must exceed the minimum (the ceiling grew).
  while (![...seen].some((d) => d > 200) && Date.now() < deadline) {
    seen.add(svc.client.options.reconnectPeriod);
    await new Promise((r) => setTimeout(r, 5));
  }
  t.ok([...seen].some((d) => d > 200), `the delay grew past twice the minimum: ${[...seen].join(', ')} ms`);
  t.notOk([...seen].some((d) => d > 400), 'never above the maximum');
  const m = await startMosquitto({ port });
  t.teardown(() => m.close());
  while (!svc.diagnostics().connected && Date.now() < deadline + 15000) await new Promise((r) => setTimeout(r, 20));
  t.ok(svc.diagnostics().connected, 'connected once the broker is there');
  // The next loss starts again from the minimum.
  await m.stop();
  while (svc.diagnostics().connected) await new Promise((r) => setTimeout(r, 20));
  t.ok(svc.client.options.reconnectPeriod <= 100, `back to the minimum's range after a successful connection (${svc.client.options.reconnectPeriod} ms)`);
});
