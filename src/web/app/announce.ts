/**
 * The page's two live regions (rendered once by main.tsx): results are read
 * out politely, errors at once. Views call these instead of flashing text
 * that a screen reader never hears.
 */
type Sink = (text: string) => void;
let polite: Sink = () => undefined;
let assertive: Sink = () => undefined;

export function bindAnnouncers(p: Sink, a: Sink): void {
  polite = p;
  assertive = a;
}

export const announce = (text: string): void => polite(text);
export const announceError = (text: string): void => assertive(text);
