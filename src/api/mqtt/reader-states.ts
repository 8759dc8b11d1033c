/**
 * Readers as the MQTT API shows them: a stable, topic-safe id per reader (the
 * topic segment; a collision gets a numeric suffix) and the retained state
 * derived from the core's reader table.
 */
import type { ReaderSnapshot } from '../../core/api.js';
import { CARD_STATE } from '../../pcsc/constants.js';
import { toHex } from '../../iso7816/hex.js';
import { cardType, protocolName } from '../../events/card-data.js';
import { topicSegment, type ReaderPresence, type ReaderState, type ReadersList } from './topics.js';

export function presenceOf(r: ReaderSnapshot): ReaderPresence {
  if (!r.available || r.state & CARD_STATE.UNKNOWN) return 'unavailable';
  if (r.mute) return 'mute';
  if (r.state & CARD_STATE.PRESENT) return 'present';
  return 'empty';
}

export class ReaderDirectory {
  private ids = new Map<string, string>();
  /** UIDs learnt from card.inserted (profile FF CA answers) when the driver gave none. */
  private learntUid = new Map<string, string>();

  /** The reader's id, allocated on first sight. */
  idOf(name: string): string {
    let id = this.ids.get(name);
    if (id) return id;
    const base = topicSegment(name);
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

  /** Reader name from a full name or an id. */
  resolve(ref: string, readers: ReaderSnapshot[]): ReaderSnapshot | undefined {
    return readers.find((r) => r.name === ref) ?? readers.find((r) => this.idOf(r.name) === ref);
  }

  state(r: ReaderSnapshot): ReaderState {
    const presence = presenceOf(r);
    const present = presence === 'present' || presence === 'mute';
    const uid = r.card?.uid?.length ? toHex(r.card.uid, '') : present ? (this.learntUid.get(r.name) ?? null) : null;
    return {
      reader: r.name,
      readerId: this.idOf(r.name),
      state: presence,
      atr: present && r.atr.length ? toHex(r.atr, '') : null,
      uid,
      protocol: present ? protocolName(r.protocol) : null,
      cardType: present ? cardType(r) : null,
      since: r.since,
      driver: r.driver,
      capabilities: r.capabilities,
    };
  }

  list(readers: ReaderSnapshot[]): ReadersList {
    return { readers: readers.map((r) => ({ reader: r.name, readerId: this.idOf(r.name), state: presenceOf(r), driver: r.driver })) };
  }
}
