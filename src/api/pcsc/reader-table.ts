/**
 * The reader-state table libpcsclite reads for SCardListReaders, SCardStatus
 * and SCardGetStatusChange: 16 fixed entries (READER_STATE, 184 bytes each on
 * every supported ABI), sent raw. It mirrors the core's reader snapshots; a
 * reader keeps its entry index while it exists, a new reader takes the first
 * free one (as pcscd does), and a freed entry keeps its event counter.
 *
 * A change of one reader's entry (a connect's sharing count, a disconnect) is
 * written in place; the socket copies the table when it has to queue it for a
 * slow client (src/net/socket-io.ts writeReply), so bytes already handed over never
 * change.
 */
import type { ReaderSnapshot } from '../../core/api.js';
import { CARD_STATE, LIMITS } from '../../pcsc/constants.js';
import { READER_NOT_INITIALIZED, TABLE_ENTRIES, WIRE } from './layout.js';

const E = WIRE.readerState.offsets;
export const ENTRY_SIZE = WIRE.readerState.size;
export const TABLE_SIZE = ENTRY_SIZE * TABLE_ENTRIES;

/** Writes one entry for a reader snapshot (never PRESENT with an ATR longer than 33 bytes). */
export function writeEntry(table: Buffer, index: number, r: ReaderSnapshot): void {
  const o = index * ENTRY_SIZE;
  table.fill(0, o, o + E.eventCounter);
  const nameBytes = Buffer.from(r.name, 'utf8');
  nameBytes.copy(table, o + E.readerName, 0, Math.min(nameBytes.length, LIMITS.MAX_READERNAME - 1));
  writeEntryState(table, o, r);
}

/** dwReaderState as the entry shows it. */
const entryState = (r: ReaderSnapshot): number => (r.available ? r.state >>> 0 : CARD_STATE.UNKNOWN);

/** cbAtrLen as the entry shows it: 0 unless a card is present with an ATR that fits. */
const entryAtrLength = (r: ReaderSnapshot): number =>
  r.atr.length <= LIMITS.MAX_ATR_SIZE && (entryState(r) & CARD_STATE.PRESENT) !== 0 && r.available ? r.atr.length : 0;

/** The fields after the name: what changes while a reader keeps its entry. */
function writeEntryState(table: Buffer, o: number, r: ReaderSnapshot): void {
  table.fill(0, o + E.eventCounter, o + ENTRY_SIZE);
  table.writeUInt32LE(r.eventCounter & 0xffff, o + E.eventCounter);
  const atrLength = entryAtrLength(r);
  table.writeUInt32LE(entryState(r), o + E.readerState);
  table.writeInt32LE(r.sharing | 0, o + E.readerSharing);
  if (atrLength > 0) r.atr.copy(table, o + E.cardAtr);
  table.writeUInt32LE(atrLength, o + E.cardAtrLength);
  table.writeUInt32LE(r.available ? r.protocol >>> 0 : 0, o + E.cardProtocol);
}

/** An unused entry as pcscd leaves it: no name, not initialised, counter kept. */
export function writeEmptyEntry(table: Buffer, index: number, eventCounter: number): void {
  const o = index * ENTRY_SIZE;
  table.fill(0, o, o + ENTRY_SIZE);
  table.writeUInt32LE(eventCounter & 0xffff, o + E.eventCounter);
  table.writeUInt32LE(READER_NOT_INITIALIZED, o + E.cardAtrLength);
}

/** A decoded entry (tests, diagnostics, the benchmark's client checks). */
export interface TableEntry {
  index: number;
  name: string;
  eventCounter: number;
  state: number;
  sharing: number;
  atr: Buffer;
  protocol: number;
}

export function decodeTable(table: Buffer): TableEntry[] {
  if (table.length !== TABLE_SIZE) throw new Error(`reader table: ${table.length} bytes, expected ${TABLE_SIZE}`);
  const out: TableEntry[] = [];
  for (let i = 0; i < TABLE_ENTRIES; i++) {
    const o = i * ENTRY_SIZE;
    if (table[o + E.readerName] === 0) continue;
    const nul = table.indexOf(0, o + E.readerName);
    const atrLen = table.readUInt32LE(o + E.cardAtrLength);
    out.push({
      index: i,
      name: table.toString('utf8', o + E.readerName, nul < 0 || nul > o + E.eventCounter ? o + E.eventCounter : nul),
      eventCounter: table.readUInt32LE(o + E.eventCounter),
      state: table.readUInt32LE(o + E.readerState),
      sharing: table.readInt32LE(o + E.readerSharing),
      atr: Buffer.from(table.subarray(o + E.cardAtr, o + E.cardAtr + Math.min(atrLen, LIMITS.MAX_ATR_SIZE))),
      protocol: table.readUInt32LE(o + E.cardProtocol),
    });
  }
  return out;
}

export interface ReaderSource {
  readers(): ReaderSnapshot[];
}

export class ReaderTable {
  /** The current table: replaced by refresh(), written in place by update(). */
  current: Buffer;
  private readonly slotOf = new Map<string, number>();
  private readonly names: (string | undefined)[] = new Array(TABLE_ENTRIES).fill(undefined);
  private readonly counters: number[] = new Array(TABLE_ENTRIES).fill(0);
  /** Readers beyond the 16 entries, in arrival order: they get an entry when one frees up. */
  overflow: string[] = [];

  constructor(private readonly source: ReaderSource) {
    this.current = Buffer.alloc(TABLE_SIZE);
    for (let i = 0; i < TABLE_ENTRIES; i++) writeEmptyEntry(this.current, i, 0);
    this.refresh();
  }

  /** Index of a reader's entry, or -1. */
  indexOf(name: string): number {
    return this.slotOf.get(name) ?? -1;
  }

  /**
   * One listed reader's entry after a change of its state (the core's
   * 'reader-state'): rewritten in place when it has one, else a full refresh.
   * Returns true when the table's bytes changed.
   */
  update(r: ReaderSnapshot): boolean {
    const idx = this.slotOf.get(r.name);
    if (idx === undefined) return this.refresh();
    const o = idx * ENTRY_SIZE;
    const t = this.current;
    // Field by field: a connect or disconnect changes the sharing count, found at the first or second read.
    const same =
      t.readInt32LE(o + E.readerSharing) === (r.sharing | 0) &&
      t.readUInt32LE(o + E.eventCounter) === (r.eventCounter & 0xffff) &&
      t.readUInt32LE(o + E.readerState) === entryState(r) &&
      t.readUInt32LE(o + E.cardProtocol) === (r.available ? r.protocol >>> 0 : 0) &&
      t.readUInt32LE(o + E.cardAtrLength) === entryAtrLength(r) &&
      (entryAtrLength(r) === 0 || r.atr.compare(t, o + E.cardAtr, o + E.cardAtr + r.atr.length) === 0);
    if (same) return false;
    writeEntryState(t, o, r);
    this.counters[idx] = r.eventCounter & 0xffff;
    return true;
  }

  /**
   * Re-reads the core's readers. Returns true when the table's bytes changed
   * (the caller then signals the clients waiting for a change).
   */
  refresh(): boolean {
    const snapshots = this.source.readers();
    const live = new Set<string>();
    for (const r of snapshots) live.add(r.name);
    for (const [name, idx] of this.slotOf) {
      if (!live.has(name)) {
        this.slotOf.delete(name);
        this.names[idx] = undefined;
      }
    }
    const overflow: string[] = [];
    const next = Buffer.allocUnsafe(TABLE_SIZE);
    const written: boolean[] = new Array(TABLE_ENTRIES).fill(false);
    for (const r of snapshots) {
      let idx = this.slotOf.get(r.name);
      if (idx === undefined) {
        idx = this.names.indexOf(undefined);
        if (idx < 0) {
          overflow.push(r.name);
          continue;
        }
        this.names[idx] = r.name;
        this.slotOf.set(r.name, idx);
      }
      writeEntry(next, idx, r);
      this.counters[idx] = r.eventCounter & 0xffff;
      written[idx] = true;
    }
    for (let i = 0; i < TABLE_ENTRIES; i++) if (!written[i]) writeEmptyEntry(next, i, this.counters[i]);
    this.overflow = overflow;
    if (next.equals(this.current)) return false;
    this.current = next;
    return true;
  }
}
