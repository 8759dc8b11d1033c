/** Small shared pieces of the soak (bench/soak/run.ts and its load modules). */
import { ControlClient } from '../../src/cli/client.js';

export const sleep = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms));
export const log = (msg: string): void => console.error(`[soak ${new Date().toISOString().slice(11, 19)}] ${msg}`);
export const inc = (m: Map<string, number>, k: string, by = 1): void => void m.set(k, (m.get(k) ?? 0) + by);

/** Exchanges done and errors by PC/SC code (or error text), keyed by load kind; shared by every load. */
export interface Tally {
  exchanges: Map<string, number>;
  errors: Map<string, number>;
}

/** One control-channel request on a fresh connection; undefined while the daemon is down. */
export async function controlOnce<T>(socket: string, method: string, params?: Record<string, unknown>): Promise<T | undefined> {
  try {
    const c = await ControlClient.connect(socket);
    try {
      return await c.request<T>(method, params);
    } finally {
      c.close();
    }
  } catch {
    return undefined;
  }
}

/** The daemon's reader names now (readers come up asynchronously: serial and USB drivers after `ready`). */
export async function readerNames(socket: string): Promise<string[]> {
  const r = await controlOnce<{ readers: Array<{ name: string }> }>(socket, 'readers');
  return r?.readers.map((x) => x.name) ?? [];
}
