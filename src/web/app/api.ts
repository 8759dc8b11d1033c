/** Calls to the gateway's API: CSRF header on writes, one place that notices an expired session. */
import type { Reader as GatewayReader } from '../../gateway/readers.js';
export class ApiError extends Error {
  constructor(
    readonly status: number,
    message: string,
    readonly body: Record<string, unknown> = {},
  ) {
    super(message);
  }
}

let csrf = '';
let onExpired: (() => void) | undefined;

export const setCsrf = (t: string): void => {
  csrf = t;
};
export const onSessionExpired = (f: () => void): void => {
  onExpired = f;
};

export async function api<T = Record<string, unknown>>(method: string, path: string, body?: unknown): Promise<T> {
  const headers: Record<string, string> = {};
  if (body !== undefined) headers['content-type'] = 'application/json';
  if (method !== 'GET') headers['x-csrf-token'] = csrf;
  let res: Response;
  try {
    res = await fetch(path, { method, headers, body: body === undefined ? undefined : JSON.stringify(body), credentials: 'same-origin' });
  } catch {
    throw new ApiError(0, 'gateway unreachable (network error)');
  }
  const text = await res.text();
  let json: Record<string, unknown>;
  try {
    json = text ? (JSON.parse(text) as Record<string, unknown>) : {};
  } catch {
    json = { message: text };
  }
  if (!res.ok) {
    if (res.status === 401 && path !== '/api/auth/login' && onExpired) onExpired();
    throw new ApiError(res.status, String(json.message ?? `HTTP ${res.status}`), json);
  }
  return json as T;
}

/** A reader as the API sends it: the server's own definition (a type-only import, nothing of it is bundled). */
export type Reader = GatewayReader;

/** A card is in the reader (answering or mute). */
export const hasCard = (r: Reader): boolean => r.state === 'present' || r.state === 'mute';

export interface GatewayEvent {
  seq: number;
  type: string;
  reader: string;
  time: string;
  data: Record<string, unknown>;
}
