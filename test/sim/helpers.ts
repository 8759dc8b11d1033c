/** Small helpers for the card model tests: hex in, hex out. */
import type { SimCard } from '../../drivers/sim/cards/index.js';

export const h = (s: string): Buffer => Buffer.from(s.replace(/[\s:]/g, ''), 'hex');
export const hx = (b: Uint8Array): string => Buffer.from(b).toString('hex').toUpperCase();
/** Send hex, get the response as "DATA SW" hex ("" data omitted). */
export function ex(card: SimCard, cmd: string): string {
  return hx(card.process(h(cmd)));
}
/** Status word of a response (last 2 bytes, hex). */
export const swOf = (r: string): string => r.slice(-4);
export const dataOf = (r: string): string => r.slice(0, -4);
