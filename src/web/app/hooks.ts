import { useEffect, useState } from 'preact/hooks';

/** True while the media query matches (the phone layout switches on it). */
export function useMedia(query: string): boolean {
  const [on, setOn] = useState(() => matchMedia(query).matches);
  useEffect(() => {
    const m = matchMedia(query);
    const f = (): void => setOn(m.matches);
    m.addEventListener('change', f);
    f();
    return () => m.removeEventListener('change', f);
  }, [query]);
  return on;
}

export const PHONE = '(max-width: 760px)';

/** Calls `load` now and every `ms` while mounted. */
export function usePoll(load: () => unknown, ms: number, deps: unknown[] = []): void {
  useEffect(() => {
    void load();
    const t = setInterval(load, ms);
    return () => clearInterval(t);
  }, deps);
}
