/** Text rendering shared by scardctl commands. */
import type { ReaderJson } from '../api/control/protocol.js';

/** "1F2E" -> "1F 2E" */
export function spaced(hex: string): string {
  return hex.replace(/(..)(?=.)/g, '$1 ');
}

export function readerLine(r: ReaderJson, numbered = true): string {
  const parts: string[] = [];
  if (r.state === 'unavailable') parts.push('unavailable');
  else if (r.state === 'mute') parts.push('card mute');
  else if (r.state === 'empty') parts.push('no card');
  else {
    parts.push(r.cardType ? `card ${r.cardType}` : 'card present');
    if (r.uid) parts.push(`UID ${r.uid}`);
    if (r.atr) parts.push(`ATR ${spaced(r.atr)}`);
    if (r.protocol) parts.push(r.protocol);
  }
  return `${numbered ? `${r.number}: ` : ''}${r.name}\n    ${parts.join(', ')}`;
}
