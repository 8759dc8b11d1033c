/**
 * The durable event outbox: every gateway event is appended to a segment file
 * and fsync'ed (group commit: one write + one fdatasync for whatever arrived
 * meanwhile) before anyone may publish it, and it stays there until the broker
 * acknowledged it. Flash-friendly by construction: append-only segments of
 * bounded size, whole segments deleted once acknowledged, the acknowledged
 * position written in place to a 64-byte file at a bounded rate, never a
 * rewrite of what is already on disk.
 *
 * Consumers take events in order with next(), acknowledge them with ack(), and
 * rewind() to the first unacknowledged one when a connection is lost.
 *
 * Only recovery at start-up touches the disk synchronously; appends, commits,
 * directory syncs and segment deletions run on the promise API, so a slow
 * flash never stalls the event loop (readers, sockets, the web UI). A deleted
 * segment is removed from the accounting at once and unlinked in the
 * background (`deleting` chains them); close() waits for it.
 */
import { EventEmitter } from 'node:events';
import { promises as fsp, mkdirSync, readdirSync, readFileSync, statSync, truncateSync } from 'node:fs';
import { join } from 'node:path';
import type { GatewayEvent } from './types.js';
import { decodeRecords, encodeRecord } from './record.js';
import { AckFile, readAckFile } from './ack-file.js';
import { errCode, isDiskFull, isNotWritable } from '../fs/not-writable.js';

export interface OutboxOptions {
  dir: string;
  maxBytes: number;
  whenFull: 'drop-oldest' | 'refuse';
  segmentBytes: number;
  commitDelayMs: number;
  fsync: boolean;
  ackFlushMs: number;
  memoryEvents: number;
  /** Called with recovery findings and budget drops (the pipeline logs them). */
  warn?: (msg: string, detail?: Record<string, unknown>) => void;
}

interface Segment {
  firstSeq: number;
  /** Last recorded seq in it (firstSeq - 1 while empty). */
  lastSeq: number;
  bytes: number;
  path: string;
}

export interface OutboxEvents {
  /** The event is on disk (after fsync) and may be published. */
  recorded: [ev: GatewayEvent];
  /** Events were dropped by the budget policy (seq range, inclusive). */
  dropped: [fromSeq: number, toSeq: number];
}

export interface OutboxStats {
  lastSeq: number;
  /** Highest seq durable on disk: every event up to it survives a crash. */
  recordedSeq: number;
  ackSeq: number;
  /** Recorded, not yet acknowledged. */
  depth: number;
  diskBytes: number;
  segments: number;
  dropped: number;
  refused: number;
  /** Found damaged at start-up (torn tail cut off, or a damaged middle). */
  recoveredCorruptBytes: number;
  bytesWritten: number;
  commits: number;
  ackWrites: number;
  policy: 'drop-oldest' | 'refuse';
  maxBytes: number;
  /** False while the state directory takes no writes (read-only, no permission): events cannot be recorded. */
  writable: boolean;
  /** Why not (errno code), while not writable. */
  notWritable?: string;
  /** Segments of unsent events given up because the file system was full before the budget (drop-oldest). */
  diskFullDrops: number;
}

const SEG_RE = /^seg-(\d{16})\.log$/;

const segName = (firstSeq: number): string => `seg-${String(firstSeq).padStart(16, '0')}.log`;

export type EventDraft = Omit<GatewayEvent, 'seq'>;

interface PendingAppend {
  ev: GatewayEvent;
  rec: Buffer;
  resolve: (ev: GatewayEvent) => void;
  reject: (e: Error) => void;
}

export class DurableOutbox extends EventEmitter<OutboxEvents> {
  private readonly o: OutboxOptions;
  private segments: Segment[] = [];
  private fh?: fsp.FileHandle;
  private ackFile!: AckFile;
  private seq = 0;
  private durableSeq = 0;
  private ackSeq = 0;
  private persistedAck = 0;
  /** Acknowledged position known to be on disk (fsync'ed). */
  private syncedAck = 0;
  private dropped = 0;
  private refused = 0;
  private corruptBytes = 0;
  private bytesWritten = 0;
  private commits = 0;
  private ackWrites = 0;
  private pendingBytes = 0;
  private queue: PendingAppend[] = [];
  private flushing?: Promise<void>;
  private flushTimer?: NodeJS.Timeout;
  private ackTimer?: NodeJS.Timeout;
  private ackWriting?: Promise<void>;
  /** Background unlinks (and the directory sync after them), in order. */
  private deleting: Promise<void> = Promise.resolve();
  /** Acknowledged out of order, waiting for the ones before them. */
  private ackedAhead = new Set<number>();
  /** Unacknowledged recorded events held in memory, contiguous, oldest first. */
  private mem: GatewayEvent[] = [];
  /** First seq that is on disk but not in `mem` (backlog beyond the memory window), or 0. */
  private diskOnlyFrom = 0;
  /** Next seq next() hands out. */
  private cursor = 1;
  private closed = false;
  /** Set while the directory could not be opened for writing; every flush tries again. */
  private unwritable?: { code: string; since: number };
  /** Damaged tails found at recovery, cut once the directory takes writes. */
  private truncations: Array<{ path: string; bytes: number }> = [];
  private diskFullDrops = 0;

  private constructor(o: OutboxOptions) {
    super();
    this.o = { ...o, segmentBytes: Math.max(4096, Math.min(o.segmentBytes, Math.floor(o.maxBytes / 4))) };
  }

  /** Open (creating the directory) and recover: cut a torn tail, delete acknowledged segments, reload the backlog. */
  static async open(o: OutboxOptions): Promise<DurableOutbox> {
    const box = new DurableOutbox(o);
    await box.recover();
    return box;
  }

  private warn(msg: string, detail?: Record<string, unknown>): void {
    this.o.warn?.(msg, detail);
  }

  private async recover(): Promise<void> {
    const dir = this.o.dir;
    const ack = readAckFile(join(dir, 'ack'));
    this.ackSeq = ack?.ackSeq ?? 0;
    this.dropped = ack?.dropped ?? 0;
    let entries: string[] = [];
    try {
      entries = readdirSync(dir);
    } catch (e) {
      if (errCode(e) !== 'ENOENT') throw e;
    }
    const names = entries.filter((n) => SEG_RE.test(n)).sort();
    let lastSeq = this.ackSeq;
    const unacked: GatewayEvent[] = [];
    for (let i = 0; i < names.length; i++) {
      const path = join(dir, names[i]);
      const firstSeq = Number(SEG_RE.exec(names[i])![1]);
      const buf = readFileSync(path);
      const dec = decodeRecords(buf);
      // A segment can only hold seqs from its name on, after the previous segment's.
      const floor = lastSeq;
      const events = dec.events.filter((e) => e.seq >= firstSeq && e.seq > floor);
      if (dec.goodBytes < buf.length) {
        this.corruptBytes += buf.length - dec.goodBytes;
        this.warn('event outbox: damaged records cut off at start-up', { segment: names[i], problem: dec.problem, lostBytes: buf.length - dec.goodBytes });
        // Appends go after the last good record; a damaged middle segment is cut the same way (once, before the first write).
        this.truncations.push({ path, bytes: dec.goodBytes });
      }
      const segLast = events.length ? events[events.length - 1].seq : Math.max(firstSeq - 1, lastSeq);
      lastSeq = Math.max(lastSeq, segLast, firstSeq - 1);
      this.segments.push({ firstSeq, lastSeq: segLast, bytes: dec.goodBytes, path });
      for (const e of events) if (e.seq > this.ackSeq) unacked.push(e);
    }
    this.seq = lastSeq;
    this.durableSeq = lastSeq;
    this.cursor = this.ackSeq + 1;
    for (const e of unacked) {
      if (this.mem.length < this.o.memoryEvents) this.mem.push(e);
      else {
        this.diskOnlyFrom = e.seq;
        break;
      }
    }
    // Seqs between ackSeq and the first unacked one were lost (damaged); move past them.
    if (this.mem.length && this.mem[0].seq > this.ackSeq + 1) {
      this.warn('event outbox: events lost to damage before start-up', { fromSeq: this.ackSeq + 1, toSeq: this.mem[0].seq - 1 });
      this.ackSeq = this.mem[0].seq - 1;
      this.cursor = this.ackSeq + 1;
    } else if (!this.mem.length) {
      // Nothing left to send: whatever lies between ackSeq and the last seq was lost to damage.
      this.ackSeq = this.seq;
      this.cursor = this.ackSeq + 1;
    }
    this.ackFile = new AckFile(join(dir, 'ack'), ack?.gen ?? 0n, this.o.fsync);
    this.persistedAck = ack?.ackSeq ?? 0;
    this.syncedAck = this.persistedAck;
    try {
      await this.openForWrite();
    } catch (e) {
      // A read-only or inaccessible state directory must not keep the gateway from starting: its readers work, the
      // backlog read above is delivered, and recording resumes once the directory takes writes (each flush tries).
      if (!isNotWritable(e) && errCode(e) !== 'ENOENT') throw e;
      this.unwritable = { code: errCode(e), since: Date.now() };
      this.warn('event outbox: the state directory takes no writes; events cannot be recorded until it does', { dir, code: errCode(e), err: e });
    }
  }

  /** Everything recovery needs written: the directory, cut damaged tails, the ack file, the segment to append to. */
  private async openForWrite(): Promise<void> {
    mkdirSync(this.o.dir, { recursive: true });
    for (const t of this.truncations) truncateSync(t.path, t.bytes);
    this.truncations = [];
    await this.ackFile.open();
    if (!this.fh) {
      const cur = this.segments[this.segments.length - 1];
      if (cur && cur.bytes < this.o.segmentBytes) this.fh = await fsp.open(cur.path, 'a');
      else await this.roll();
    }
    void this.deleteAckedSegments();
    if (this.unwritable) {
      this.warn('event outbox: the state directory takes writes again; recording resumes', { dir: this.o.dir, code: this.unwritable.code, forSeconds: Math.round((Date.now() - this.unwritable.since) / 1000) });
      this.unwritable = undefined;
      this.scheduleAckWrite();
    }
  }

  private async syncDir(): Promise<void> {
    if (!this.o.fsync) return;
    // A new or deleted segment is only durable once its directory entry is.
    const dir = await fsp.open(this.o.dir, 'r');
    try {
      await dir.sync();
    } finally {
      await dir.close();
    }
  }

  /** Unlink segment files in the background (after any earlier deletion), then make the removal durable. */
  private unlinkLater(paths: string[]): Promise<void> {
    if (!paths.length) return this.deleting;
    this.deleting = this.deleting
      .then(async () => {
        // Already gone is fine: the goal is that it is gone.
        await Promise.all(paths.map((p) => fsp.unlink(p).catch(() => undefined)));
        await this.syncDir();
      })
      .catch((e: Error) => this.warn('event outbox: could not delete acknowledged segments', { err: e }));
    return this.deleting;
  }

  private async roll(firstSeq = this.seq + 1): Promise<void> {
    const path = join(this.o.dir, segName(firstSeq));
    // The new file first: if it cannot be created (disk full), appends go on in the current one once space returns.
    const fh = await fsp.open(path, 'a');
    await this.fh?.close();
    this.fh = fh;
    this.segments.push({ firstSeq, lastSeq: firstSeq - 1, bytes: 0, path });
    await this.syncDir();
  }

  private diskBytes(): number {
    let n = 0;
    for (const s of this.segments) n += s.bytes;
    return n;
  }

  /** Bytes of segments still holding unacknowledged events (acknowledged ones are deleted shortly). */
  private liveBytes(): number {
    let n = 0;
    const last = this.segments.length - 1;
    this.segments.forEach((s, i) => {
      if (i === last || s.lastSeq > this.ackSeq) n += s.bytes;
    });
    return n;
  }

  /**
   * Record an event: assigns its seq at once (call order is seq order) and
   * resolves once it is on disk. Resolves undefined when the budget is full and
   * the policy is 'refuse' (no seq is used, so no gap appears).
   */
  append(draft: EventDraft): Promise<GatewayEvent | undefined> {
    if (this.closed) return Promise.reject(new Error('event outbox is closed'));
    const ev = { seq: this.seq + 1, ...draft } as GatewayEvent;
    const rec = encodeRecord(ev);
    if (this.liveBytes() + this.pendingBytes + rec.length > this.o.maxBytes) {
      if (this.o.whenFull === 'refuse') {
        this.refused++;
        return Promise.resolve(undefined);
      }
      this.dropOldest(rec.length);
    }
    this.seq = ev.seq;
    this.pendingBytes += rec.length;
    return new Promise<GatewayEvent>((resolve, reject) => {
      this.queue.push({ ev, rec, resolve, reject });
      this.scheduleFlush();
    });
  }

  /** Delete oldest segments (never the one being written) until `need` more bytes fit. */
  private dropOldest(need: number): void {
    const gone: string[] = [];
    while (this.segments.length > 1 && this.diskBytes() + this.pendingBytes + need > this.o.maxBytes) gone.push(this.dropFirstSegment('event outbox full: oldest unsent events dropped'));
    void this.unlinkLater(gone);
  }

  /** Take the oldest segment (never the one being written) off the list, its unsent events counted as dropped; returns its path. */
  private dropFirstSegment(why: string): string {
    const s = this.segments.shift()!;
    if (s.lastSeq > this.ackSeq) {
      const from = Math.max(this.ackSeq + 1, s.firstSeq);
      const n = s.lastSeq - from + 1;
      this.dropped += n;
      this.warn(why, { fromSeq: from, toSeq: s.lastSeq, count: n, policy: 'drop-oldest' });
      this.ackSeq = s.lastSeq;
      while (this.mem.length && this.mem[0].seq <= this.ackSeq) this.mem.shift();
      // mem holds seqs below diskOnlyFrom, so if that fell under ackSeq mem is empty now: read on from ackSeq + 1.
      if (this.diskOnlyFrom && this.diskOnlyFrom <= this.ackSeq) this.diskOnlyFrom = this.ackSeq + 1 <= this.durableSeq ? this.ackSeq + 1 : 0;
      if (this.cursor <= this.ackSeq) this.cursor = this.ackSeq + 1;
      for (const a of this.ackedAhead) if (a <= this.ackSeq) this.ackedAhead.delete(a);
      this.emit('dropped', from, s.lastSeq);
      this.scheduleAckWrite();
    }
    return s.path;
  }

  private scheduleFlush(): void {
    if (this.flushing || this.flushTimer) return;
    if (this.o.commitDelayMs > 0) {
      this.flushTimer = setTimeout(() => {
        this.flushTimer = undefined;
        this.startFlush();
      }, this.o.commitDelayMs);
    } else {
      this.startFlush();
    }
  }

  private startFlush(): void {
    if (this.flushing || !this.queue.length) return;
    this.flushing = this.flushBatch().finally(() => {
      this.flushing = undefined;
      if (this.queue.length) this.scheduleFlush();
    });
  }

  private async flushBatch(): Promise<void> {
    const batch = this.queue;
    this.queue = [];
    let bytes = 0;
    for (const p of batch) bytes += p.rec.length;
    try {
      if (this.unwritable) await this.openForWrite();
      for (;;) {
        try {
          let cur = this.segments[this.segments.length - 1];
          if (cur.bytes > 0 && cur.bytes + bytes > this.o.segmentBytes) {
            // this.seq is already past this batch: name the new segment after the batch's first seq.
            await this.roll(batch[0].ev.seq);
            cur = this.segments[this.segments.length - 1];
          }
          const buf = batch.length === 1 ? batch[0].rec : Buffer.concat(batch.map((p) => p.rec), bytes);
          await this.fh!.write(buf, 0, buf.length);
          if (this.o.fsync) await this.fh!.datasync();
          cur.bytes += bytes;
          cur.lastSeq = batch[batch.length - 1].ev.seq;
          break;
        } catch (e) {
          // Cut a partial write off so later records are not appended after garbage.
          await this.fh?.truncate(this.segments[this.segments.length - 1].bytes).catch(() => undefined);
          // The file system filled up before the budget did (a small or shared partition): drop-oldest applies to it
          // too, freeing the oldest segment at once; with refuse (or nothing older to free) the batch fails below.
          if (!isDiskFull(e) || this.o.whenFull !== 'drop-oldest' || this.segments.length < 2) throw e;
          this.diskFullDrops++;
          await this.deleting;
          await fsp.unlink(this.dropFirstSegment('file system full: oldest unsent events dropped (events.outbox.whenFull: drop-oldest)')).catch(() => undefined);
        }
      }
      this.pendingBytes -= bytes;
      this.bytesWritten += bytes;
      this.commits++;
    } catch (e) {
      this.pendingBytes -= bytes;
      // The batch's seqs were never recorded (disk full, read-only): give them to the events queued behind it, so the
      // sequence stays contiguous (next() and ack() walk it one by one; a hole would stop delivery for good).
      const lost = batch.length;
      for (const p of this.queue) {
        this.pendingBytes -= p.rec.length;
        p.ev.seq -= lost;
        p.rec = encodeRecord(p.ev);
        this.pendingBytes += p.rec.length;
      }
      this.seq -= lost;
      for (const p of batch) p.reject(e as Error);
      return;
    }
    for (const p of batch) {
      this.durableSeq = p.ev.seq;
      if (p.ev.seq > this.ackSeq) {
        if (!this.diskOnlyFrom && this.mem.length < this.o.memoryEvents) this.mem.push(p.ev);
        else if (!this.diskOnlyFrom) this.diskOnlyFrom = p.ev.seq;
      }
      p.resolve(p.ev);
      this.emit('recorded', p.ev);
    }
  }

  /** Wait until everything appended so far is on disk. */
  async flush(): Promise<void> {
    if (this.flushTimer) {
      clearTimeout(this.flushTimer);
      this.flushTimer = undefined;
    }
    while (this.flushing || this.queue.length) {
      if (!this.flushing) this.startFlush();
      await this.flushing;
    }
  }

  /** Pull the on-disk backlog into memory once memory has room again. */
  private refill(): void {
    if (!this.diskOnlyFrom || this.mem.length >= this.o.memoryEvents / 2) return;
    let want = this.diskOnlyFrom;
    for (const s of this.segments) {
      if (s.lastSeq < want) continue;
      const dec = decodeRecords(readFileSync(s.path).subarray(0, s.bytes));
      for (const e of dec.events) {
        if (e.seq < want || e.seq > this.durableSeq) continue;
        if (this.mem.length >= this.o.memoryEvents) {
          this.diskOnlyFrom = e.seq;
          return;
        }
        this.mem.push(e);
        want = e.seq + 1;
      }
    }
    this.diskOnlyFrom = want <= this.durableSeq ? want : 0;
  }

  /** The next recorded event not yet handed out since the last rewind, or undefined. */
  next(): GatewayEvent | undefined {
    if (this.cursor <= this.ackSeq) this.cursor = this.ackSeq + 1;
    if (this.cursor > this.durableSeq) return undefined;
    let i = this.mem.length ? this.cursor - this.mem[0].seq : -1;
    if (i < 0 || i >= this.mem.length) {
      this.refill();
      i = this.mem.length ? this.cursor - this.mem[0].seq : -1;
      if (i < 0 || i >= this.mem.length) return undefined;
    }
    const ev = this.mem[i];
    this.cursor = ev.seq + 1;
    return ev;
  }

  /** Hand out events again from the first unacknowledged one (after a lost connection or a restart of the publisher). */
  rewind(): void {
    this.cursor = this.ackSeq + 1;
  }

  /** The broker has the event. Acks may come out of order; the position advances over contiguous ones. */
  ack(seq: number): void {
    if (seq <= this.ackSeq) return;
    this.ackedAhead.add(seq);
    let moved = false;
    while (this.ackedAhead.has(this.ackSeq + 1)) {
      this.ackedAhead.delete(this.ackSeq + 1);
      this.ackSeq++;
      moved = true;
    }
    if (!moved) return;
    while (this.mem.length && this.mem[0].seq <= this.ackSeq) this.mem.shift();
    if (this.mem.length < this.o.memoryEvents / 2) this.refill();
    this.scheduleAckWrite();
  }

  private scheduleAckWrite(): void {
    if (this.ackTimer || this.closed) return;
    this.ackTimer = setTimeout(() => {
      this.ackTimer = undefined;
      void this.writeAck();
    }, this.o.ackFlushMs);
  }

  /**
   * Write the acknowledged position. Not fsync'ed by itself: losing the last
   * positions to a power cut only means those events are sent again (at least
   * once), and sparing an fsync per acknowledgement halves the flash writes of
   * single taps. It is fsync'ed before acknowledged segments are deleted, so a
   * deleted segment is never needed again.
   */
  private async writeAck(final = false): Promise<void> {
    while (this.ackWriting) await this.ackWriting;
    // Nothing can be written; the position is written once the directory takes writes again (openForWrite).
    if (this.unwritable) return;
    const deletable = this.segments.length > 1 && this.segments[0].lastSeq <= this.ackSeq;
    if (this.persistedAck === this.ackSeq && !(deletable && this.syncedAck < this.ackSeq) && !final) return;
    const state = { ackSeq: this.ackSeq, dropped: this.dropped };
    const sync = this.o.fsync && (deletable || final);
    this.ackWriting = this.ackFile
      .write(state, sync)
      .then(() => {
        this.ackWrites++;
        this.bytesWritten += AckFile.WRITE_BYTES;
        this.persistedAck = state.ackSeq;
        if (sync || !this.o.fsync) this.syncedAck = state.ackSeq;
        return this.deleteAckedSegments();
      })
      .catch((e: Error) => this.warn('event outbox: could not write the acknowledged position', { err: e }))
      .finally(() => {
        this.ackWriting = undefined;
      });
    await this.ackWriting;
  }

  /** Segments whose every event is acknowledged durably are deleted, except the one being written. */
  private deleteAckedSegments(): Promise<void> {
    const gone: string[] = [];
    while (this.segments.length > 1 && this.segments[0].lastSeq <= this.syncedAck) gone.push(this.segments.shift()!.path);
    return this.unlinkLater(gone);
  }

  lastSeq(): number {
    return this.seq;
  }

  /** Highest seq that is durable on disk. */
  recordedSeq(): number {
    return this.durableSeq;
  }

  ackedSeq(): number {
    return this.ackSeq;
  }

  depth(): number {
    return Math.max(0, this.durableSeq - this.ackSeq);
  }

  stats(): OutboxStats {
    return {
      lastSeq: this.seq,
      recordedSeq: this.durableSeq,
      ackSeq: this.ackSeq,
      depth: this.depth(),
      diskBytes: this.diskBytes(),
      segments: this.segments.length,
      dropped: this.dropped,
      refused: this.refused,
      recoveredCorruptBytes: this.corruptBytes,
      bytesWritten: this.bytesWritten,
      commits: this.commits,
      ackWrites: this.ackWrites,
      policy: this.o.whenFull,
      maxBytes: this.o.maxBytes,
      writable: !this.unwritable,
      ...(this.unwritable ? { notWritable: this.unwritable.code } : {}),
      diskFullDrops: this.diskFullDrops,
    };
  }

  /** Flush pending appends and the acknowledged position, then close the files. */
  async close(): Promise<void> {
    if (this.closed) return;
    await this.flush();
    this.closed = true;
    if (this.ackTimer) {
      clearTimeout(this.ackTimer);
      this.ackTimer = undefined;
    }
    await this.writeAck(true);
    await this.deleting;
    await this.ackFile.close();
    await this.fh?.close();
    this.fh = undefined;
  }
}

/** Size of a segment file on disk (tests and diagnostics). */
export function fileSize(path: string): number {
  try {
    return statSync(path).size;
  } catch {
    return 0;
  }
}
