/**
 * The Smart Card service's data cache, as Windows keeps it (SCardReadCache /
 * SCardWriteCache; pcsc-lite has none): entries keyed by card identifier +
 * freshness counter + lookup name (docs/pcsc.md §7).
 *
 * - Card identifier: a UUID. A card with a fixed contactless UID gets one
 *   derived from it, so the same card tapped again finds its entries; any other
 *   card (contact cards, random UIDs) gets a fresh one at each insertion and its
 *   entries are dropped when it leaves.
 * - Freshness counter: per card, advanced whenever the core passes a command
 *   that may write to the card (WRITE_INS); an entry written under an older
 *   counter reads as W_CACHE_ITEM_STALE once, and is dropped.
 * - Bounded: an entry larger than maxEntryBytes is refused
 *   (W_CACHE_ITEM_TOO_BIG); beyond maxBytes the least recently used go.
 * - Holds what it is given: callers decide what may be cached (card profiles
 *   keep secret-bearing results out unless the profile says otherwise).
 */
import { createHash, randomUUID } from 'node:crypto';
import type { CardInfo } from '../driver/contract.js';
import { SCARD } from '../pcsc/constants.js';
import { PcscError } from '../pcsc/error.js';

export interface DataCacheOptions {
  /** Total bytes of data held (names count too); least recently used entries go first. */
  maxBytes?: number;
  /** Largest single entry. */
  maxEntryBytes?: number;
}

export const DATA_CACHE_DEFAULTS = { maxBytes: 256 * 1024, maxEntryBytes: 64 * 1024 } as const;
const MAX_NAME = 256;

/**
 * INS bytes of commands that may change what a card returns later: ISO 7816-4
 * (ERASE/WRITE/UPDATE BINARY and RECORD, APPEND RECORD, PUT DATA, CREATE/DELETE
 * FILE, (DE)ACTIVATE, TERMINATE, CHANGE REFERENCE DATA, RESET RETRY COUNTER,
 * GENERATE ASYMMETRIC KEY PAIR), GlobalPlatform (INSTALL, LOAD, STORE DATA,
 * PUT KEY, SET STATUS, DELETE), PC/SC part 3 UPDATE BINARY (FF D6). Matched
 * whatever the class byte: a needless advance only costs a re-read.
 */
const WRITE_INS = new Uint8Array(256);
for (const ins of [0x0e, 0x0f, 0xd0, 0xd1, 0xd6, 0xd7, 0x0c, 0xd2, 0xdc, 0xdd, 0xe2, 0xda, 0xdb, 0xe0, 0xe4, 0x44, 0x04, 0xe6, 0xe8, 0xfe, 0x24, 0x2c, 0x46, 0xd8, 0xf0]) {
  WRITE_INS[ins] = 1;
}

/** Does this command APDU possibly write to the card? */
export function isWriteApdu(apdu: Buffer): boolean {
  return apdu.length >= 4 && WRITE_INS[apdu[1]] === 1;
}

interface Entry {
  name: string;
  data: Buffer;
  freshness: number;
  size: number;
  /** Written from an exchange that carried a secret (a profile's cacheSecret): only an administrator may read it. */
  secret: boolean;
}

interface CardRecord {
  freshness: number;
  /** Dropped when the card leaves (no stable identity to find it again by). */
  perInsertion: boolean;
  entries: Map<string, Entry>;
}

export interface CacheItem {
  cardId: string;
  name: string;
  freshness: number;
  size: number;
  secret: boolean;
}

/** The identifier of a card that can be recognised again, or undefined (then one per insertion). */
export function stableCardId(card: CardInfo | undefined): string | undefined {
  const uid = card?.uid;
  // ISO 14443-3: a 4-byte UID starting 08h is random, a new one at every activation.
  if (!uid || uid.length < 4 || (uid.length === 4 && uid[0] === 0x08)) return undefined;
  const h = createHash('sha256').update('scardgate card uid:').update(uid).digest();
  // Shaped as a name-based UUID (version 8: custom), so frontends show the form Windows uses.
  h[6] = (h[6] & 0x0f) | 0x80;
  h[8] = (h[8] & 0x3f) | 0x80;
  const x = h.subarray(0, 16).toString('hex');
  return `${x.slice(0, 8)}-${x.slice(8, 12)}-${x.slice(12, 16)}-${x.slice(16, 20)}-${x.slice(20, 32)}`;
}

export class DataCache {
  private readonly cards = new Map<string, CardRecord>();
  /** Entries in least-recently-used order (key: cardId + '\0' + name). */
  private readonly lru = new Map<string, { card: CardRecord; cardId: string; entry: Entry }>();
  /** The card in each reader now. */
  private readonly inReader = new Map<string, string>();
  private bytes = 0;
  readonly maxBytes: number;
  readonly maxEntryBytes: number;
  stats = { hits: 0, misses: 0, stale: 0, writes: 0, evicted: 0, freshnessAdvances: 0 };

  constructor(opts: DataCacheOptions = {}) {
    this.maxBytes = opts.maxBytes ?? DATA_CACHE_DEFAULTS.maxBytes;
    this.maxEntryBytes = opts.maxEntryBytes ?? DATA_CACHE_DEFAULTS.maxEntryBytes;
  }

  // --- fed by the core --------------------------------------------------------------------------

  cardInserted(reader: string, card: CardInfo | undefined): void {
    this.cardRemoved(reader);
    const stable = stableCardId(card);
    const id = stable ?? randomUUID();
    if (!this.cards.has(id)) this.cards.set(id, { freshness: 0, perInsertion: stable === undefined, entries: new Map() });
    this.inReader.set(reader, id);
  }

  cardRemoved(reader: string): void {
    const id = this.inReader.get(reader);
    if (id === undefined) return;
    this.inReader.delete(reader);
    const rec = this.cards.get(id);
    if (rec?.perInsertion) this.dropCard(id);
  }

  /** A command that may write reached the card in `reader`: its entries are stale from now on. */
  cardWritten(reader: string): void {
    const id = this.inReader.get(reader);
    const rec = id === undefined ? undefined : this.cards.get(id);
    if (!rec || id === undefined) return;
    // Entries stay until read (W_CACHE_ITEM_STALE, then dropped), replaced or evicted.
    rec.freshness++;
    this.stats.freshnessAdvances++;
  }

  // --- the operations frontends offer ---------------------------------------------------------------

  /** The card now in `reader`: its identifier and freshness counter. */
  cardIn(reader: string): { cardId: string; freshness: number } | undefined {
    const id = this.inReader.get(reader);
    const rec = id === undefined ? undefined : this.cards.get(id);
    return rec && id !== undefined ? { cardId: id, freshness: rec.freshness } : undefined;
  }

  /**
   * SCardReadCache: the entry `name` of card `cardId`. `freshness`, when given,
   * must be the card's current counter (W_CACHE_ITEM_STALE otherwise).
   */
  read(cardId: string, name: string, freshness?: number, mayReadSecret = true): { data: Buffer; freshness: number } {
    checkName(name);
    const rec = this.cards.get(cardId);
    const e = rec?.entries.get(name);
    if (!rec || !e) {
      this.stats.misses++;
      throw new PcscError(SCARD.W_CACHE_ITEM_NOT_FOUND, `no cache item "${name}" for card ${cardId}`);
    }
    if (e.secret && !mayReadSecret) {
      throw new PcscError(SCARD.E_NO_ACCESS, `cache item "${name}" holds data read under a secret (a card profile's cacheSecret): only the admin scope may read it`);
    }
    if (e.freshness !== rec.freshness || (freshness !== undefined && freshness !== rec.freshness)) {
      this.stats.stale++;
      if (e.freshness !== rec.freshness) this.dropEntry(cardId, rec, name);
      throw new PcscError(SCARD.W_CACHE_ITEM_STALE, `cache item "${name}" is stale: card freshness ${rec.freshness}, item ${e.freshness}`);
    }
    const key = keyOf(cardId, name);
    const slot = this.lru.get(key)!;
    this.lru.delete(key);
    this.lru.set(key, slot);
    this.stats.hits++;
    return { data: Buffer.from(e.data), freshness: e.freshness };
  }

  /**
   * SCardWriteCache: store `data` as `name` for card `cardId` under its current
   * freshness counter (a given `freshness` older than that is W_CACHE_ITEM_STALE).
   */
  write(cardId: string, name: string, data: Buffer, freshness?: number, secret = false): { freshness: number } {
    checkName(name);
    if (!Buffer.isBuffer(data)) throw new PcscError(SCARD.E_INVALID_PARAMETER, 'cache data must be bytes');
    const size = data.length + name.length;
    if (size > this.maxEntryBytes) {
      throw new PcscError(SCARD.W_CACHE_ITEM_TOO_BIG, `cache item of ${data.length} bytes exceeds ${this.maxEntryBytes - name.length} bytes`);
    }
    const rec = this.cards.get(cardId);
    if (!rec) throw new PcscError(SCARD.E_UNKNOWN_CARD, `no card ${cardId} is known to the cache (is it in a reader?)`);
    if (freshness !== undefined && freshness !== rec.freshness) {
      throw new PcscError(SCARD.W_CACHE_ITEM_STALE, `freshness ${freshness} is not the card's current ${rec.freshness}`);
    }
    this.dropEntry(cardId, rec, name);
    const entry: Entry = { name, data: Buffer.from(data), freshness: rec.freshness, size, secret };
    rec.entries.set(name, entry);
    this.lru.set(keyOf(cardId, name), { card: rec, cardId, entry });
    this.bytes += size;
    this.stats.writes++;
    for (const [key, v] of this.lru) {
      if (this.bytes <= this.maxBytes) break;
      if (v.entry === entry) continue;
      this.lru.delete(key);
      this.dropEntry(v.cardId, v.card, v.entry.name);
      this.stats.evicted++;
    }
    return { freshness: rec.freshness };
  }

  /** Drops one entry, or every entry of the card when `name` is absent; returns how many went. */
  remove(cardId: string, name?: string): number {
    const rec = this.cards.get(cardId);
    if (!rec) return 0;
    if (name !== undefined) {
      checkName(name);
      return this.dropEntry(cardId, rec, name) ? 1 : 0;
    }
    let n = 0;
    for (const k of [...rec.entries.keys()]) if (this.dropEntry(cardId, rec, k)) n++;
    return n;
  }

  /** Entries without their data, of one card or all. */
  list(cardId?: string): CacheItem[] {
    const out: CacheItem[] = [];
    for (const [id, rec] of this.cards) {
      if (cardId !== undefined && id !== cardId) continue;
      for (const e of rec.entries.values()) out.push({ cardId: id, name: e.name, freshness: e.freshness, size: e.data.length, secret: e.secret });
    }
    return out;
  }

  diagnostics(): Record<string, unknown> {
    return { entries: this.lru.size, bytes: this.bytes, maxBytes: this.maxBytes, maxEntryBytes: this.maxEntryBytes, cards: this.cards.size, ...this.stats };
  }

  private dropCard(id: string): void {
    const rec = this.cards.get(id);
    if (!rec) return;
    for (const k of [...rec.entries.keys()]) this.dropEntry(id, rec, k);
    this.cards.delete(id);
  }

  private dropEntry(cardId: string, rec: CardRecord, name: string): boolean {
    const e = rec.entries.get(name);
    if (!e) return false;
    rec.entries.delete(name);
    this.lru.delete(keyOf(cardId, name));
    this.bytes -= e.size;
    // A stable card with nothing cached and not in a reader is forgotten (its counter restarts at 0 next time).
    if (rec.entries.size === 0 && !rec.perInsertion && ![...this.inReader.values()].includes(cardId)) this.cards.delete(cardId);
    return true;
  }
}

const keyOf = (cardId: string, name: string): string => `${cardId}\0${name}`;

function checkName(name: string): void {
  if (typeof name !== 'string' || name.length === 0 || name.length > MAX_NAME) {
    throw new PcscError(SCARD.E_INVALID_PARAMETER, `cache lookup name must be 1..${MAX_NAME} characters`);
  }
}
