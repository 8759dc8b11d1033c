/**
 * Accept-Encoding negotiation (RFC 9110 §12.5.3) for the two codings the gateway sends, br and gzip, and
 * identity. Shared by the built UI's files (pre-compressed siblings) and the API's compressed replies.
 */

export type Coding = 'br' | 'gzip' | 'identity';

/** Preference among equal q-values: the smaller bytes first. */
const PREFERENCE: readonly Coding[] = ['br', 'gzip', 'identity'];

/** The q-value the header gives each coding (0 = refused). No header: identity only. */
export function acceptedCodings(header: string | string[] | undefined): Record<Coding, number> {
  const q: Record<Coding, number> = { br: 0, gzip: 0, identity: 1 };
  if (header === undefined) return q;
  const explicit: Partial<Record<Coding | '*', number>> = {};
  for (const part of (Array.isArray(header) ? header.join(',') : header).split(',')) {
    const [rawName, ...params] = part.split(';');
    let name = rawName!.trim().toLowerCase();
    if (name === 'x-gzip') name = 'gzip';
    if (name !== 'br' && name !== 'gzip' && name !== 'identity' && name !== '*') continue;
    let value = 1;
    for (const p of params) {
      const m = /^\s*q\s*=\s*([01](?:\.\d{0,3})?)\s*$/i.exec(p);
      if (m) value = Math.min(1, Number(m[1]));
    }
    // A coding named twice: the first says it (as most servers read it).
    explicit[name] ??= value;
  }
  const star = explicit['*'];
  for (const c of PREFERENCE) {
    const v = explicit[c];
    // identity is acceptable unless refused by name, or by "*;q=0" without naming it.
    q[c] = v ?? (star ?? (c === 'identity' ? 1 : 0));
  }
  return q;
}

/**
 * The coding to send among `available` (identity included when the plain bytes may be sent): highest
 * q-value, ties to br, then gzip, then identity; undefined when the client refuses them all.
 */
export function chooseCoding(header: string | string[] | undefined, available: readonly Coding[]): Coding | undefined {
  const q = acceptedCodings(header);
  let best: Coding | undefined;
  for (const c of PREFERENCE) {
    if (!available.includes(c) || q[c] <= 0) continue;
    if (best === undefined || q[c] > q[best]) best = c;
  }
  return best;
}
