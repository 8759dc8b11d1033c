/**
 * Clock jumps (a board without a real-time clock starts in the past and jumps
 * when NTP synchronises): event times carry `timeUnsynced` while the clock
 * cannot be trusted, `seq` goes on regardless, and the de-bounce, session
 * leases and technician sessions run on monotonic time. The wall clock is
 * faked by replacing the global Date.
 */
import t from 'tap';
import { mkdtempSync, mkdirSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { startTestGateway } from '../helpers/gateway.js';
import { acquireGatewayEvents, releaseGatewayEvents } from '../../src/events/index.js';
import { clockProbe, CLOCK_FLOOR_MS } from '../../src/events/clock.js';
import { SessionStore } from '../../src/api/http/auth/sessions.js';
import { SessionManager } from '../../src/core/sessions.js';
import type { GatewayEvent } from '../../src/events/types.js';

const RealDate = Date;
let offsetMs = 0;
/** Shift the wall clock (Date.now and new Date()) by `ms` from the real one. */
function setWallClock(ms: number): void {
  offsetMs = ms;
}
class FakeDate extends RealDate {
  constructor(...args: unknown[]) {
    if (args.length === 0) super(RealDate.now() + offsetMs);
    else super(...(args as [number]));
  }
  static override now(): number {
    return RealDate.now() + offsetMs;
  }
}
globalThis.Date = FakeDate as DateConstructor;
t.teardown(() => {
  globalThis.Date = RealDate;
});
const YEAR = 365 * 24 * 3600 * 1000;

async function until(what: string, cond: () => boolean, ms = 10000): Promise<void> {
  const end = performance.now() + ms;
  while (!cond()) {
    if (performance.now() > end) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 10));
  }
}

t.test('the clock probe: floor year, systemd-timesyncd state', async (t) => {
  const dir = mkdtempSync(join(tmpdir(), 'scardgate-clock-'));
  t.teardown(() => rmSync(dir, { recursive: true, force: true }));
  const ts = join(dir, 'timesync');
  const probe = () => clockProbe({ timesyncDir: ts, recheckMs: 0 });
  setWallClock(0);
  t.equal(probe().synced(), true, 'no timesyncd, a plausible date: trusted');
  setWallClock(CLOCK_FLOOR_MS - RealDate.now() - 1000);
  t.equal(probe().synced(), false, 'a date before this release: not synchronised');
  setWallClock(0);
  mkdirSync(ts);
  const p = probe();
  t.equal(p.synced(), false, 'timesyncd running, not synchronised yet');
  writeFileSync(join(ts, 'synchronized'), '');
  t.equal(p.synced(), true, 'timesyncd says synchronised');
  rmSync(join(ts, 'synchronized'));
  t.equal(p.synced(), true, 'synchronised stays so');
  setWallClock(-60 * YEAR);
  t.equal(p.synced(), false, 'but a date before this release is never right');
  setWallClock(0);
});

t.test('events flag an untrusted time; seq goes on across jumps both ways', async (t) => {
  setWallClock(-56 * YEAR); // 1970: a Raspberry Pi after power-up
  const gw = await startTestGateway({ logLevel: 'warn', config: { events: { debounceMs: 0 } } });
  const ev = await acquireGatewayEvents(gw.gateway.context);
  t.teardown(async () => {
    setWallClock(0);
    await releaseGatewayEvents(gw.core);
    await gw.stop();
  });
  const got: GatewayEvent[] = [];
  ev.on('event', (e) => got.push(e));
  const reader = gw.core.readers().find((r) => r.capabilities.contactless)!.name;
  await gw.core.simulateRemove(reader).catch(() => undefined);
  await gw.core.simulateInsert(reader, { type: 'mifare-classic-1k', uid: '04111111' });
  await until('card.inserted in 1970', () => got.some((e) => e.type === 'card.inserted'));
  const before = got.find((e) => e.type === 'card.inserted')!;
  t.equal(before.timeUnsynced, true, 'flagged');
  t.match(before.time, /^1970-/);
  // NTP: the clock jumps 56 years forward; the probe re-checks within a second.
  setWallClock(0);
  let n = 0;
  await until('an event without the flag', () => {
    if (got.every((e) => e.timeUnsynced)) void gw.core.simulateRemove(reader).then(() => gw.core.simulateInsert(reader, { type: 'mifare-classic-1k', uid: `0422${(n++).toString(16).padStart(4, '0')}` }));
    return got.some((e) => !e.timeUnsynced);
  });
  const after = got.find((e) => !e.timeUnsynced)!;
  t.notOk('timeUnsynced' in after, 'no flag once the clock is right');
  // And back by a year (a bad NTP server): seq still grows by one per event.
  setWallClock(-YEAR);
  await gw.core.simulateRemove(reader);
  await until('the removal', () => got.at(-1)!.type === 'card.removed');
  const seqs = got.map((e) => e.seq);
  t.same(seqs, seqs.map((_, i) => seqs[0] + i), 'seq consecutive across both jumps');
  const removed = got.at(-1)!;
  t.ok((removed.data.presentMs as number) >= 0 && (removed.data.presentMs as number) < 60000, `presentMs from monotonic time (${removed.data.presentMs})`);
});

t.test('de-bounce holds across a backward jump', async (t) => {
  setWallClock(0);
  const gw = await startTestGateway({ logLevel: 'warn', config: { events: { debounceMs: 400 } } });
  const ev = await acquireGatewayEvents(gw.gateway.context);
  t.teardown(async () => {
    setWallClock(0);
    await releaseGatewayEvents(gw.core);
    await gw.stop();
  });
  const got: GatewayEvent[] = [];
  ev.on('event', (e) => got.push(e));
  const reader = gw.core.readers().find((r) => r.capabilities.contactless)!.name;
  await gw.core.simulateRemove(reader).catch(() => undefined);
  await gw.core.simulateInsert(reader, { type: 'mifare-classic-1k', uid: '04333333' });
  await until('card.inserted', () => got.some((e) => e.type === 'card.inserted' && e.data.uid === '04333333'));
  await gw.core.simulateRemove(reader);
  setWallClock(-10 * YEAR);
  await gw.core.simulateInsert(reader, { type: 'mifare-classic-1k', uid: '04333333' });
  await gw.core.simulateRemove(reader);
  // The removal is recorded once the de-bounce runs out, 400 ms of monotonic time later, not 10 years.
  await until('card.removed after the de-bounce', () => got.some((e) => e.type === 'card.removed' && e.data.uid === '04333333'));
  t.equal(got.filter((e) => e.type === 'card.inserted' && e.data.uid === '04333333').length, 1, 'the quick return was one tap');
  t.equal(ev.stats().debounced, 1);
});

t.test('session leases and technician sessions ignore wall clock jumps', async (t) => {
  setWallClock(0);
  const store = new SessionStore(60_000);
  const s = store.create();
  setWallClock(YEAR);
  t.ok(store.get(s.id), 'a technician is not logged out by a jump forward');
  setWallClock(-YEAR);
  t.ok(store.get(s.id), 'nor by a jump back');
  setWallClock(0);

  const gw = await startTestGateway({ logLevel: 'warn' });
  t.teardown(async () => {
    setWallClock(0);
    await gw.stop();
  });
  const sm = new SessionManager(gw.core, { maxLeaseMs: 600000 });
  const reader = gw.core.readers().find((r) => r.atr.length && !r.capabilities.contactless)!.name;
  const open = await sm.open('t', reader, { leaseMs: 5000 });
  setWallClock(10 * YEAR);
  const resp = await sm.transmit('t', open.id, Buffer.from('00A4040000', 'hex'));
  t.ok(resp.length >= 2, 'the session still answers after a 10-year jump');
  setWallClock(0);
  await sm.close('t', open.id);
});
