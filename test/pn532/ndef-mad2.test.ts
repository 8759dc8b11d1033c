/**
 * NDEF on a MIFARE Classic 4K beyond sector 15 (docs/pn532.md §13): the MAD2
 * in sector 16 marks NDEF sectors 17-39, the TLV runs on from sector 15 into
 * 17 (skipping 16) and through the 16-block sectors 32-39. card.inserted
 * carries the records intact through the sim reader and through the PN532
 * driver against the emulated chip on a real pty; a MAD2 whose CRC fails stops
 * the read at sector 15 and card.inserted says so.
 */
import t, { type Test } from 'tap';
import { startTestGateway } from '../helpers/gateway.js';
import { waitForEvent } from '../helpers/wait-for.js';
import { classicNdefSpec, type ClassicNdefLayout } from '../helpers/classic-ndef.js';
import { fieldCardOf } from '../../emulators/pn532/field.js';
import { encodeNdefMessage } from '../../src/contactless/ndef.js';
import type { GatewayEvents } from '../../src/events/pipeline.js';
import type { GatewayEvent } from '../../src/events/types.js';
import { ptyEmulator } from './helpers.js';

const longUri = `https://example.org/door/7/${'abcdefghij'.repeat(8)}`;
const text = 'Lobby — badge in';
const longText = 'Sectors seventeen and up, sixteen-block sectors too. '.repeat(7);
const haMessage = encodeNdefMessage([{ uri: 'https://www.home-assistant.io/tag/mad2-tag' }, { text: longText, lang: 'en' }]);

interface Case {
  name: string;
  layout: ClassicNdefLayout;
  check(t: Test, ev: GatewayEvent): void;
}

const CASES: Case[] = [
  {
    name: 'a URI record crossing from sector 15 into 17 (16 skipped), then a text record',
    layout: { type: 'mifare-classic-4k', uid: '0A4B0001', sectors: [14, 15, 17, 18], message: encodeNdefMessage([{ uri: longUri }, { text, lang: 'en' }]) },
    check(t, ev) {
      t.match(ev.data.ndef, { records: [{ tnf: 'well-known', type: 'U', uri: longUri }, { tnf: 'well-known', type: 'T', lang: 'en', text }] }, 'both records intact');
    },
  },
  {
    name: 'a message wholly in sectors 17+ (MAD1 has no NDEF sector), through 4- and 16-block sectors',
    layout: { type: 'mifare-classic-4k', uid: '0A4B0002', sectors: [31, 32, 33], message: haMessage },
    check(t, ev) {
      t.ok(haMessage.length > 48 + 240, 'the message runs on into sector 33');
      t.match(ev.data.ndef, { records: [{ type: 'U', uri: 'https://www.home-assistant.io/tag/mad2-tag' }, { type: 'T', text: longText }] }, 'both records intact');
      t.equal(ev.data.haTagId, 'mad2-tag', 'the Home Assistant tag id found beyond sector 16');
    },
  },
  {
    name: 'a MAD2 with a bad CRC: the read stops at sector 15 and the event says why',
    layout: { type: 'mifare-classic-4k', uid: '0A4B0003', sectors: [14, 15, 17, 18], message: encodeNdefMessage([{ uri: longUri }, { text, lang: 'en' }]), corruptMad2Crc: true },
    check(t, ev) {
      t.match(ev.data.ndef, { error: /MAD2 CRC mismatch/ }, 'MAD2 reported not valid');
      t.notOk((ev.data.ndef as { records?: unknown }).records, 'no cut records');
      t.equal(ev.data.uid, '0A4B0003', 'the event still carries the card');
    },
  },
];

const inserted = (ev: GatewayEvents, uid: string, what: string): Promise<GatewayEvent> =>
  waitForEvent<GatewayEvent>(ev, 'event', what, 10000, (e: GatewayEvent) => e.type === 'card.inserted' && e.data.uid === uid);

t.test('sim reader: MIFARE Classic 4K NDEF through the MAD2', async (t) => {
  const gw = await startTestGateway({ logLevel: 'warn', services: ['events'], config: { events: { debounceMs: 0 } } });
  t.teardown(() => gw.stop());
  const ev = gw.gateway.context.api.events() as GatewayEvents;
  const reader = gw.core.readers().find((r) => r.capabilities.contactless)!.name;
  await gw.core.simulateRemove(reader).catch(() => undefined);
  for (const c of CASES) {
    await t.test(c.name, async (t) => {
      const got = inserted(ev, c.layout.uid, `card.inserted of ${c.layout.uid}`);
      await gw.core.simulateInsert(reader, classicNdefSpec(c.layout));
      const e = await got;
      t.equal(e.data.cardType, 'mifare-classic-4k');
      c.check(t, e);
      await gw.core.simulateRemove(reader);
    });
  }
});

t.test('PN532 (emulated chip, real pty): MIFARE Classic 4K NDEF through the MAD2', async (t) => {
  const { pty, chip } = await ptyEmulator(t);
  const gw = await startTestGateway({
    logLevel: 'warn',
    services: ['events'],
    config: { events: { debounceMs: 0 }, drivers: { sim: { readers: [] }, pn532: { readers: [{ name: 'Door NFC', transport: { type: 'hsu', path: pty.host } }] } } },
  });
  t.teardown(() => gw.stop());
  const ev = gw.gateway.context.api.events() as GatewayEvents;
  for (const c of CASES) {
    await t.test(c.name, async (t) => {
      const got = inserted(ev, c.layout.uid, `card.inserted of ${c.layout.uid} from the PN532`);
      chip.tap(fieldCardOf(classicNdefSpec(c.layout)));
      const e = await got;
      t.equal(e.data.cardType, 'mifare-classic-4k', 'a 4K by its SAK');
      c.check(t, e);
      const gone = waitForEvent<GatewayEvent>(ev, 'event', `card.removed of ${c.layout.uid}`, 10000, (x: GatewayEvent) => x.type === 'card.removed' && x.data.uid === c.layout.uid);
      chip.remove();
      await gone;
    });
  }
});
