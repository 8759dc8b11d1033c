/**
 * The built-in broker (mqtt.url: embedded, the appliance's default) is not open to every local user:
 * anonymous and wrong logins are refused; the credential in the state directory (0640) lets a client
 * send requests, but not publish the gateway's own topics (events, states, availability), nor take the
 * gateway's client id, nor publish $SYS.
 */
import t from 'tap';
import { statSync, readFileSync } from 'node:fs';
import { spawn } from 'node:child_process';
import mqtt, { type MqttClient } from 'mqtt';
import { startTestGateway } from '../helpers/gateway.js';
import { waitForEvent } from '../helpers/wait-for.js';
import { Observer, request } from './client.js';
import { MQTT_CLIENT_USER, mqttPasswordPath } from '../../src/api/mqtt/broker-auth.js';
import { requireMosquitto } from './mosquitto.js';

const ROOT = 'scardgate/test-gw';

/** Connects once (no reconnect); resolves with the client or rejects with the broker's refusal. */
function connectOnce(url: string, opts: mqtt.IClientOptions): Promise<MqttClient> {
  return mqtt.connectAsync(url, { protocolVersion: 4, reconnectPeriod: 0, connectTimeout: 5000, ...opts });
}

t.test('the embedded broker authenticates and authorises', async (t) => {
  const gw = await startTestGateway({ services: ['mqtt'], config: { mqtt: { url: 'embedded', embedded: { port: 0 } }, events: { debounceMs: 0 } } });
  t.teardown(() => gw.stop());
  const url = gw.gateway.addresses().mqtt;
  t.match(url, /^mqtt:\/\/127\.0\.0\.1:\d+$/);

  const file = mqttPasswordPath(gw.config.state.dir);
  t.equal(statSync(file).mode & 0o777, 0o640, 'credential file is 0640 (owner and the scardgate group)');
  const password = readFileSync(file, 'utf8').trim();
  t.ok(password.length >= 16, 'a generated password');

  await t.rejects(connectOnce(url, {}), /Bad username or password|Not authorized/, 'anonymous connect refused');
  await t.rejects(connectOnce(url, { username: MQTT_CLIENT_USER, password: 'guess-guess-guess' }), /Bad username or password/, 'wrong password refused');
  await t.rejects(
    connectOnce(url, { username: MQTT_CLIENT_USER, password, clientId: 'scardgate-test-gw' }),
    /Identifier rejected/,
    "the gateway's client id is not for clients (it would kick the gateway off)",
  );

  const o = await Observer.connect(url, [`${ROOT}/#`], { protocolVersion: 4, username: MQTT_CLIENT_USER, password });
  t.teardown(() => o.close());
  await o.waitFor((m) => m.topic === `${ROOT}/availability` && m.text === 'online', 10000, 'availability online');
  const r = await request(o, ROOT, 'readers', {});
  t.equal(r.status, 'ok', 'a client with the credential sends requests and gets answers');

  for (const topic of [`${ROOT}/events`, `${ROOT}/reader/Fake/state`, `${ROOT}/availability`, `${ROOT}/response/transmit`, '$SYS/x/new/clients']) {
    const forger = await connectOnce(url, { username: MQTT_CLIENT_USER, password });
    const closed = waitForEvent(forger, 'close', `the broker closing the connection of a client publishing ${topic}`);
    forger.publish(topic, '{"seq":999999,"type":"card.inserted","forged":true}', { qos: 0 });
    await closed;
    forger.end(true);
  }
  // A later request's answer proves the broker moved past the forged publishes; none of them reached a subscriber.
  const r2 = await request(o, ROOT, 'info', {});
  t.equal(r2.status, 'ok');
  t.same(o.messages.filter((m) => m.text.includes('forged')), [], 'no forged message delivered');
  t.equal(o.messages.filter((m) => m.topic === `${ROOT}/availability`).at(-1)?.text, 'online');

  t.notMatch(JSON.stringify(gw.logs.lines), password, 'the credential is never logged');
});

t.test('mosquitto_sub with -u/-P from the credential file (the README example)', async (t) => {
  requireMosquitto();
  const gw = await startTestGateway({ services: ['mqtt'], config: { mqtt: { url: 'embedded', embedded: { port: 0 } } } });
  t.teardown(() => gw.stop());
  const port = new URL(gw.gateway.addresses().mqtt).port;
  const password = readFileSync(mqttPasswordPath(gw.config.state.dir), 'utf8').trim();
  // Asynchronous: the broker runs in this process. -W 10 bounds each run.
  const sub = (args: string[]): Promise<{ status: number | null; stdout: string; stderr: string }> =>
    new Promise((resolve) => {
      const p = spawn('mosquitto_sub', ['-h', '127.0.0.1', '-p', port, '-V', 'mqttv311', '-t', `${ROOT}/availability`, '-C', '1', '-W', '10', ...args]);
      let stdout = '';
      let stderr = '';
      p.stdout.on('data', (d: Buffer) => (stdout += d.toString()));
      p.stderr.on('data', (d: Buffer) => (stderr += d.toString()));
      p.on('close', (status) => resolve({ status, stdout, stderr }));
    });
  const ok = await sub(['-u', 'scardgate', '-P', password]);
  t.equal(ok.stdout.trim(), 'online', `with the credential: ${ok.stderr}`);
  const anon = await sub([]);
  t.not(anon.status, 0, 'anonymous mosquitto_sub fails');
  t.match(anon.stderr, /not authori[sz]ed|bad user name or password|refused/i);
});
