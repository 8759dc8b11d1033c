/**
 * How a client names a reader: its full pcscd-style name, its position in the
 * `readers` listing (0, 1, ...), or any case-insensitive part of the name that
 * matches exactly one reader ("T=1", "contactless"). Resolved daemon-side so
 * every client behaves the same.
 */
import type { ReaderSnapshot } from '../../core/api.js';

export class ReaderSelectError extends Error {
  override readonly name = 'ReaderSelectError';
}

export function selectReader(readers: readonly ReaderSnapshot[], spec: string): ReaderSnapshot {
  if (readers.length === 0) throw new ReaderSelectError('no readers are connected');
  const exact = readers.find((r) => r.name === spec);
  if (exact) return exact;
  if (/^\d+$/.test(spec)) {
    const i = Number(spec);
    if (i < readers.length) return readers[i];
    throw new ReaderSelectError(`no reader number ${i} (there ${readers.length === 1 ? 'is 1 reader' : `are ${readers.length} readers`}: 0..${readers.length - 1})`);
  }
  const needle = spec.toLowerCase();
  const hits = readers.filter((r) => r.name.toLowerCase().includes(needle));
  if (hits.length === 1) return hits[0];
  if (hits.length === 0) {
    throw new ReaderSelectError(`no reader matches ${JSON.stringify(spec)} (readers: ${readers.map((r) => JSON.stringify(r.name)).join(', ')})`);
  }
  throw new ReaderSelectError(`${JSON.stringify(spec)} matches ${hits.length} readers (${hits.map((r) => JSON.stringify(r.name)).join(', ')}); give more of the name or its number`);
}
