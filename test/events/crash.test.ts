/**
 * kill -9 at random moments while an outbox is being written, rolled over,
 * acknowledged and pruned: after every restart each event that was reported
 * recorded and not acknowledged is there, in order, and numbering goes on.
 */
import t from 'tap';
import { spawn } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { DurableOutbox } from '../../src/events/outbox.js';
import { lcg } from '../helpers/prng.js';

const writer = join(import.meta.dirname, 'outbox-writer.ts');

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

t.test('SIGKILL at random moments loses no recorded event', { timeout: 120000 }, async (t) => {
  const dir = mkdtempSync(join(tmpdir(), 'scardgate-crash-'));
  t.teardown(() => rmSync(dir, { recursive: true, force: true }));
  const rnd = lcg(7);
  let maxRecorded = 0;
  for (let round = 0; round < 6; round++) {
    const recorded = await runUntilKilled(dir, 200 + rnd(600));
    t.ok(recorded.length > 0, `round ${round}: ${recorded.length} events recorded before the kill`);
    maxRecorded = Math.max(maxRecorded, ...recorded);
    const box = await DurableOutbox.open({ dir, maxBytes: 1 << 20, whenFull: 'drop-oldest', segmentBytes: 8192, commitDelayMs: 0, fsync: true, ackFlushMs: 5, memoryEvents: 1 << 20 });
    const ack = box.ackedSeq();
    const present: number[] = [];
    for (let e = box.next(); e; e = box.next()) present.push(e.seq);
    const missing = recorded.filter((s) => s > ack && !present.includes(s));
    t.same(missing, [], `round ${round}: every recorded, unacknowledged event survived (ack ${ack})`);
    t.ok(
      present.every((s, k) => k === 0 || s === present[k - 1] + 1),
      'the backlog is contiguous',
    );
    t.ok(box.lastSeq() >= maxRecorded, 'numbering never goes back');
    await box.close();
  }
});
