/**
 * scardctl fleet against a real Mosquitto with two gateways: the list from
 * their retained topics, and --follow with de-duplication by (gatewayId, seq)
 * and a gap filled through the `events` request; and against the daemon's
 * built-in broker, with its generated credential.
 */
import t from 'tap';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Writable } from 'node:stream';
import { cliMain } from '../../src/cli/main.js';
import { FleetView } from '../../src/cli/fleet-view.js';
import { startTestGateway } from '../helpers/gateway.js';
import { freePort, requireMosquitto, startMosquitto } from '../mqtt/mosquitto.js';
import { startDaemon } from '../helpers/daemon.js';
import { mqttPasswordPath } from '../../src/api/mqtt/broker-auth.js';
import { fleetLogin } from '../../src/cli/commands/fleet.js';
import { ControlClient } from '../../src/cli/client.js';
import { Observer } from '../mqtt/client.js';
import type { MqttService } from '../../src/api/mqtt/service.js';

const sink = (f: (s: string) => void): Writable =>
  new Writable({
    write(chunk, _enc, cb) {
      f(chunk.toString());
      cb();
    },
  });

async function until(what: string, cond: () => boolean, ms = 15000): Promise<void> {
  const end = Date.now() + ms;
  while (!cond()) {
    if (Date.now() > end) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 20));
  }
}

t.test('the fleet view de-duplicates by (gatewayId, seq) and finds gaps', async (t) => {
  const v = new FleetView();
  const ev = (gw: string, seq: number) => Buffer.from(JSON.stringify({ seq, type: 'card.inserted', gatewayId: gw, reader: 'r', time: 't', data: {} }));
  t.ok(v.message('b', 'b/g1/events', ev('g1', 1)).event);
  t.notOk(v.message('b', 'b/g1/events', ev('g1', 1)).event, 'a redelivery is dropped');
  t.ok(v.message('b', 'b/g2/events', ev('g2', 1)).event, 'same seq, other gateway: kept');
  const r = v.message('b', 'b/g1/events', ev('g1', 4));
  t.same(r.gap, { gatewayId: 'g1', from: 2, to: 3 });
  t.same(v.missing('g1'), [2, 3]);
  t.ok(v.message('b', 'b/g1/events', ev('g1', 2)).event, 'a late one fills the gap');
  t.same(v.missing('g1'), [3]);
  t.equal(v.duplicates, 1);
  t.same(v.message('b', 'b/g1/events', Buffer.from('not json')), {}, 'garbage is ignored');
  t.equal(v.rows().find((x) => x.gatewayId === 'g1')!.gaps, 1);
});

t.test('scardctl fleet lists the gateways on a broker and follows their events', async (t) => {
  const m = await startMosquitto();
  t.teardown(() => m.close());
  const gws = [];
  for (const id of ['door-a', 'door-b']) {
    const gw = await startTestGateway({ services: ['mqtt'], logLevel: 'warn', config: { gatewayId: id, mqtt: { url: m.url }, events: { debounceMs: 0 } } });
    t.teardown(() => gw.stop());
    const svc = gw.gateway.services.find((s) => s.name === 'mqtt') as unknown as MqttService;
    await until(`${id} connected`, () => svc.info().broker.connected);
    gws.push(gw);
  }
  // Wait until both gateways' retained info is on the broker.
  const o = await Observer.connect(m.url, ['scardgate/+/info']);
  t.teardown(() => o.close());
  await o.waitFor((x) => x.topic === 'scardgate/door-b/info', 10000, 'door-b info');
  await o.waitFor((x) => x.topic === 'scardgate/door-a/info', 10000, 'door-a info');

  let out = '';
  let err = '';
  const code = await cliMain(['--json', 'fleet', '--broker', m.url, '--wait-ms', '200'], { stdout: sink((s) => (out += s)), stderr: sink((s) => (err += s)), env: {} });
  t.equal(code, 0, err);
  const rows = JSON.parse(out.trim().split('\n').at(-1)!).gateways as Array<{ gatewayId: string; availability: string; readers: number; version: string }>;
  t.same(
    rows.map((r) => [r.gatewayId, r.availability, r.readers, r.version]),
    [
      ['door-a', 'online', 4, 'test'],
      ['door-b', 'online', 4, 'test'],
    ],
  );

  // --follow: events of both gateways; stop after door-b's tap shows up.
  const ac = new AbortController();
  let follow = '';
  const running = cliMain(['--json', 'fleet', '--broker', m.url, '--follow', '--wait-ms', '0'], {
    stdout: sink((s) => (follow += s)),
    stderr: sink(() => undefined),
    env: {},
    signal: ac.signal,
  });
  await until('the fleet list printed', () => follow.includes('"gateways"'));
  const reader = gws[1].core.readers().find((r) => r.capabilities.contactless)!.name;
  await gws[1].core.simulateRemove(reader);
  await gws[1].core.simulateInsert(reader, { type: 'mifare-classic-1k', uid: '04F1EE70' });
  await until('door-b card.inserted followed', () => follow.includes('04F1EE70'));
  ac.abort();
  t.equal(await running, 0);
  const events = follow
    .trim()
    .split('\n')
    .map((l) => JSON.parse(l))
    .filter((x) => x.event)
    .map((x) => `${x.event.gatewayId}#${x.event.seq}`);
  t.equal(new Set(events).size, events.length, 'each (gatewayId, seq) printed once');
});

t.test('scardctl fleet refuses bad arguments', async (t) => {
  let err = '';
  const code = await cliMain(['fleet'], { stdout: sink(() => undefined), stderr: sink((s) => (err += s)), env: {} });
  t.equal(code, 2);
  t.match(err, /--broker/);
  const code2 = await cliMain(['fleet', '--broker', 'http://x'], { stdout: sink(() => undefined), stderr: sink((s) => (err += s)), env: {} });
  t.equal(code2, 2);
});

t.test('scardctl fleet on the built-in broker: its credential from the state directory or a file, never from elsewhere', async (t) => {
  requireMosquitto();
  const port = await freePort();
  const d = await startDaemon({ services: ['mqtt'], config: { mqtt: { url: 'embedded', embedded: { port } }, events: { debounceMs: 0 } } });
  t.teardown(() => d.stop());
  const url = `mqtt://127.0.0.1:${port}`;
  const stateDir = join(d.dir, 'state');
  const run = async (...args: string[]): Promise<{ code: number; out: string; err: string }> => {
    let out = '';
    let err = '';
    const code = await cliMain(['--json', 'fleet', '--broker', url, '--wait-ms', '300', ...args], { stdout: sink((s) => (out += s)), stderr: sink((s) => (err += s)), env: {} });
    return { code, out, err };
  };
  const listed = (out: string): string[] => (JSON.parse(out.trim().split('\n').at(-1)!).gateways as Array<{ gatewayId: string; availability: string }>).map((g) => `${g.gatewayId} ${g.availability}`);

  const viaState = await run('--state-dir', stateDir);
  t.equal(viaState.code, 0, viaState.err);
  t.same(listed(viaState.out), ['test-gw online'], 'the state directory credential logs in (and nothing the built-in broker refuses is published)');

  const empty = mkdtempSync(join(tmpdir(), 'scardgate-fleet-'));
  t.teardown(() => rmSync(empty, { recursive: true, force: true }));
  const refused = await run('--state-dir', empty);
  t.equal(refused.code, 1, 'no credential: refused by the broker');
  t.match(refused.err, /--password-file/, 'and told how to give one');

  const file = join(empty, 'pw');
  writeFileSync(file, readFileSync(mqttPasswordPath(stateDir), 'utf8'), { mode: 0o600 });
  const viaFile = await run('--state-dir', empty, '--password-file', file);
  t.equal(viaFile.code, 0, viaFile.err);
  t.same(listed(viaFile.out), ['test-gw online'], '--password-file');

  const password = readFileSync(mqttPasswordPath(stateDir), 'utf8').trim();
  const viaArg = await run('--state-dir', empty, '--password', password);
  t.equal(viaArg.code, 0, viaArg.err);
  t.match(viaArg.err, /visible to other users/, '--password works, with a warning');

  // --follow over 3.1.1 (the built-in broker speaks no MQTT 5): a tap shows up.
  const ac = new AbortController();
  let follow = '';
  const following = cliMain(['--json', 'fleet', '--broker', url, '--state-dir', stateDir, '--follow', '--wait-ms', '0'], {
    stdout: sink((s) => (follow += s)),
    stderr: sink(() => undefined),
    env: {},
    signal: ac.signal,
  });
  await until('the fleet list printed', () => follow.includes('"gateways"'));
  const ctl = await ControlClient.connect(d.controlSocket);
  const reader = d.ready.readerNames.find((n: string) => n.includes('Contactless'))!;
  await ctl.request('simulate/remove', { reader });
  await ctl.request('simulate/insert', { reader, card: { type: 'mifare-classic-1k', uid: '0A0B0C0E' } });
  ctl.close();
  await until('the tap followed', () => follow.includes('0A0B0C0E'));
  ac.abort();
  t.equal(await following, 0, '--follow ends cleanly');

  // The local credential is for a broker on this machine only.
  t.equal(fleetLogin({ broker: 'mqtt://broker.example:1883', stateDir }), undefined, 'not offered to another host');
  t.equal(fleetLogin({ broker: url, stateDir })?.password, password, 'offered to loopback');
  t.equal(fleetLogin({ broker: `mqtt://someone:pw@127.0.0.1:${port}`, stateDir }), undefined, 'a login in the URL is kept');
});
