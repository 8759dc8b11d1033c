/**
 * A tap on a PN532 module (the emulated chip on its own pty, the real pn532
 * driver through serialport) reaches an access panel as osdp_RAW through the
 * gateway's OSDP PD on a second pty: two serial lines, the whole path.
 */
import t from 'tap';
import { startTestGateway } from '../helpers/gateway.js';
import { openSerialLink } from '../../src/osdp/link.js';
import { decodeCredential } from '../../src/osdp/formats.js';
import { EmulatedCp } from '../../emulators/osdp/cp.js';
import { Pn532Chip } from '../../emulators/pn532/chip.js';
import { HsuAttachment } from '../../emulators/pn532/hsu.js';
import { fieldCardOf } from '../../emulators/pn532/field.js';
import { ptyPair } from './pty.js';
import { KEY, waitFor } from './helpers.js';

t.test('PN532 tap -> osdp_RAW (34 bits) at the panel, in a secure session', async (t) => {
  const nfc = await ptyPair();
  t.teardown(() => nfc.stop());
  const line = await ptyPair();
  t.teardown(() => line.stop());
  const chip = new Pn532Chip('hsu');
  const hsu = new HsuAttachment(chip, nfc.b, { pace: false });
  await hsu.open();
  t.teardown(() => hsu.close());
  const gw = await startTestGateway({
    logLevel: 'warn',
    config: {
      drivers: { sim: { readers: [] }, pn532: { readers: [{ name: 'PN532 NFC', transport: { type: 'hsu', path: nfc.a } }] } },
      osdp: { enabled: true, path: line.a, baudRate: 115200, pds: [{ address: 0, reader: 'PN532 NFC', format: 'wiegand34', scbk: KEY.toString('hex') }] },
    },
  });
  t.teardown(() => gw.stop());
  if (!gw.gateway.services.some((s) => s.name === 'osdp')) {
    const { SERVICES } = await import('../../src/daemon/registry.js');
    const svc = (await SERVICES.find((e) => e.name === 'osdp')!.load())(gw.gateway.context);
    await svc.start();
    gw.gateway.services.push(svc);
  }
  const link = await openSerialLink(line.b, 115200);
  t.teardown(() => link.close());
  const cp = new EmulatedCp(link, { pds: [{ address: 0, secure: true, scbk: KEY }], pollIntervalMs: 20 });
  cp.start();
  t.teardown(() => cp.stop());
  await waitFor(() => cp.bus.isOnline(0) && gw.core.readers().some((r) => r.name.startsWith('PN532 NFC')), 'panel online and the PN532 listed', 20000);
  chip.tap(fieldCardOf({ type: 'mifare-classic-1k', uid: '04A1B2C3' }));
  await waitFor(() => cp.cards.length > 0, 'osdp_RAW at the panel', 20000);
  const c = cp.cards[0].card;
  t.match(decodeCredential(c.bitCount, c.data), { format: 'wiegand34', facility: 0xc3b2, card: 0xa104, parityOk: true });
});
