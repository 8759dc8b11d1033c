/**
 * The real daemon on the embedded default: its built-in broker on loopback,
 * and Debian's mosquitto_sub sees availability, info, readers and events;
 * SIGTERM says offline before the process exits.
 */
import t from 'tap';
import { spawn } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { mqttPasswordPath } from '../../src/api/mqtt/broker-auth.js';
import { waitFor } from '../helpers/wait-for.js';
import { startDaemon } from '../helpers/daemon.js';
import { ControlClient } from '../../src/cli/client.js';
import { freePort, requireMosquitto } from './mosquitto.js';
import { Observer } from './client.js';

t.test('scardgated with mqtt.url embedded', async (t) => {
  requireMosquitto();
  const port = await freePort();
  const d = await startDaemon({ services: ['mqtt'], config: { mqtt: { url: 'embedded', embedded: { port } }, events: { debounceMs: 0 } } });
  let stopped = false;
  t.teardown(() => (stopped ? undefined : d.stop()));
  t.equal(d.ready.listen.mqtt, `mqtt://127.0.0.1:${port}`, 'the ready line says where the broker is');
  // The README's example: the credential the daemon generated in its state directory.
  const password = readFileSync(mqttPasswordPath(join(d.dir, 'state')), 'utf8').trim();
  const sub = spawn('mosquitto_sub', ['-h', '127.0.0.1', '-p', String(port), '-u', 'scardgate', '-P', password, '-t', 'scardgate/#', '-v', '-V', 'mqttv311']);
  let out = '';
  sub.stdout.on('data', (b: Buffer) => (out += b.toString()));
  t.teardown(() => sub.kill());
  const o = await Observer.connect(`mqtt://127.0.0.1:${port}`, ['scardgate/#'], { protocolVersion: 4, username: 'scardgate', password });
  t.teardown(() => o.close());
  await o.waitFor((x) => x.topic.endsWith('/readers'), 10000, 'readers');
  const ctl = await ControlClient.connect(d.controlSocket);
  const reader = d.ready.readerNames.find((n: string) => n.includes('Contactless'))!;
  await ctl.request('simulate/remove', { reader });
  await ctl.request('simulate/insert', { reader, card: { type: 'mifare-classic-1k', uid: '0A0B0C0D' } });
  ctl.close();
  await o.waitFor((x) => x.topic === 'scardgate/test-gw/events' && x.json().type === 'card.inserted', 10000, 'card.inserted');
  const tapLine = /^scardgate\/test-gw\/events \{"seq":\d+,"type":"card.inserted".*"uid":"0A0B0C0D"/m;
  await waitFor(() => tapLine.test(out), 'mosquitto_sub to print the card.inserted event', 5000);
  t.match(out, /^scardgate\/test-gw\/availability online$/m, 'mosquitto_sub sees availability');
  t.match(out, tapLine, 'and the tap');
  const mark = o.messages.length;
  stopped = true;
  const exit = await d.stop();
  t.equal(exit.code, 0);
  t.ok(o.since(mark).some((x) => x.topic === 'scardgate/test-gw/availability' && x.text === 'offline'), 'offline before the broker went away with the process');
  const stopping = d.logs.lines.findIndex((l) => l.msg === 'stopping');
  t.ok(stopping >= 0, 'logged "stopping"');
  const complaints = d.logs.lines.slice(stopping).filter((l) => ['warn', 'error', 'fatal'].includes(String(l.level)));
  t.same(complaints, [], 'a clean stop logs no warning or error');
});
