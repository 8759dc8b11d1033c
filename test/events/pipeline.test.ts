/**
 * The event pipeline over the real core and sim driver: card events with UID,
 * Wiegand numbers and profile results, de-bounce, secret redaction, ordering,
 * history, and a sequence that survives a restart on the same state dir.
 */
import t from 'tap';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { startTestGateway, type TestGateway } from '../helpers/gateway.js';
import type { GatewayEvents } from '../../src/events/pipeline.js';
import type { GatewayEvent } from '../../src/events/types.js';
import { waitFor } from '../helpers/wait-for.js';
import { EventEmitter } from 'node:events';
import { DRIVERS, type DriverEntry } from '../../src/daemon/registry.js';
import type { Driver } from '../../src/driver/contract.js';
import type { SimSlot } from '../../drivers/sim/slot.js';

async function withPipeline(events: Record<string, unknown>, stateDir?: string): Promise<{ gw: TestGateway; ev: GatewayEvents; got: GatewayEvent[] }> {
  const gw = await startTestGateway({ logLevel: 'warn', services: ['events'], config: { events, ...(stateDir ? { state: { dir: stateDir } } : {}) } });
  const ev = gw.gateway.context.api.events() as GatewayEvents;
  const got: GatewayEvent[] = [];
  ev.on('event', (e) => got.push(e));
  return { gw, ev, got };
}

const until = async (cond: () => boolean, ms = 5000, what = 'the pipeline condition'): Promise<void> => {
  await waitFor(cond, what, ms);
};

t.test('a card held in the field is one tap: a quick leave-and-return of the same card makes no events', async (t) => {
  const { gw, ev, got } = await withPipeline({ debounceMs: 300 });
  t.teardown(async () => {
    await gw.stop();
  });
  const cl = gw.core.readers().find((r) => r.capabilities.contactless)!.name;
  await gw.core.simulateRemove(cl);
  await gw.core.simulateInsert(cl, { type: 'mifare-classic-1k', uid: 'A1A2A3A4' });
  await until(() => got.some((e) => e.type === 'card.inserted'));
  const n = got.length;
  // The same card flickers out and back (a PN532 polling a card held still).
  for (let i = 0; i < 5; i++) {
    await gw.core.simulateRemove(cl);
    await gw.core.simulateInsert(cl, { type: 'mifare-classic-1k', uid: 'A1A2A3A4' });
  }
  // Bounded by the pipeline having handled all five flickers (debounced), not by a sleep; the next card's
  // events below (exactly a removal and an insertion after n) prove nothing was emitted late either.
  await until(() => (ev.stats().debounced as number) >= 5, 5000, 'the five flickers to be debounced');
  t.equal(got.length, n, 'no events for the flicker');
  // Another card right after the first left: removal of the first, then the second.
  await gw.core.simulateRemove(cl);
  await gw.core.simulateInsert(cl, { type: 'mifare-classic-1k', uid: 'B1B2B3B4' });
  await until(() => got.filter((e) => e.type === 'card.inserted').length === 2);
  const tail = got.slice(n).map((e) => [e.type, e.data.uid]);
  t.same(tail, [
    ['card.removed', 'A1A2A3A4'],
    ['card.inserted', 'B1B2B3B4'],
  ]);
  // Left for good: the removal comes once the de-bounce time has passed.
  await gw.core.simulateRemove(cl);
  await until(() => got[got.length - 1].type === 'card.removed' && got[got.length - 1].data.uid === 'B1B2B3B4');
  t.pass('removal after the de-bounce time');
});

t.test('profiles: APDUs run on a matching card; secrets redacted; results in card.inserted', async (t) => {
  const { gw, got } = await withPipeline({
    debounceMs: 0,
    profiles: [
      {
        name: 'contact-check',
        match: { contactless: false, atrPrefix: '3B 8B' },
        apdus: [
          { name: 'select-mf', apdu: '00 A4 00 0C 02 3F 00' },
          { name: 'verify', apdu: '00 20 00 81 04 31 32 33 34' },
          { name: 'challenge', apdu: '00 84 00 00 08', secret: true },
        ],
      },
      { name: 'contactless-uid', match: { contactless: true }, apdus: [{ name: 'uid', apdu: 'FF CA 00 00 00' }] },
    ],
  });
  t.teardown(async () => {
    await gw.stop();
  });
  const b = gw.core.readers().find((r) => r.name.includes('Contact Reader B'))!.name;
  await gw.core.simulateRemove(b);
  await gw.core.simulateInsert(b, 'iso7816');
  await until(() => got.some((e) => e.type === 'card.inserted' && e.reader === b));
  const ins = got.find((e) => e.type === 'card.inserted' && e.reader === b)!;
  const p = ins.data.profile as { name: string; results: Record<string, Record<string, unknown>> };
  t.equal(p.name, 'contact-check');
  t.same([p.results['select-mf'].sw, p.results['select-mf'].ok], ['9000', true]);
  t.equal(p.results.verify.sw, '9000', 'VERIFY ran');
  t.notMatch(JSON.stringify(ins), /31323334|31 32 33 34/, 'the PIN is not in the event');
  t.match(p.results.verify.apdu as string, /redacted/);
  t.equal(p.results.challenge.redacted, true, 'a profile APDU marked secret hides its answer');
  t.notOk('data' in p.results.challenge);
  t.equal(ins.data.protocol, 'T=1');
  t.notOk(ins.data.uid, 'contact cards have no UID');
  // A contact card whose ATR does not match runs no profile.
  const a = gw.core.readers().find((r) => r.name.includes('Contact Reader A'))!.name;
  await gw.core.simulateRemove(a);
  await gw.core.simulateInsert(a, 'iso7816-t0');
  await until(() => got.some((e) => e.type === 'card.inserted' && e.reader === a));
  t.notOk(got.find((e) => e.type === 'card.inserted' && e.reader === a)!.data.profile);
});

t.test('a bad profile is refused at start-up with its name', async (t) => {
  await t.rejects(
    withPipeline({ profiles: [{ name: 'broken', match: {}, apdus: [{ name: 'x', apdu: 'FF CA 00 00 0' }] }] }),
    /profile "broken" APDU "x": odd number of hex digits/,
  );
});

t.test('order, history, and a sequence that survives a restart; without MQTT events are acknowledged at once', async (t) => {
  const state = mkdtempSync(join(tmpdir(), 'scardgate-ev-'));
  t.teardown(() => rmSync(state, { recursive: true, force: true }));
  const first = await withPipeline({ debounceMs: 0, historySize: 5 }, state);
  const cl = first.gw.core.readers().find((r) => r.capabilities.contactless)!.name;
  for (let i = 0; i < 10; i++) {
    await first.gw.core.simulateRemove(cl);
    await first.gw.core.simulateInsert(cl, { type: 'mifare-classic-1k', uid: (0xc0000000 + i).toString(16).toUpperCase() });
  }
  await first.ev.settle();
  const seqs = first.got.map((e) => e.seq);
  t.same(
    seqs,
    seqs.map((_, k) => k + 1),
    'seq starts at 1 and grows by one',
  );
  t.same(
    first.got.filter((e) => e.type === 'card.inserted').map((e) => e.data.uid),
    Array.from({ length: 10 }, (_, i) => (0xc0000000 + i).toString(16).toUpperCase()),
    'taps recorded in order even though each profile runs asynchronously',
  );
  t.equal(first.ev.history().length, 5, 'history bounded');
  t.same(
    first.ev.history({ afterSeq: seqs.length - 2 }).map((e) => e.seq),
    [seqs.length - 1, seqs.length],
  );
  t.equal(first.ev.outbox.depth(), 0, 'nobody publishes (MQTT disabled): acknowledged at once');
  const last = first.ev.lastSeq();
  await first.gw.stop();

  const second = await withPipeline({ debounceMs: 0 }, state);
  t.teardown(async () => {
    await second.gw.stop();
  });
  const cl2 = second.gw.core.readers().find((r) => r.capabilities.contactless)!.name;
  await second.gw.core.simulateRemove(cl2);
  await until(() => second.got.length > 0);
  t.equal(second.got[0].seq, last + 1, 'the sequence goes on after a restart');
});

t.test('cards that came while no journal ran: recorded when it starts; cards it already told of: not again', async (t) => {
  // Drivers start before the journal (an OSDP read queued in the reader, a tap during start-up), and a journal can be
  // restarted (a config change): an insertion in either gap is an event nobody recorded yet.
  const gw = await startTestGateway({ logLevel: 'warn', services: ['events'], config: { events: { debounceMs: 0 } } });
  t.teardown(() => gw.stop());
  const api = gw.gateway.context.api;
  const readers = gw.core.readers();
  const atStart = readers.filter((r) => r.atr.length > 0).map((r) => r.name);
  t.ok(atStart.length > 0, 'a sim reader has a card from the start');
  const cl1 = readers.find((r) => r.capabilities.contactless)!.name;
  const cl2 = readers.find((r) => !r.capabilities.contactless && r.atr.length === 0)!.name;
  t.ok(cl1 && cl2, 'a contactless and an empty contact sim reader');
  const first = api.events() as GatewayEvents;
  const got1: GatewayEvent[] = [];
  first.on('event', (e) => got1.push(e));
  await gw.core.simulateRemove(cl1);
  await gw.core.simulateInsert(cl1, { type: 'mifare-classic-1k', uid: 'D1D2D3D4' });
  await until(() => got1.some((e) => e.type === 'card.inserted' && e.data.uid === 'D1D2D3D4'), 5000, 'the first journal to record D1D2D3D4');

  const events = gw.gateway.services.find((s) => s.name === 'events')!;
  await events.stop();
  await gw.core.simulateRemove(cl2);
  await gw.core.simulateInsert(cl2, 'iso7816');
  const { createEventsService } = await import('../../src/gateway/events-service.js');
  const again = createEventsService(gw.gateway.context);
  await again.start();
  t.teardown(() => again.stop());
  const second = api.events() as GatewayEvents;
  await second.settle();
  const inserted = second.history().filter((e) => e.type === 'card.inserted');
  t.same(
    inserted.map((e) => [e.reader, e.data.uid]),
    [[cl2, undefined]],
    'the card that came in the gap is recorded, the one the first journal told of is not, nor the cards present from the start',
  );
  t.ok(second.history().every((e) => e.type !== 'card.removed'), 'no removal made up either');
  // and its removal names it, as for any card
  await gw.core.simulateRemove(cl2);
  await until(() => second.history().some((e) => e.type === 'card.removed' && e.reader === cl2 && typeof e.data.atr === 'string'), 5000, 'the removal, naming the ATR');
});

t.test('a card read that comes and goes while the gateway starts (an OSDP read the reader queued, a quick tap) is recorded', async (t) => {
  // The daemon's own start path: a second driver, started after the sim driver has listed its readers and before the
  // frontends, puts a card on a sim reader and takes it away again. The journal starts before the drivers, so both
  // are events; the readers themselves and the cards they had when listed are not news.
  let sim: { list(): Array<{ friendlyName: string; slots: SimSlot[] }> } | undefined;
  const simEntry = DRIVERS.find((d) => d.name === 'sim')!;
  const drivers: DriverEntry[] = [
    { ...simEntry, create: async (c, ctx) => (sim = (await simEntry.create(c, ctx)) as unknown as typeof sim) as unknown as Driver },
    {
      name: 'tap-during-start',
      enabled: () => true,
      create: async () => {
        const slot = sim!.list().find((r) => r.friendlyName === 'Simulated Contactless Reader')!.slots[0];
        await slot.simulate.remove();
        await slot.simulate.insert({ type: 'mifare-classic-1k', uid: 'F1F2F3F4' });
        await slot.simulate.remove();
        const quiet = new EventEmitter() as unknown as Driver;
        return Object.assign(quiet, { name: 'tap-during-start', start: async () => undefined, stop: async () => undefined });
      },
    },
  ];
  const gw = await startTestGateway({ logLevel: 'warn', services: ['events'], drivers, config: { events: { debounceMs: 0 } } });
  t.teardown(() => gw.stop());
  const ev = gw.gateway.context.api.events() as GatewayEvents;
  await until(() => ev.history().some((e) => e.type === 'card.removed' && e.data.uid === 'F1F2F3F4'), 5000, 'the removal of the card read during start-up');
  const cl = gw.core.readers().find((r) => r.name.startsWith('Simulated Contactless Reader'))!.name;
  t.same(
    ev.history().filter((e) => e.reader === cl).map((e) => [e.type, e.data.uid ?? null]),
    [
      ['card.removed', ev.history().find((e) => e.reader === cl)?.data.uid ?? null],
      ['card.inserted', 'F1F2F3F4'],
      ['card.removed', 'F1F2F3F4'],
    ],
    'during start-up: the card the reader was listed with taken away (named), the read put on and taken away, once each',
  );
  t.match(ev.history().find((e) => e.reader === cl)?.data, { atr: String }, 'the first removal names the card the reader had');
  t.same(
    ev.history().filter((e) => e.type === 'reader.added' || (e.type === 'card.inserted' && e.data.uid !== 'F1F2F3F4')),
    [],
    'no reader.added for the readers listed at start, no card.inserted for the cards they had then',
  );
  const atStart = gw.core.readers().filter((r) => r.atr.length > 0);
  t.ok(atStart.length > 0, 'a sim reader kept its card from the start');
  await gw.core.simulateRemove(atStart[0].name);
  await until(() => ev.history().some((e) => e.type === 'card.removed' && e.reader === atStart[0].name && typeof e.data.atr === 'string'), 5000, 'the removal of a card present from the start, naming its ATR');
});
