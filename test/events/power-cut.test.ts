/**
 * Power cuts on the durable outbox: a writer is killed with SIGKILL at random
 * moments of its write bursts and, as a real power cut would, loses whatever
 * of the last segment was not yet synced (the segment is truncated at a random
 * offset after the last event reported recorded: fsync'ed data survives a
 * power cut, the page cache does not). After every cut: each recorded,
 * unacknowledged event is there, in order; a torn record is dropped with a log
 * line; numbering never goes back. POWERCUT_ROUNDS=100 for the long version
 * (make powercut).
 */
import t from 'tap';
import { spawn } from 'node:child_process';
import { mkdtempSync, readdirSync, readFileSync, rmSync, truncateSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { DurableOutbox, type OutboxOptions } from '../../src/events/outbox.js';
import { RECORD_HEADER } from '../../src/events/record.js';
import { lcg } from '../helpers/prng.js';

const ROUNDS = Number(process.env.POWERCUT_ROUNDS ?? 6);
const writer = join(import.meta.dirname, 'outbox-writer.ts');
const OPTS = { maxBytes: 1 << 20, whenFull: 'drop-oldest', segmentBytes: 8192, commitDelayMs: 0, fsync: true, ackFlushMs: 5, memoryEvents: 1 << 20 } as const;

function runUntilKilled(dir: string, killAfterMs: number): Promise<number[]> {
  return new Promise((resolve, reject) => {
    const p = spawn(process.execPath, ['--import', 'tsx', writer, dir], { stdio: ['ignore', 'pipe', 'pipe'] });
    const recorded: number[] = [];
    let buf = '';
    let err = '';
    p.stdout.on('data', (d: Buffer) => {
      buf += d.toString();
      const lines = buf.split('\n');
      buf = lines.pop()!;
      for (const l of lines) if (l.startsWith('rec ')) recorded.push(Number(l.slice(4)));
    });
    p.stderr.on('data', (d: Buffer) => (err += d.toString()));
    let started = false;
    p.stdout.once('data', () => {
      started = true;
      setTimeout(() => p.kill('SIGKILL'), killAfterMs);
    });
    p.on('exit', (code, signal) => {
      if (signal === 'SIGKILL' && started) resolve(recorded);
      else reject(new Error(`writer exited ${code} ${signal}: ${err}`));
    });
  });
}

/** Byte offsets where each whole record of a segment ends, with its seq. */
function recordEnds(buf: Buffer): Array<{ seq: number; end: number }> {
  const out: Array<{ seq: number; end: number }> = [];
  let off = 0;
  while (buf.length - off >= RECORD_HEADER) {
    const len = buf.readUInt32LE(off);
    if (len === 0 || buf.length - off - RECORD_HEADER < len) break;
    try {
      const ev = JSON.parse(buf.subarray(off + RECORD_HEADER, off + RECORD_HEADER + len).toString()) as { seq: number };
      off += RECORD_HEADER + len;
      out.push({ seq: ev.seq, end: off });
    } catch {
      break;
    }
  }
  return out;
}

async function reopen(dir: string, warnings: string[], extra: Partial<OutboxOptions> = {}): Promise<DurableOutbox> {
  return DurableOutbox.open({ dir, ...OPTS, ...extra, warn: (msg, detail) => warnings.push(`${msg} ${JSON.stringify(detail ?? {})}`) });
}

t.test(`SIGKILL during write bursts, then the unsynced tail lost: ${ROUNDS} power cuts`, { timeout: 30000 + ROUNDS * 12000 }, async (t) => {
  const dir = mkdtempSync(join(tmpdir(), 'scardgate-powercut-'));
  t.teardown(() => rmSync(dir, { recursive: true, force: true }));
  const rnd = lcg(1616);
  let maxRecorded = 0;
  let torn = 0;
  let failures = 0;
  for (let round = 0; round < ROUNDS; round++) {
    const recorded = await runUntilKilled(dir, 100 + rnd(300));
    maxRecorded = Math.max(maxRecorded, ...recorded);
    // The page cache goes with the power: cut the last segment somewhere after its last synced record.
    const segs = readdirSync(dir)
      .filter((n) => n.startsWith('seg-'))
      .sort();
    const last = join(dir, segs[segs.length - 1]);
    const buf = readFileSync(last);
    const ends = recordEnds(buf);
    const synced = ends.filter((e) => recorded.includes(e.seq)).at(-1)?.end ?? 0;
    const cut = synced + rnd(buf.length - synced + 1);
    if (cut < buf.length) truncateSync(last, cut);
    const tornRecord = !ends.some((e) => e.end === cut) && cut !== synced && cut > 0 && cut < buf.length;
    const warnings: string[] = [];
    const box = await reopen(dir, warnings);
    const ack = box.ackedSeq();
    const present: number[] = [];
    for (let e = box.next(); e; e = box.next()) present.push(e.seq);
    const missing = recorded.filter((s) => s > ack && !present.includes(s));
    if (missing.length) failures++;
    t.same(missing, [], `cut ${round}: every recorded, unacknowledged event survived (ack ${ack}, cut at ${cut}/${buf.length})`);
    if (!present.every((s, k) => k === 0 || s === present[k - 1] + 1)) t.fail(`cut ${round}: backlog not contiguous`);
    if (box.lastSeq() < maxRecorded) t.fail(`cut ${round}: numbering went back (${box.lastSeq()} < ${maxRecorded})`);
    if (tornRecord) {
      torn++;
      if (!warnings.some((w) => /damaged records cut off/.test(w))) t.fail(`cut ${round}: a torn record dropped without a log line`);
    }
    // Appends go on after the cut, durable and numbered after everything recorded.
    const ev = await box.append({ type: 'card.inserted', gatewayId: 'cut', reader: 'r', time: new Date().toISOString(), data: { round } });
    if (!ev || ev.seq <= maxRecorded) t.fail(`cut ${round}: append after recovery got seq ${ev?.seq} (recorded up to ${maxRecorded})`);
    maxRecorded = Math.max(maxRecorded, ev?.seq ?? 0);
    await box.close();
  }
  t.equal(failures, 0, `${ROUNDS} power cuts, ${torn} with a torn last record: nothing recorded was lost`);
  t.ok(torn > 0 || ROUNDS < 5, `some cuts tore a record (${torn})`);
});

t.test('a segment truncated at a random offset (the last: a torn write; another: damage): recovery never throws, keeps order, logs', async (t) => {
  const rnd = lcg(42);
  for (let round = 0; round < 30; round++) {
    const dir = mkdtempSync(join(tmpdir(), 'scardgate-torn-'));
    try {
      const box = await reopen(dir, []);
      for (let i = 0; i < 60; i++) await box.append({ type: 'card.inserted', gatewayId: 'torn', reader: 'r', time: new Date().toISOString(), data: { i, pad: 'x'.repeat(rnd(200)) } });
      await box.close();
      const segs = readdirSync(dir)
        .filter((n) => n.startsWith('seg-'))
        .sort();
      const lastSegment = round % 2 === 0;
      const victim = join(dir, lastSegment ? segs[segs.length - 1] : segs[rnd(segs.length)]);
      const before = readFileSync(victim);
      const cut = rnd(before.length);
      truncateSync(victim, cut);
      const atBoundary = cut === 0 || recordEnds(before).some((e) => e.end === cut);
      const warnings: string[] = [];
      const again = await reopen(dir, warnings);
      const present: number[] = [];
      for (let e = again.next(); e; e = again.next()) present.push(e.seq);
      if (!present.every((s, k) => k === 0 || s > present[k - 1])) t.fail(`round ${round}: backlog out of order`);
      // A torn last record loses only itself and what came after it: the rest is contiguous.
      if (victim === join(dir, segs[segs.length - 1]) && !present.every((s, k) => k === 0 || s === present[k - 1] + 1)) t.fail(`round ${round}: backlog not contiguous after a torn tail`);
      if (!atBoundary && !warnings.some((w) => /damaged records cut off/.test(w))) t.fail(`round ${round}: a cut at ${cut}/${before.length} without a log line`);
      const ev = await again.append({ type: 'card.inserted', gatewayId: 'torn', reader: 'r', time: new Date().toISOString(), data: {} });
      t.ok(ev && ev.seq >= 1, `round ${round}: appends work after recovery (seq ${ev?.seq})`);
      await again.close();
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  }
});
