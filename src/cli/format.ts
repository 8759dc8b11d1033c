/** Text rendering shared by scardctl commands. */
import type { ReaderJson } from '../api/control/protocol.js';
import { PROTOCOL } from '../pcsc/constants.js';

export function protocolName(p: number): string {
  if (p === PROTOCOL.T0) return 'T=0';
  if (p === PROTOCOL.T1) return 'T=1';
  if (p === PROTOCOL.RAW) return 'raw';
  return p === 0 ? '-' : `0x${p.toString(16)}`;
}

/** "1F2E" -> "1F 2E" */
export function spaced(hex: string): string {
  return hex.replace(/(..)(?=.)/g, '$1 ');
}

export function readerLine(r: ReaderJson, index?: number): string {
  const head = `${index !== undefined ? `${index}: ` : ''}${r.name}`;
  const parts: string[] = [];
  if (!r.available) parts.push('unavailable');
  else if (r.mute) parts.push('card mute');
  else if (!r.present) parts.push('no card');
  else {
    parts.push(r.card?.type ? `card ${r.card.type}` : 'card present');
    if (r.card?.uid) parts.push(`UID ${r.card.uid}`);
    if (r.atr) parts.push(`ATR ${spaced(r.atr)}`);
    if (r.protocol) parts.push(protocolName(r.protocol));
  }
  if (r.sharing === -1) parts.push('in use (exclusive)');
  else if (r.sharing > 0) parts.push(`in use (${r.sharing})`);
  return `${head}\n    ${parts.join(', ')}`;
}
