/**
 * What an API token may do. The one vocabulary: 'read' (look: readers, events, status), 'transmit'
 * (drive cards and readers: transmit, sessions, control, feedback, simulate), 'admin' (configuration,
 * tokens, passwords, restart, diagnostics, logs). Each includes the ones before it: admin implies
 * transmit implies read.
 */
export type Scope = 'read' | 'transmit' | 'admin';
export const SCOPES: readonly Scope[] = ['read', 'transmit', 'admin'];

/** Scope of a token created without one named. */
export const DEFAULT_SCOPES: readonly Scope[] = ['read'];
/**
 * Tokens from before scopes existed (no `scopes` in the file): they keep what a door controller needs,
 * not the configuration (recreate with admin where that is meant).
 */
export const LEGACY_SCOPES: readonly Scope[] = ['transmit'];

export const isScope = (s: unknown): s is Scope => typeof s === 'string' && (SCOPES as readonly string[]).includes(s);

/** Does holding `held` allow what needs `need`? */
export function allows(held: readonly Scope[], need: Scope): boolean {
  const n = SCOPES.indexOf(need);
  return held.some((s) => SCOPES.indexOf(s) >= n);
}

/** Scopes from user input ("read,transmit" or a list); throws naming the bad one. */
export function parseScopes(input: string | readonly string[]): Scope[] {
  const list = (typeof input === 'string' ? input.split(',') : [...input]).map((s) => s.trim()).filter(Boolean);
  if (list.length === 0) throw new Error(`no scope given (one or more of ${SCOPES.join(', ')})`);
  for (const s of list) if (!isScope(s)) throw new Error(`unknown scope "${s}" (one of ${SCOPES.join(', ')})`);
  return [...new Set(list as Scope[])];
}
