/**
 * The APDU console's history in localStorage: only what may be shown (secret
 * command data and secret responses redacted by the project's one redaction
 * rule, src/log/redact.ts), and gone when the technician signs out.
 */
import { parseHex } from '../../iso7816/hex.js';
import { isSecretApdu, isSecretResponse, renderApdu, renderResponse } from '../../log/redact.js';

export interface Exchange {
  reader: string;
  command: string;
  response?: string;
  sw?: string;
  swText?: string;
  swKind?: string;
  error?: string;
  ms?: number;
  at: string;
  /** True when the command carried a secret (its data is not kept). */
  secret?: boolean;
}

export const HISTORY_KEY = 'scardgate.apdu.history';
export const MAX_HISTORY = 50;

const bytes = (hex: string): Uint8Array | undefined => {
  try {
    return parseHex(hex);
  } catch {
    return undefined;
  }
};

/** The exchange as it may be kept: a VERIFY's PIN becomes "<4 bytes redacted>". */
export function redactExchange(x: Exchange): Exchange {
  const cmd = bytes(x.command);
  if (!cmd) return x;
  const command = renderApdu(cmd);
  const resp = x.response ? bytes(x.response) : undefined;
  const response = resp ? renderResponse(cmd, resp) : x.response;
  const secret = isSecretApdu(cmd) || isSecretResponse(cmd);
  return { ...x, command, response, secret: secret || undefined };
}

export function loadHistory(): Exchange[] {
  try {
    const list = JSON.parse(localStorage.getItem(HISTORY_KEY) ?? '[]') as Exchange[];
    return Array.isArray(list) ? list : [];
  } catch {
    return [];
  }
}

export function saveHistory(list: Exchange[]): void {
  try {
    localStorage.setItem(HISTORY_KEY, JSON.stringify(list.slice(0, MAX_HISTORY).map(redactExchange)));
  } catch {
    // Storage full or disabled: the history lives for this page only.
  }
}

export function clearHistory(): void {
  try {
    localStorage.removeItem(HISTORY_KEY);
  } catch {
    /* nothing stored */
  }
}
