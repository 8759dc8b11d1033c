/**
 * A reader as every frontend shows it (one shape: HTTP JSON, MQTT retained
 * state and answers, the control channel, the web UI), and the one rule for
 * naming a reader in a request.
 *
 * Naming rule, in this order: the exact full name; the exact reader id (the
 * topic-safe id MQTT uses as a topic level); the 1-based number in the
 * readers list; any case-insensitive part of the name matching exactly one
 * reader. Anything else is SCARD_E_UNKNOWN_READER with the readers listed.
 */
import type { ReaderSnapshot } from '../core/api.js';
import { cardType } from '../events/card-data.js';
import { toHex } from '../iso7816/hex.js';
import { CARD_STATE, SCARD } from '../pcsc/constants.js';
import { PcscError } from '../pcsc/error.js';
import { protocolName, type ProtocolName } from './vocabulary.js';

export type ReaderPresence = 'present' | 'empty' | 'mute' | 'unavailable';

export interface Reader {
  /** Full pcscd-style name. */
  name: string;
  /** Topic-safe id (letters, digits, . _ -), stable while the reader stays. */
  id: string;
  /** 1-based position in the readers list. */
  number: number;
  driver: string;
  state: ReaderPresence;
  /** Hex without spaces; null when no card. */
  atr: string | null;
  protocol: ProtocolName | null;
  /** Contactless UID, hex, UID0 first (from the driver, else learnt from the card.inserted profile). */
  uid: string | null;
  cardType: string | null;
  card: { contactless: boolean; type?: string; atqa?: string; sak?: number; ats?: string } | null;
  /** Card insertions and removals seen (PC/SC event counter). */
  eventCounter: number;
  /** ISO 8601 time of the last presence or availability change. */
  since: string;
  /** What frontends may offer on it, as the core has it (pinpad: keys can be typed on an emulated PIN pad). */
  capabilities: ReaderSnapshot['capabilities'];
}

export function presenceOf(r: ReaderSnapshot): ReaderPresence {
  if (!r.available || r.state & CARD_STATE.UNKNOWN) return 'unavailable';
  if (r.mute) return 'mute';
  if (r.state & CARD_STATE.PRESENT) return 'present';
  return 'empty';
}

const isAscii = (s: string): boolean => {
  for (let i = 0; i < s.length; i++) if (s.charCodeAt(i) > 0x7f) return false;
  return true;
};

/** A topic level that is safe to publish: no `+`, `#`, `/`, NUL, control characters, spaces; never empty. */
export function readerIdBase(name: string): string {
  // NFKD changes no ASCII text; skipping it for ASCII names keeps ICU's normalisation data out of memory.
  const s = (isAscii(name) ? name : name.normalize('NFKD'))
    .replace(/[^A-Za-z0-9._-]+/g, '_')
    .replace(/_+/g, '_')
    .replace(/^[_.]+|_+$/g, '');
  return s.length ? s.slice(0, 96) : 'reader';
}

/** Reader ids (allocated on first sight; a collision gets a numeric suffix) and UIDs learnt from events. */
export class ReaderDirectory {
  private readonly ids = new Map<string, string>();
  private readonly learntUid = new Map<string, string>();

  idOf(name: string): string {
    let id = this.ids.get(name);
    if (id) return id;
    const base = readerIdBase(name);
    const taken = new Set(this.ids.values());
    id = base;
    for (let n = 2; taken.has(id); n++) id = `${base}_${n}`;
    this.ids.set(name, id);
    return id;
  }

  forget(name: string): void {
    this.ids.delete(name);
    this.learntUid.delete(name);
  }

  learnUid(name: string, uid: string | undefined): void {
    if (uid) this.learntUid.set(name, uid);
    else this.learntUid.delete(name);
  }

  render(r: ReaderSnapshot, number: number): Reader {
    const state = presenceOf(r);
    const present = state === 'present' || state === 'mute';
    const c = r.card;
    const uid = c?.uid?.length ? toHex(c.uid, '') : present ? (this.learntUid.get(r.name) ?? null) : null;
    return {
      name: r.name,
      id: this.idOf(r.name),
      number,
      driver: r.driver,
      state,
      atr: present && r.atr.length ? toHex(r.atr, '') : null,
      protocol: present ? protocolName(r.protocol) : null,
      uid,
      cardType: present ? cardType(r) : null,
      card:
        present && c
          ? {
              contactless: c.contactless,
              ...(c.type !== undefined ? { type: c.type } : {}),
              ...(c.atqa ? { atqa: toHex(c.atqa, '') } : {}),
              ...(c.sak !== undefined ? { sak: c.sak } : {}),
              ...(c.ats ? { ats: toHex(c.ats, '') } : {}),
            }
          : null,
      eventCounter: r.eventCounter,
      since: r.since,
      capabilities: r.capabilities,
    };
  }

  /** The one naming rule (module header). */
  select(readers: readonly ReaderSnapshot[], spec: string): ReaderSnapshot {
    const exact = readers.find((r) => r.name === spec) ?? readers.find((r) => this.idOf(r.name) === spec);
    if (exact) return exact;
    const list = (): string => readers.map((r, i) => `${i + 1}: "${r.name}"`).join(', ') || 'none';
    if (readers.length === 0) throw new PcscError(SCARD.E_UNKNOWN_READER, `"${spec}": no readers are connected`);
    if (/^\d+$/.test(spec)) {
      const n = Number(spec);
      if (n >= 1 && n <= readers.length) return readers[n - 1];
      throw new PcscError(SCARD.E_UNKNOWN_READER, `no reader number ${n} (readers are numbered 1..${readers.length}: ${list()})`);
    }
    const needle = spec.toLowerCase();
    const hits = readers.filter((r) => r.name.toLowerCase().includes(needle));
    if (hits.length === 1) return hits[0];
    if (hits.length === 0) throw new PcscError(SCARD.E_UNKNOWN_READER, `no reader matches "${spec}" (readers: ${list()})`);
    throw new PcscError(SCARD.E_UNKNOWN_READER, `"${spec}" matches ${hits.length} readers (${hits.map((r) => `"${r.name}"`).join(', ')}); give more of the name or its number`);
  }
}
