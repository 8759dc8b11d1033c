/**
 * Child process for the crash test: appends events to an outbox as fast as it
 * can, prints "rec <seq>" once each is durable, and acknowledges events a
 * while after they were recorded (as the broker would), until it is killed.
 */
import { DurableOutbox } from '../../src/events/outbox.js';

const dir = process.argv[2];
const box = await DurableOutbox.open({
  dir,
  maxBytes: 1 << 20,
  whenFull: 'drop-oldest',
  segmentBytes: 8192,
  commitDelayMs: 0,
  fsync: true,
  ackFlushMs: 5,
  memoryEvents: 256,
});
process.stdout.write(`start ${box.lastSeq()} ${box.ackedSeq()}\n`);
let i = 0;
for (;;) {
  const batch: Promise<unknown>[] = [];
  for (let k = 0; k < 20; k++) {
    batch.push(
      box.append({ type: 'card.inserted', gatewayId: 'crash', reader: 'r', time: new Date().toISOString(), data: { n: i++ } }).then((ev) => {
        if (ev) process.stdout.write(`rec ${ev.seq}\n`);
      }),
    );
  }
  await Promise.all(batch);
  // Acknowledge what was handed out, lagging behind like a broker.
  for (let e = box.next(); e; e = box.next()) if (e.seq % 7 !== 0 || e.seq < box.lastSeq() - 100) box.ack(e.seq);
  await new Promise((r) => setImmediate(r));
}
