/**
 * The whole stack over the emulated PN532 on a real pty:
 * - the real daemon (child process) with a pn532 reader; Debian's opensc-tool
 *   through the pcsc socket sees the tap (ATR) and sends APDUs and FF CA;
 * - a gateway with the MQTT frontend against a real Mosquitto: the tap is a
 *   card.inserted event with the UID.
 */
import t from 'tap';
import { execFile } from 'node:child_process';
import { promisify } from 'node:util';
import { startDaemon } from '../helpers/daemon.js';
import { startTestGateway } from '../helpers/gateway.js';
import { requireTool } from '../pcsc/helpers/clients.js';
import { startMosquitto } from '../mqtt/mosquitto.js';
import { Observer } from '../mqtt/client.js';
import { fieldCardOf } from '../../emulators/pn532/field.js';
import { ptyEmulator, waitFor } from './helpers.js';

const run = promisify(execFile);

t.test('daemon + pcsc socket: opensc-tool sees the tap and talks to the card', async (t) => {
  requireTool('/usr/bin/opensc-tool', 'opensc');
  const { pty, chip } = await ptyEmulator(t);
  const d = await startDaemon({
    services: ['pcsc'],
    // only the PN532: the default simulated readers would take index 0
    config: { drivers: { sim: { readers: [] }, pn532: { readers: [{ name: 'Gate NFC', transport: { type: 'hsu', path: pty.host } }] } } },
  });
  t.teardown(() => d.stop());
  t.same(d.ready.readerNames, ['Gate NFC 00 00'], 'the PN532 is a reader of the daemon');
  const env = { ...process.env, PCSCLITE_CSOCK_NAME: d.ready.listen.pcsc };
  const opensc = async (...args: string[]) => (await run('opensc-tool', args, { env, timeout: 20000 })).stdout;
  t.match(await opensc('-l'), /No\s+Gate NFC 00 00/, 'empty field');

  chip.tap(fieldCardOf({ type: 'iso14443-4', uid: '04A1B2C3D4E5F6', ats: '7877810280' }));
  await d.logs.waitFor((l) => l.msg === 'card in field', 10000);
  t.match(await opensc('-l'), /Yes\s+Gate NFC 00 00/, 'card present');
  t.equal((await opensc('-a')).trim(), '3b:81:80:01:80:80', 'part 3 ATR through the socket');
  const out = await opensc('-r', '0', '-s', 'FF CA 00 00 00', '-s', '00 A4 04 00 0A F0 73 63 61 72 64 67 61 74 65 00');
  t.match(out, /Received \(SW1=0x90, SW2=0x00\):\s*\n04 A1 B2 C3 D4 E5 F6/, 'FF CA: the UID');
  t.match(out, /Sending: 00 A4 04 00 0A F0 73 63 61 72 64 67 61 74 65 00\s*\nReceived \(SW1=0x90, SW2=0x00\)/, 'SELECT of the demo application: 90 00');
});

t.test('MQTT: a tap is a card.inserted event with the UID', async (t) => {
  const m = await startMosquitto();
  t.teardown(() => m.close());
  const { pty, chip } = await ptyEmulator(t);
  const gw = await startTestGateway({
    services: ['mqtt'],
    logLevel: 'warn',
    config: {
      mqtt: { url: m.url },
      events: { debounceMs: 0 },
      drivers: { pn532: { readers: [{ name: 'Gate NFC', transport: { type: 'hsu', path: pty.host } }] } },
    },
  });
  t.teardown(() => gw.stop());
  const o = await Observer.connect(m.url, ['scardgate/test-gw/#']);
  t.teardown(() => o.close());
  if (!gw.core.reader('Gate NFC 00 00')) await waitFor(gw.core, 'reader-added');
  chip.tap(fieldCardOf({ type: 'mifare-classic-1k', uid: 'C0FFEE42' }));
  const ev = await o.waitFor((x) => x.topic === 'scardgate/test-gw/events' && x.json().type === 'card.inserted', 10000, 'card.inserted');
  const data = ev.json().data;
  t.match(ev.json(), { reader: 'Gate NFC 00 00' });
  t.equal(String(data.uid).replace(/[^0-9a-f]/gi, '').toUpperCase(), 'C0FFEE42', 'UID in the event');
  t.equal(data.cardType, 'mifare-classic-1k');
  chip.remove();
  await o.waitFor((x) => x.topic === 'scardgate/test-gw/events' && x.json().type === 'card.removed', 10000, 'card.removed');
});
