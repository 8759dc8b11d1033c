/**
 * The whole topic tree against a real Mosquitto, over MQTT 5 and 3.1.1:
 * availability (retained, last will, clean shutdown), info, readers, reader
 * states, card events with UID / Wiegand / profile results, topic-safe reader
 * ids, and re-publishing when the broker keeps no retained messages.
 */
import t from 'tap';
import { startTestGateway, type TestGateway } from '../helpers/gateway.js';
import { startMosquitto, type Mosquitto } from './mosquitto.js';
import { Observer } from './client.js';
import type { MqttService } from '../../src/api/mqtt/service.js';
import type { SimDriver } from '../../drivers/sim/index.js';
import { waitFor } from '../helpers/wait-for.js';

const ROOT = 'scardgate/test-gw';

function mqttService(gw: TestGateway): MqttService {
  return gw.gateway.services.find((s) => s.name === 'mqtt') as unknown as MqttService;
}

async function gateway(m: Mosquitto, over: Record<string, unknown> = {}): Promise<TestGateway> {
  const { mqtt: mqttOver, ...rest } = over as { mqtt?: Record<string, unknown> };
  return startTestGateway({
    services: ['mqtt'],
    logLevel: 'warn',
    config: {
      mqtt: { url: m.url, ...(mqttOver ?? {}) },
      events: { debounceMs: 0 },
      ...rest,
    },
  });
}

for (const protocolVersion of [5, 4] as const) {
  t.test(`topic tree over MQTT ${protocolVersion === 5 ? '5' : '3.1.1'}`, async (t) => {
    const m = await startMosquitto();
    t.teardown(() => m.close());
    const gw = await gateway(m, { mqtt: { protocolVersion } });
    t.teardown(() => gw.stop());
    // A late subscriber sees the retained state.
    const early = await Observer.connect(m.url, [`${ROOT}/availability`]);
    await early.waitFor((x) => x.text === 'online', 10000, 'availability online');
    await early.close();
    const o = await Observer.connect(m.url, [`${ROOT}/#`], { protocolVersion });
    t.teardown(() => o.close());

    const avail = await o.waitFor((x) => x.topic === `${ROOT}/availability`);
    t.equal(avail.text, 'online');
    t.equal(avail.retain, true, 'availability is retained');

    const info = await o.waitFor((x) => x.topic === `${ROOT}/info`);
    t.equal(info.retain, true);
    const i = info.json();
    t.equal(i.gatewayId, 'test-gw');
    t.equal(i.version, 'test');
    t.equal(i.readers, 4);
    t.equal(i.broker.connected, true);
    t.equal(i.broker.protocolVersion, protocolVersion);
    t.type(i.uptimeS, 'number');
    t.type(i.outbox.depth, 'number');
    t.equal(i.outbox.policy, 'drop-oldest');

    const readers = (await o.waitFor((x) => x.topic === `${ROOT}/readers`)).json().readers as Array<{ name: string; id: string; state: string }>;
    t.equal(readers.length, 4);
    const contactless = readers.find((r) => r.name.includes('Contactless'))!;
    const empty = readers.find((r) => r.name.includes('Empty'))!;
    t.equal(empty.state, 'empty');
    for (const r of readers) t.match(r.id, /^[A-Za-z0-9._-]+$/, 'reader ids are topic-safe');

    const clState = await o.waitFor((x) => x.topic === `${ROOT}/reader/${contactless.id}/state`);
    t.equal(clState.retain, true, 'reader state is retained');
    const cs = clState.json();
    t.equal(cs.state, 'present');
    t.match(cs.uid, /^[0-9A-F]{8}$/);
    t.match(cs.atr, /^3B8F8001804F0CA0000003060300/, 'PC/SC part 3 contactless ATR');
    t.equal(cs.cardType, 'mifare-classic-1k');
    t.ok(!Number.isNaN(Date.parse(cs.since)));
    const es = (await o.waitFor((x) => x.topic === `${ROOT}/reader/${empty.id}/state`)).json();
    t.same([es.state, es.atr, es.uid], ['empty', null, null]);

    // A tap: removal then a new card.
    const mark = o.messages.length;
    await gw.core.simulateRemove(contactless.name);
    await gw.core.simulateInsert(contactless.name, { type: 'mifare-classic-1k', uid: '1EA68671' });
    const ins = await o.waitFor((x) => x.topic === `${ROOT}/events` && x.json().type === 'card.inserted', 10000, 'card.inserted');
    t.equal(ins.retain, false, 'events are not retained');
    t.equal(ins.packet.qos, 1, 'events are QoS 1');
    const ev = ins.json();
    t.equal(ev.gatewayId, 'test-gw');
    t.equal(ev.reader, contactless.name);
    t.ok(new Date(ev.time).toISOString() === ev.time, 'ISO 8601 time');
    t.equal(ev.data.uid, '1EA68671');
    t.match(ev.data.uidByteOrder, /UID0 first/);
    t.same([ev.data.wiegand34.value, ev.data.wiegand34.bits], [0x7186a61e, 34]);
    t.same([ev.data.wiegand26.facility, ev.data.wiegand26.card], [0x86, 0xa61e]);
    t.equal(ev.data.cardType, 'mifare-classic-1k');
    t.equal(ev.data.profile.name, 'contactless-uid');
    t.same(
      { data: ev.data.profile.results.uid.data, sw: ev.data.profile.results.uid.sw, ok: ev.data.profile.results.uid.ok },
      { data: '1EA68671', sw: '9000', ok: true },
      'the default profile ran FF CA 00 00 00 and its answer is in the event',
    );
    const removed = o.since(mark, (x) => x.topic === `${ROOT}/events` && x.json().type === 'card.removed');
    t.equal(removed.length, 1);
    t.ok(removed[0].json().seq < ev.seq, 'removal numbered before the insertion');
    t.equal(removed[0].json().data.cardType, 'mifare-classic-1k', 'removal names the card that left');
    const st = await o.waitFor((x) => x.topic === `${ROOT}/reader/${contactless.id}/state` && x.json().uid === '1EA68671');
    t.equal(st.json().state, 'present');

    // Reader added and removed at run time: events, readers list, retained state cleared.
    const sim = gw.gateway.drivers.find((d) => d.name === 'sim') as unknown as SimDriver;
    const added = sim.addReader({ name: 'Door +#/ 3' });
    const ra = await o.waitFor((x) => x.topic === `${ROOT}/events` && x.json().type === 'reader.added', 10000, 'reader.added');
    const newName = ra.json().reader as string;
    t.match(newName, /^Door \+#\/ 3/);
    const lst = await o.waitFor((x) => x.topic === `${ROOT}/readers` && x.json().readers.length === 5);
    const newId = lst.json().readers.find((r: { name: string }) => r.name === newName).id;
    t.match(newId, /^Door_3_/, 'no +, # or / in the reader topic level');
    for (const x of o.messages) {
      t.notOk(/[+#]/.test(x.topic) || x.topic.split('/').some((l) => l === ''), `publishable topic ${x.topic}`);
    }
    await o.waitFor((x) => x.topic === `${ROOT}/reader/${newId}/state`);
    sim.removeReader(added.id);
    await o.waitFor((x) => x.topic === `${ROOT}/events` && x.json().type === 'reader.removed', 10000, 'reader.removed');
    const cleared = await o.waitFor((x) => x.topic === `${ROOT}/reader/${newId}/state` && x.text === '', 10000, 'cleared state');
    t.equal(cleared.text, '', 'an empty retained payload clears the gone reader');

    // Sequence numbers only grow.
    const seqs = o.messages.filter((x) => x.topic === `${ROOT}/events`).map((x) => x.json().seq as number);
    t.same(
      seqs,
      seqs.map((_, k) => seqs[0] + k),
      'events numbered without gaps',
    );

    // Last will: the connection dies without DISCONNECT -> the broker says offline; the gateway comes back online.
    const willMark = o.messages.length;
    (mqttService(gw) as unknown as { client: { stream: { destroy(): void } } }).client.stream.destroy();
    await o.waitFor((x) => o.messages.indexOf(x) >= willMark && x.topic === `${ROOT}/availability` && x.text === 'offline', 10000, 'last will');
    await o.waitFor((x) => o.messages.indexOf(x) >= willMark && x.topic === `${ROOT}/availability` && x.text === 'online', 15000, 'back online');

    // Clean shutdown: offline, retained.
    await gw.stop();
    await o.waitFor((x) => x.topic === `${ROOT}/availability` && x.text === 'offline' && o.messages.indexOf(x) > willMark + 1, 10000, 'offline on stop');
    const late = await Observer.connect(m.url, [`${ROOT}/availability`]);
    const a2 = await late.waitFor((x) => x.topic === `${ROOT}/availability`);
    t.same([a2.text, a2.retain], ['offline', true], 'retained offline after a clean shutdown');
    await late.close();
  });
}

for (const protocolVersion of [5, 4] as const) t.test(`a broker that keeps no retained messages (MQTT ${protocolVersion === 5 ? '5' : '3.1.1'}): the gateway notices and re-publishes its state`, async (t) => {
  const m = await startMosquitto({ noRetain: true });
  t.teardown(() => m.close());
  const gw = await gateway(m, { mqtt: { infoIntervalS: 1, protocolVersion, reconnectMinMs: 100 } });
  t.teardown(() => gw.stop());
  const svc = mqttService(gw);
  await waitFor(() => svc.info().broker.retainAvailable === false && svc.diagnostics().connected, 'the gateway to detect a broker without retain and stay connected', 15000);
  t.equal(svc.info().broker.retainAvailable, false, 'detected');
  // A subscriber arriving later still gets the state, by re-publication.
  const o = await Observer.connect(m.url, [`${ROOT}/#`]);
  t.teardown(() => o.close());
  const st = await o.waitFor((x) => x.topic.startsWith(`${ROOT}/reader/`) && x.topic.endsWith('/state'), 10000, 'republished reader state');
  t.equal(st.retain, false);
  await o.waitFor((x) => x.topic === `${ROOT}/availability` && x.text === 'online');
  t.ok(svc.diagnostics().connected, 'still connected (retained publishes were not sent to a broker that refuses them)');
});

t.test('Home Assistant tag discovery (opt-in): one tag scanner per contactless reader, removed with the reader', async (t) => {
  const m = await startMosquitto();
  t.teardown(() => m.close());
  const o = await Observer.connect(m.url, ['homeassistant/#', `${ROOT}/events`]);
  t.teardown(() => o.close());
  const gw = await gateway(m, { mqtt: { homeassistant: { enabled: true } } });
  t.teardown(() => gw.stop());
  const cfg = await o.waitFor((x) => x.topic.startsWith('homeassistant/tag/scardgate_test-gw/'), 10000, 'discovery');
  t.match(cfg.topic, /^homeassistant\/tag\/scardgate_test-gw\/Simulated_Contactless_Reader_02_00\/config$/);
  const c = cfg.json();
  t.equal(c.topic, `${ROOT}/events`);
  t.match(c.value_template, /card\.inserted/);
  t.match(c.value_template, /value_json\.data\.uid/);
  t.same(c.device.identifiers, ['scardgate_test-gw']);
  t.equal(o.messages.filter((x) => x.topic.startsWith('homeassistant/')).length, 1, 'contact readers are not tag scanners');
  const sim = gw.gateway.drivers.find((d) => d.name === 'sim') as unknown as SimDriver;
  const cl = gw.core.readers().find((x) => x.capabilities.contactless)!;
  const simReader = sim.list().find((x) => cl.name.startsWith(x.friendlyName))!;
  sim.removeReader(simReader.id);
  const gone = await o.waitFor((x) => x.topic === cfg.topic && x.text === '', 10000, 'discovery removed');
  t.equal(gone.text, '', 'an empty config removes the scanner');
});

t.test('the Home Assistant value template yields the UID for this reader\'s card.inserted only (rendered by Jinja2, as HA does)', async (t) => {
  const { execFileSync } = await import('node:child_process');
  try {
    execFileSync('python3', ['-c', 'import jinja2'], { stdio: 'pipe' });
  } catch {
    throw new Error('python3-jinja2 is missing: apt-get install python3-jinja2 (renders the Home Assistant template as HA does)');
  }
  const m = await startMosquitto();
  t.teardown(() => m.close());
  const o = await Observer.connect(m.url, ['homeassistant/#']);
  t.teardown(() => o.close());
  const gw = await gateway(m, { mqtt: { homeassistant: { enabled: true } } });
  t.teardown(() => gw.stop());
  const cfg = (await o.waitFor((x) => x.topic.startsWith('homeassistant/tag/'), 10000, 'discovery')).json();
  const reader = gw.core.readers().find((r) => r.capabilities.contactless)!.name;
  const render = (ev: unknown): string =>
    execFileSync(
      'python3',
      ['-c', 'import sys, json, jinja2; t = jinja2.Environment().from_string(sys.argv[1]); print(t.render(value_json=json.loads(sys.argv[2])).strip(), end="")', cfg.value_template, JSON.stringify(ev)],
      { encoding: 'utf8' },
    );
  const ev = (type: string, r: string, data: Record<string, unknown>) => ({ seq: 1, type, gatewayId: 'test-gw', reader: r, time: new Date().toISOString(), data });
  t.equal(render(ev('card.inserted', reader, { uid: '04A1B2C3' })), '04A1B2C3', 'a tap gives its UID');
  t.equal(render(ev('card.removed', reader, { uid: '04A1B2C3' })), '', 'a removal is ignored (empty)');
  t.equal(render(ev('card.inserted', 'Other Reader 09 00', { uid: '04A1B2C3' })), '', "another reader's tap is not this scanner's");
  t.equal(render(ev('card.inserted', reader, { atr: '3B00' })), '', 'a card without UID is ignored');
});
