/**
 * On-disk framing of one outbox record: [u32 LE payload length][u32 LE CRC-32
 * of the payload][payload: UTF-8 JSON of a GatewayEvent]. The CRC is what lets
 * recovery tell a record torn by a power cut (or a flipped bit) from a good
 * one, so a damaged tail is cut off instead of being published as garbage.
 */
import { crc32 } from 'node:zlib';
import type { GatewayEvent } from './types.js';

export const RECORD_HEADER = 8;
/** Far above any real event; a larger length field means a damaged header. */
export const MAX_RECORD = 1 << 20;

export function encodeRecord(ev: GatewayEvent): Buffer {
  const json = Buffer.from(JSON.stringify(ev), 'utf8');
  if (json.length > MAX_RECORD) throw new RangeError(`event ${ev.seq} is ${json.length} bytes, over the ${MAX_RECORD}-byte record limit`);
  const out = Buffer.allocUnsafe(RECORD_HEADER + json.length);
  out.writeUInt32LE(json.length, 0);
  out.writeUInt32LE(crc32(json), 4);
  json.copy(out, RECORD_HEADER);
  return out;
}

export interface DecodedRecords {
  events: GatewayEvent[];
  /** Byte offset just past the last good record. */
  goodBytes: number;
  /** Why decoding stopped before the end, if it did. */
  problem?: string;
}

function isEvent(v: unknown): v is GatewayEvent {
  if (typeof v !== 'object' || v === null) return false;
  const e = v as Record<string, unknown>;
  return (
    Number.isSafeInteger(e.seq) &&
    (e.seq as number) > 0 &&
    typeof e.type === 'string' &&
    typeof e.reader === 'string' &&
    typeof e.time === 'string' &&
    typeof e.gatewayId === 'string' &&
    typeof e.data === 'object' &&
    e.data !== null
  );
}

/** Decode records from the start of `buf`; stops at the first torn or damaged record. */
export function decodeRecords(buf: Buffer): DecodedRecords {
  const events: GatewayEvent[] = [];
  let off = 0;
  let lastSeq = 0;
  while (off < buf.length) {
    if (buf.length - off < RECORD_HEADER) return { events, goodBytes: off, problem: `torn header at byte ${off}` };
    const len = buf.readUInt32LE(off);
    const crc = buf.readUInt32LE(off + 4);
    if (len === 0 || len > MAX_RECORD) return { events, goodBytes: off, problem: `bad record length ${len} at byte ${off}` };
    if (buf.length - off - RECORD_HEADER < len) return { events, goodBytes: off, problem: `torn record at byte ${off} (${len} bytes announced)` };
    const payload = buf.subarray(off + RECORD_HEADER, off + RECORD_HEADER + len);
    if (crc32(payload) !== crc) return { events, goodBytes: off, problem: `checksum mismatch at byte ${off}` };
    let ev: unknown;
    try {
      ev = JSON.parse(payload.toString('utf8'));
    } catch {
      return { events, goodBytes: off, problem: `unparsable JSON at byte ${off}` };
    }
    if (!isEvent(ev)) return { events, goodBytes: off, problem: `not an event at byte ${off}` };
    if (ev.seq <= lastSeq) return { events, goodBytes: off, problem: `sequence ${ev.seq} not after ${lastSeq} at byte ${off}` };
    lastSeq = ev.seq;
    events.push(ev);
    off += RECORD_HEADER + len;
  }
  return { events, goodBytes: off };
}
