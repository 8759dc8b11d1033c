/**
 * NTAG and NDEF end to end: an NTAG215 written by the Home Assistant
 * companion app (URI https://www.home-assistant.io/tag/<id>) plus a text
 * record, tapped on the emulated PN532 (real pty) of a gateway publishing to a
 * real Mosquitto: card.inserted carries the records intact and the HA tag id,
 * and Home Assistant's tag scan (its discovery value template, rendered by
 * Jinja2 as HA does) yields that id, not the UID. card.removed says how long
 * the tag was present. A MIFARE Classic with a MAD and an NDEF sector too.
 */
import t from 'tap';
import { execFileSync } from 'node:child_process';
import { startTestGateway } from '../helpers/gateway.js';
import { startMosquitto } from '../mqtt/mosquitto.js';
import { Observer } from '../mqtt/client.js';
import { fieldCardOf } from '../../emulators/pn532/field.js';
import { encodeNdefMessage, madCrc } from '../../src/contactless/ndef.js';
import { ptyEmulator, waitFor } from './helpers.js';

const HA_ID = '3a2f7c1e-5b4d-4e8a-9c61-0f2b8d7e6a10';

function render(template: string, ev: unknown): string {
  try {
    execFileSync('python3', ['-c', 'import jinja2'], { stdio: 'pipe' });
  } catch {
    throw new Error('python3-jinja2 is missing: apt-get install python3-jinja2 (renders the Home Assistant template as HA does)');
  }
  return execFileSync(
    'python3',
    ['-c', 'import sys, json, jinja2; t = jinja2.Environment().from_string(sys.argv[1]); print(t.render(value_json=json.loads(sys.argv[2])).strip(), end="")', template, JSON.stringify(ev)],
    { encoding: 'utf8' },
  );
}

/** A MIFARE Classic 1K formatted for NDEF: MAD in sector 0 (key A A0A1A2A3A4A5), sector 1 NDEF (key A D3F7D3F7D3F7). */
function classicWithNdef(message: Buffer): Record<string, unknown> {
  const mad = Buffer.alloc(32);
  mad[1] = 0x01; // info byte
  mad[2] = 0xe1; // sector 1: AID 03E1 (NDEF), little-endian
  mad[3] = 0x03;
  mad[0] = madCrc(mad.subarray(1));
  const tlv = Buffer.concat([Buffer.from([0x03, message.length]), message, Buffer.from([0xfe])]);
  const area = Buffer.alloc(48);
  tlv.copy(area);
  const trailer = (keyA: string) => `${keyA}FF078069FFFFFFFFFFFF`;
  return {
    type: 'mifare-classic-1k',
    uid: 'DEADBEEF',
    blocks: {
      1: mad.subarray(0, 16).toString('hex'),
      2: mad.subarray(16).toString('hex'),
      3: trailer('A0A1A2A3A4A5'),
      4: area.subarray(0, 16).toString('hex'),
      5: area.subarray(16, 32).toString('hex'),
      6: area.subarray(32).toString('hex'),
      7: trailer('D3F7D3F7D3F7'),
    },
  };
}

t.test('NTAG215 with a Home Assistant tag URI and a text record: MQTT event and HA tag scan carry the HA tag id', async (t) => {
  const m = await startMosquitto();
  t.teardown(() => m.close());
  const { pty, chip } = await ptyEmulator(t);
  const gw = await startTestGateway({
    services: ['mqtt'],
    logLevel: 'warn',
    config: {
      mqtt: { url: m.url, homeassistant: { enabled: true } },
      events: { debounceMs: 0 },
      drivers: { sim: { readers: [] }, pn532: { readers: [{ name: 'Door NFC', transport: { type: 'hsu', path: pty.host } }] } },
    },
  });
  t.teardown(() => gw.stop());
  const o = await Observer.connect(m.url, ['scardgate/test-gw/#', 'homeassistant/#']);
  t.teardown(() => o.close());
  if (!gw.core.reader('Door NFC 00 00')) await waitFor(gw.core, 'reader-added', 10000);
  const cfg = (await o.waitFor((x) => x.topic.startsWith('homeassistant/tag/') && x.text !== '', 10000, 'HA tag scanner discovery')).json();

  const text = 'Front door — welcome';
  const ndef = encodeNdefMessage([{ uri: `https://www.home-assistant.io/tag/${HA_ID}` }, { text, lang: 'en' }]);
  chip.tap(fieldCardOf({ type: 'ntag215', uid: '04A7C1D2E3F481', ndef: ndef.toString('hex') }));
  const ev = (await o.waitFor((x) => x.topic === 'scardgate/test-gw/events' && x.json().type === 'card.inserted', 10000, 'card.inserted')).json();
  t.equal(ev.data.cardType, 'ntag215', 'NTAG215 recognised by GET_VERSION');
  t.equal(ev.data.uid, '04A7C1D2E3F481');
  t.equal(ev.data.haTagId, HA_ID, 'the Home Assistant tag id');
  t.match(ev.data.ndef.records, [
    { tnf: 'well-known', type: 'U', uri: `https://www.home-assistant.io/tag/${HA_ID}` },
    { tnf: 'well-known', type: 'T', lang: 'en', text },
  ]);
  t.equal(render(cfg.value_template, ev), HA_ID, "Home Assistant's tag scan gets the HA tag id, not the UID");

  chip.remove();
  const removed = (await o.waitFor((x) => x.topic === 'scardgate/test-gw/events' && x.json().type === 'card.removed', 10000, 'card.removed')).json();
  t.type(removed.data.presentMs, 'number', 'card.removed says how long the tag was present');
  t.ok(removed.data.presentMs >= 0);

  // a tag without NDEF: the UID is the tag id
  chip.tap(fieldCardOf({ type: 'ntag213', uid: '04112233445566' }));
  const plain = (await o.waitFor((x) => x.topic === 'scardgate/test-gw/events' && x.json().type === 'card.inserted' && x.json().data.uid === '04112233445566', 10000, 'second card.inserted')).json();
  t.equal(plain.data.cardType, 'ntag213');
  t.same(plain.data.ndef, { records: [] }, 'an empty NDEF message');
  t.equal(render(cfg.value_template, plain), '04112233445566', 'no HA id: the UID');
  chip.remove();
  await o.waitFor((x) => x.topic === 'scardgate/test-gw/events' && x.json().type === 'card.removed' && x.json().data.uid === '04112233445566', 10000, 'second card.removed');

  // MIFARE Classic with MAD: the NDEF sector is found and read
  const msg = encodeNdefMessage([{ uri: 'https://example.org/door/7' }]);
  chip.tap(fieldCardOf(classicWithNdef(msg)));
  const classic = (await o.waitFor((x) => x.topic === 'scardgate/test-gw/events' && x.json().type === 'card.inserted' && x.json().data.uid === 'DEADBEEF', 10000, 'Classic card.inserted')).json();
  t.match(classic.data.ndef.records, [{ type: 'U', uri: 'https://example.org/door/7' }], 'NDEF from a MIFARE Classic (MAD)');
});
