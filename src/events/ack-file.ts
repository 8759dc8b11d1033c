/**
 * The outbox's acknowledged position, kept compactly: a 64-byte file holding
 * two 32-byte slots written alternately in place ([u64 ackSeq][u64 generation]
 * [u64 dropped][u32 CRC-32 of the first 24 bytes][u32 0]). A power cut during a
 * write can tear at most the slot being written; the other still holds the
 * previous position, so recovery never goes backwards past it.
 */
import { crc32 } from 'node:zlib';
import { promises as fsp, readFileSync } from 'node:fs';

const SLOT = 32;

export interface AckState {
  ackSeq: number;
  dropped: number;
}

function decodeSlot(buf: Buffer, off: number): (AckState & { gen: bigint }) | undefined {
  if (buf.length < off + SLOT) return undefined;
  const crc = buf.readUInt32LE(off + 24);
  if (crc32(buf.subarray(off, off + 24)) !== crc) return undefined;
  return {
    ackSeq: Number(buf.readBigUInt64LE(off)),
    gen: buf.readBigUInt64LE(off + 8),
    dropped: Number(buf.readBigUInt64LE(off + 16)),
  };
}

export function readAckFile(path: string): (AckState & { gen: bigint }) | undefined {
  let buf: Buffer;
  try {
    buf = readFileSync(path);
  } catch {
    return undefined;
  }
  const a = decodeSlot(buf, 0);
  const b = decodeSlot(buf, SLOT);
  if (a && b) return a.gen >= b.gen ? a : b;
  return a ?? b;
}

export class AckFile {
  private fh?: fsp.FileHandle;
  private gen: bigint;
  constructor(
    private readonly path: string,
    gen: bigint,
    private readonly sync: boolean,
  ) {
    this.gen = gen;
  }

  /** Open for writing (again: a retry after the directory took no writes keeps one handle). */
  async open(): Promise<void> {
    if (this.fh) return;
    this.fh = await fsp.open(this.path, 'a+').then(async (h) => {
      await h.close();
      return fsp.open(this.path, 'r+');
    });
  }

  /** Bytes this write puts on disk (for the flash-wear figures). */
  static readonly WRITE_BYTES = SLOT;

  /** `sync`: fdatasync after the write (when the position must survive a power cut). */
  async write(state: AckState, sync = this.sync): Promise<void> {
    if (!this.fh) throw new Error('ack file not open');
    this.gen += 1n;
    const slot = Buffer.alloc(SLOT);
    slot.writeBigUInt64LE(BigInt(state.ackSeq), 0);
    slot.writeBigUInt64LE(this.gen, 8);
    slot.writeBigUInt64LE(BigInt(state.dropped), 16);
    slot.writeUInt32LE(crc32(slot.subarray(0, 24)), 24);
    await this.fh.write(slot, 0, SLOT, Number(this.gen % 2n) * SLOT);
    if (sync) await this.fh.datasync();
  }

  async close(): Promise<void> {
    await this.fh?.close();
    this.fh = undefined;
  }
}
