/**
 * The gateway as OSDP control panel over a real serial line (socat pty pair):
 * an emulated OSDP reader becomes a gateway reader, its card reads are
 * published on MQTT (real Mosquitto) with format, bits, facility and card
 * number, LED/buzzer feedback reaches it as osdp_LED/osdp_BUZ, tamper becomes a
 * reader error, and a reader that falls silent turns unavailable and returns.
 */
import t from 'tap';
import { startTestGateway } from '../helpers/gateway.js';
import { startMosquitto } from '../mqtt/mosquitto.js';
import { Observer } from '../mqtt/client.js';
import type { MqttService } from '../../src/api/mqtt/service.js';
import { openSerialLink } from '../../src/osdp/link.js';
import { EmulatedPd } from '../../emulators/osdp/pd.js';
import { ptyPair } from './pty.js';
import { KEY, waitFor } from './helpers.js';
import { rng } from '../helpers/prng.js';

const ROOT = 'scardgate/test-gw';

t.test('OSDP reader -> gateway reader -> MQTT card events; feedback; offline and back', async (t) => {
  const m = await startMosquitto();
  t.teardown(() => m.close());
  const pty = await ptyPair();
  t.teardown(() => pty.stop());
  const link = await openSerialLink(pty.b, 115200);
  t.teardown(() => link.close());
  // a reader fresh from the factory: install mode, the gateway gives it KEY
  const pd = new EmulatedPd(link, { address: 5, installMode: true });
  const gw = await startTestGateway({
    services: ['mqtt'],
    logLevel: 'info',
    config: {
      mqtt: { url: m.url, reconnectMinMs: 200, reconnectMaxMs: 1000 },
      events: { debounceMs: 0 },
      drivers: {
        sim: { readers: [] },
        osdp: {
          buses: [
            {
              path: pty.a,
              baudRate: 115200,
              pollIntervalMs: 20,
              offlineAfterMs: 1000,
              reconnectMs: 200,
              readers: [{ address: 5, name: 'Front Door', scbk: KEY.toString('hex'), installKey: true, cardHoldMs: 200 }],
            },
          ],
        },
      },
    },
  });
  t.teardown(() => gw.stop());
  const o = await Observer.connect(m.url, [`${ROOT}/events`]);
  t.teardown(() => o.close());
  const svc = gw.gateway.services.find((s) => s.name === 'mqtt') as unknown as MqttService;
  await waitFor(() => svc.info().broker.connected, 'gateway connected to Mosquitto');

  await waitFor(() => gw.core.readers().some((r) => r.name.startsWith('Front Door')), 'the OSDP reader listed as a gateway reader', 15000);
  const name = gw.core.readers().find((r) => r.name.startsWith('Front Door'))!.name;
  await pd.port.settled();
  t.same(pd.installedKey, KEY, 'the driver installed its key with KEYSET');
  await waitFor(() => pd.engine.secureActive && !pd.engine.installMode, 'secure session with the new key');

  pd.tap(Buffer.from('04a1b2c3', 'hex'), 'wiegand26');
  const ev = await o.waitFor((x) => x.json().type === 'card.inserted', 10000, 'card.inserted on MQTT');
  t.match(ev.json(), { type: 'card.inserted', reader: name, data: { cardType: 'osdp-credential', credential: { format: 'H10301', bits: 26, facility: 0xb2, card: 0xa104, parityOk: true } } });
  await o.waitFor((x) => x.json().type === 'card.removed', 10000, 'card.removed after the hold time');
  pd.tap(Buffer.from('04a1b2c3', 'hex'), 'wiegand37');
  const ev37 = await o.waitFor((x) => x.json().type === 'card.inserted' && x.json().data.credential.bits === 37, 10000, '37-bit read');
  t.match(ev37.json().data.credential, { format: 'H10304', facility: 6262, card: 172292 });

  await gw.core.feedback(name, { led: 'red', buzzer: { ms: 300, count: 2 } });
  t.match(pd.led.at(-1), { permanent: { control: 1, onColor: 1 } }, 'osdp_LED red');
  t.match(pd.buzzer.at(-1), { tone: 2, onTime: 3, count: 2 }, 'osdp_BUZ');

  pd.setStatus({ tamper: true });
  await o.waitFor((x) => x.json().type === 'reader.error' && /tamper/.test(JSON.stringify(x.json().data)), 10000, 'tamper as reader.error');

  // the reader falls silent (its line is cut), then answers again
  pd.port.link.removeAllListeners('data');
  await o.waitFor((x) => x.json().type === 'reader.error' && /not answering/.test(JSON.stringify(x.json().data)), 10000, 'reader unavailable');
  t.equal(gw.core.readers().find((r) => r.name === name)?.available, false, 'the reader is unavailable, still listed');
  link.on('data', (b) => pd.port.framer.push(b));
  await waitFor(() => gw.core.readers().find((r) => r.name === name)?.available === true, 'reader available again by itself', 15000);
  pd.tap(Buffer.from('11223344', 'hex'), 'wiegand34');
  const back = await o.waitFor((x) => x.json().type === 'card.inserted' && x.json().data.credential?.bits === 34, 10000, 'a read after the return');
  t.match(back.json().data.credential, { format: 'wiegand34', facility: 0x4433, card: 0x2211 });
});

t.test('1 % corrupted bytes on a pty line for 1,000 polls: no wrong card, the reader recovers', async (t) => {
  const pty = await ptyPair();
  t.teardown(() => pty.stop());
  const link = await openSerialLink(pty.b, 115200);
  t.teardown(() => link.close());
  const faults = { corruptRate: 0.01, random: rng(77) };
  const pd = new EmulatedPd(link, { address: 3, scbk: KEY, installMode: false, faults });
  const gw = await startTestGateway({
    logLevel: 'warn',
    config: {
      events: { debounceMs: 0 },
      drivers: {
        sim: { readers: [] },
        osdp: { buses: [{ path: pty.a, baudRate: 115200, pollIntervalMs: 5, replyTimeoutMs: 50, offlineAfterMs: 1000, reconnectMs: 50, readers: [{ address: 3, name: 'Noisy Door', scbk: KEY.toString('hex'), cardHoldMs: 50 }] }] },
      },
    },
  });
  t.teardown(() => gw.stop());
  const cards: Array<Record<string, unknown>> = [];
  gw.core.on('card-inserted', (r) => cards.push(r.card?.credential as Record<string, unknown>));
  const diag = () => (gw.gateway.drivers.find((d) => d.name === 'osdp')!.diagnostics!() as { buses: Array<{ pds: Array<{ polls: number; online: boolean }> }> }).buses[0].pds[0];
  await waitFor(() => diag().online, 'reader online through the noise', 30000);
  const uids = ['04a1b2c3', '11223344', 'deadbeef'];
  const want = new Map([
    [0xa104, 0xb2],
    [0x2211, 0x33],
    [0xadde, 0xbe],
  ]);
  let next = diag().polls + 100;
  let tapped = 0;
  await waitFor(
    () => {
      const p = diag().polls;
      if (p >= next && pd.engine.pendingEvents() === 0) {
        pd.tap(Buffer.from(uids[tapped++ % uids.length], 'hex'), 'wiegand26');
        next = p + 100;
      }
      return p >= 1000;
    },
    '1,000 polls',
    120000,
  );
  t.ok(pd.injected.corruptedBytes > 50, `${pd.injected.corruptedBytes} bytes corrupted`);
  for (const c of cards) t.ok(c?.parityOk === true && want.get(c.card as number) === c.facility, `delivered card ${JSON.stringify(c)} is a tapped one`);
  t.ok(cards.length > 0, `${cards.length} reads of ${tapped} taps delivered during the noise`);
  faults.corruptRate = 0;
  const p0 = diag().polls;
  await waitFor(() => diag().online && diag().polls > p0 + 50, 'reader online and polled on a clean line', 30000);
  const before = cards.length;
  pd.tap(Buffer.from('04a1b2c3', 'hex'), 'wiegand26');
  await waitFor(() => cards.length > before, 'a read on the clean line');
});
