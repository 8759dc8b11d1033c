/** Resource manager contexts (SCARDCONTEXT): they own handles and status-change waits. */
import type { Handle } from './handles.js';

export interface Context {
  readonly id: number;
  /** Label for diagnostics ("pcsc:pid 1234", "mqtt", "http"...). */
  readonly owner: string;
  readonly handles: Set<Handle>;
  readonly created: number;
  released: boolean;
}

export function newContext(id: number, owner: string): Context {
  return { id, owner, handles: new Set(), created: Date.now(), released: false };
}
