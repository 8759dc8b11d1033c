import t from 'tap';
import { mkdtempSync, readdirSync, readFileSync, writeFileSync, statSync, appendFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { DurableOutbox, type OutboxOptions, type EventDraft } from '../../src/events/outbox.js';
import { decodeRecords, encodeRecord } from '../../src/events/record.js';
import type { GatewayEvent } from '../../src/events/types.js';
import { lcg } from '../helpers/prng.js';

const tmp = (): string => mkdtempSync(join(tmpdir(), 'scardgate-outbox-'));

const opts = (dir: string, over: Partial<OutboxOptions> = {}): OutboxOptions => ({
  dir,
  maxBytes: 1 << 20,
  whenFull: 'drop-oldest',
  segmentBytes: 64 * 1024,
  commitDelayMs: 0,
  fsync: true,
  ackFlushMs: 0,
  memoryEvents: 4096,
  ...over,
});

const draft = (i: number): EventDraft => ({
  type: 'card.inserted',
  gatewayId: 'gw',
  reader: 'Sim Reader 00 00',
  time: new Date(1700000000000 + i).toISOString(),
  data: { uid: i.toString(16).padStart(8, '0').toUpperCase() },
});

function drain(box: DurableOutbox): GatewayEvent[] {
  const out: GatewayEvent[] = [];
  for (let e = box.next(); e; e = box.next()) out.push(e);
  return out;
}

const segFiles = (dir: string): string[] => readdirSync(dir).filter((n) => n.startsWith('seg-')).sort();

t.test('events are numbered in call order, durable when append resolves, and survive a reopen', async (t) => {
  const dir = tmp();
  const box = await DurableOutbox.open(opts(dir));
  const recs = await Promise.all(Array.from({ length: 100 }, (_, i) => box.append(draft(i))));
  t.same(
    recs.map((r) => r!.seq),
    Array.from({ length: 100 }, (_, i) => i + 1),
  );
  // No close: simulate a crash right after append resolved.
  const box2 = await DurableOutbox.open(opts(dir));
  const got = drain(box2);
  t.equal(got.length, 100);
  t.same(got[99].data, { uid: '00000063' });
  t.equal(box2.lastSeq(), 100);
  const next = await box2.append(draft(100));
  t.equal(next!.seq, 101, 'the sequence goes on after a restart');
  await box2.close();
  await box.close().catch(() => undefined);
});

t.test('acknowledged events are not handed out again; acknowledged segments are deleted; seq survives', async (t) => {
  const dir = tmp();
  const box = await DurableOutbox.open(opts(dir, { segmentBytes: 4096 }));
  for (let i = 0; i < 300; i++) await box.append(draft(i));
  t.ok(segFiles(dir).length > 3, 'several segments');
  const got = drain(box);
  t.equal(got.length, 300);
  // Acks out of order: position advances only over contiguous ones.
  box.ack(2);
  t.equal(box.ackedSeq(), 0);
  box.ack(1);
  t.equal(box.ackedSeq(), 2);
  for (const e of got) box.ack(e.seq);
  t.equal(box.depth(), 0);
  await box.close();
  t.equal(segFiles(dir).length, 1, 'only the segment being written remains');
  const box2 = await DurableOutbox.open(opts(dir, { segmentBytes: 4096 }));
  t.equal(box2.next(), undefined, 'nothing to resend');
  t.equal((await box2.append(draft(1)))!.seq, 301);
  await box2.close();
});

t.test('rewind hands out unacknowledged events again, in order', async (t) => {
  const dir = tmp();
  const box = await DurableOutbox.open(opts(dir));
  for (let i = 0; i < 10; i++) await box.append(draft(i));
  const first = drain(box);
  box.ack(first[0].seq);
  box.ack(first[1].seq);
  box.rewind();
  t.same(
    drain(box).map((e) => e.seq),
    [3, 4, 5, 6, 7, 8, 9, 10],
  );
  await box.close();
});

t.test('a backlog larger than the memory window is read back from disk in order', async (t) => {
  const dir = tmp();
  const box = await DurableOutbox.open(opts(dir, { memoryEvents: 64, segmentBytes: 8192 }));
  for (let i = 0; i < 1000; i++) await box.append(draft(i));
  const seen: number[] = [];
  for (;;) {
    const batch = drain(box);
    if (!batch.length) break;
    for (const e of batch) {
      seen.push(e.seq);
      box.ack(e.seq);
    }
  }
  t.same(
    seen,
    Array.from({ length: 1000 }, (_, i) => i + 1),
  );
  await box.close();
});

t.test('budget full, drop-oldest: oldest unsent events go, a counter says how many, order stays', async (t) => {
  const dir = tmp();
  const box = await DurableOutbox.open(opts(dir, { maxBytes: 65536, segmentBytes: 8192 }));
  const dropped: Array<[number, number]> = [];
  box.on('dropped', (a, b) => dropped.push([a, b]));
  for (let i = 0; i < 2000; i++) await box.append(draft(i));
  const st = box.stats();
  t.ok(st.diskBytes <= 65536 + 8192, `disk bytes bounded (${st.diskBytes})`);
  t.ok(st.dropped > 0, 'events were dropped');
  t.equal(dropped.reduce((n, [a, b]) => n + b - a + 1, 0), st.dropped);
  const got = drain(box);
  t.equal(got.length + st.dropped, 2000, 'every event is either kept or counted as dropped');
  t.equal(got[got.length - 1].seq, 2000, 'the newest are kept');
  for (let i = 1; i < got.length; i++) if (got[i].seq !== got[i - 1].seq + 1) t.fail('kept events are contiguous');
  await box.close();
  const box2 = await DurableOutbox.open(opts(dir, { maxBytes: 65536, segmentBytes: 8192 }));
  t.equal(box2.stats().dropped, st.dropped, 'the drop counter survives a restart');
  t.equal(box2.next()!.seq, got[0].seq);
  await box2.close();
});

t.test('budget full, refuse: new events are refused and counted, recorded ones kept, no seq used', async (t) => {
  const dir = tmp();
  const box = await DurableOutbox.open(opts(dir, { maxBytes: 65536, segmentBytes: 8192, whenFull: 'refuse' }));
  let refused = 0;
  let last = 0;
  for (let i = 0; i < 2000; i++) {
    const r = await box.append(draft(i));
    if (!r) refused++;
    else last = r.seq;
  }
  t.ok(refused > 0);
  t.equal(box.stats().refused, refused);
  t.equal(last, 2000 - refused);
  const got = drain(box);
  t.equal(got.length, last, 'all recorded events are there');
  for (const e of got) box.ack(e.seq);
  t.ok(await box.append(draft(0)), 'accepted again once acknowledged');
  await box.close();
});

t.test('group commit: many appends share few fsyncs', async (t) => {
  const dir = tmp();
  const box = await DurableOutbox.open(opts(dir));
  await Promise.all(Array.from({ length: 500 }, (_, i) => box.append(draft(i))));
  t.ok(box.stats().commits < 500, `commits ${box.stats().commits} < 500 appends`);
  await box.close();
});

t.test('recovery cuts a torn or corrupt tail and keeps every record before it', async (t) => {
  const dir = tmp();
  const box = await DurableOutbox.open(opts(dir));
  for (let i = 0; i < 20; i++) await box.append(draft(i));
  await box.close();
  const seg = join(dir, segFiles(dir)[0]);
  const good = statSync(seg).size;
  appendFileSync(seg, encodeRecord({ seq: 21, ...draft(20) }).subarray(0, 17));
  const box2 = await DurableOutbox.open(opts(dir));
  t.equal(drain(box2).length, 20);
  t.equal(statSync(seg).size, good, 'torn tail cut off');
  t.equal((await box2.append(draft(20)))!.seq, 21);
  await box2.close();
  t.equal(decodeRecords(readFileSync(seg)).events.length, 21, 'new record readable after the cut');
});

t.test('fuzz: random truncation and byte damage never crash recovery nor invent events', async (t) => {
  const rnd = lcg(0x5eed);
  const base = tmp();
  const box = await DurableOutbox.open(opts(base));
  for (let i = 0; i < 50; i++) await box.append(draft(i));
  await box.close();
  const segPath = join(base, segFiles(base)[0]);
  const pristine = readFileSync(segPath);
  const all = decodeRecords(pristine).events;
  for (let round = 0; round < 200; round++) {
    const dir = tmp();
    let bytes = Buffer.from(pristine);
    const cut = rnd(bytes.length + 1);
    bytes = bytes.subarray(0, cut);
    const flips = rnd(3);
    for (let f = 0; f < flips && bytes.length; f++) bytes[rnd(bytes.length)] ^= 1 + rnd(255);
    writeFileSync(join(dir, segFiles(base)[0]), bytes);
    const b = await DurableOutbox.open(opts(dir));
    const got = drain(b);
    // Every recovered event is one that was written, with its content intact, in order, as a prefix.
    for (let i = 0; i < got.length; i++) {
      if (JSON.stringify(got[i]) !== JSON.stringify(all[i])) {
        t.fail(`round ${round}: event ${i} differs`);
        break;
      }
    }
    const n = await b.append(draft(99));
    t.ok(n && n.seq === (got.length ? got[got.length - 1].seq : 0) + 1 || (n && n.seq > got.length), 'appends go on after recovery');
    await b.close();
    const again = await DurableOutbox.open(opts(dir));
    const after = drain(again);
    t.equal(after[after.length - 1].seq, n!.seq, 'the appended record is readable after the cut');
    await again.close();
    rmSync(dir, { recursive: true, force: true });
  }
});

t.test('decodeRecords refuses lengths, checksums and non-events', async (t) => {
  const rec = encodeRecord({ seq: 1, ...draft(1) });
  t.equal(decodeRecords(rec).events.length, 1);
  const badLen = Buffer.from(rec);
  badLen.writeUInt32LE(0xffffffff, 0);
  t.match(decodeRecords(badLen).problem, /bad record length/);
  const badCrc = Buffer.from(rec);
  badCrc[12] ^= 0xff;
  t.match(decodeRecords(badCrc).problem, /checksum/);
  t.match(decodeRecords(rec.subarray(0, 5)).problem, /torn header/);
});
