/**
 * One-shot APDU runs for MQTT and HTTP commands: connect, one transaction,
 * each APDU with its response and status word, disconnect. An APDU that
 * fails is reported in its own result and the run goes on; only a failure
 * to reach the card at all (unknown reader, no card, sharing) rejects.
 */
import { DISPOSITION, PROTOCOL, SCARD, SHARE } from '../pcsc/constants.js';
import { PcscError, toPcscError } from '../pcsc/error.js';
import type { ScardCore } from './api.js';

export interface OneShotOptions {
  /** SHARE.* (default SHARED). */
  shareMode?: number;
  /** Preferred protocols (default T=0 | T=1). */
  protocol?: number;
  /** Bound for the whole run; APDUs not sent by then fail with E_TIMEOUT (default: none beyond the core's transmit bound). */
  timeoutMs?: number;
  /** Context owner label for diagnostics (default "oneshot"). */
  owner?: string;
  /** Disposition at the end (default LEAVE). */
  disposition?: number;
}

export interface ApduError {
  code: number;
  name: string;
  message: string;
}

export interface ApduResult {
  /** Response bytes including SW1 SW2 (absent when the exchange failed). */
  response?: Buffer;
  /** Response data without the status word. */
  data?: Buffer;
  sw?: number;
  error?: ApduError;
}

export interface OneShotResult {
  reader: string;
  protocol: number;
  atr: Buffer;
  results: ApduResult[];
}

const errorOf = (e: unknown): ApduError => {
  const p = toPcscError(e);
  return { code: p.code, name: p.codeName, message: p.message };
};

export async function runApdus(core: ScardCore, reader: string, apdus: readonly Buffer[], opts: OneShotOptions = {}): Promise<OneShotResult> {
  if (!Array.isArray(apdus)) throw new PcscError(SCARD.E_INVALID_PARAMETER, 'apdus must be a list of byte buffers');
  const deadline = opts.timeoutMs !== undefined ? performance.now() + opts.timeoutMs : Infinity;
  const ctx = core.establishContext(opts.owner ?? 'oneshot');
  let handle = 0;
  try {
    const share = opts.shareMode ?? SHARE.SHARED;
    const preferred = opts.protocol ?? PROTOCOL.T0 | PROTOCOL.T1;
    const conn = await core.connect(ctx, reader, share, preferred);
    handle = conn.handle;
    await beginFresh(core, conn, share, preferred);
    const st = await core.status(handle);
    const results: ApduResult[] = [];
    for (const apdu of apdus) {
      const left = deadline - performance.now();
      if (left <= 0) {
        results.push({ error: errorOf(new PcscError(SCARD.E_TIMEOUT, `the run exceeded ${opts.timeoutMs} ms`)) });
        continue;
      }
      try {
        const response = await withDeadline(core.transmit(handle, conn.protocol, apdu), left, opts.timeoutMs);
        const n = response.length;
        results.push({ response, data: response.subarray(0, n - 2), sw: (response[n - 2] << 8) | response[n - 1] });
      } catch (e) {
        results.push({ error: errorOf(e) });
      }
    }
    await core.endTransaction(handle, DISPOSITION.LEAVE).catch(() => undefined);
    return { reader: st.reader, protocol: conn.protocol, atr: st.atr, results };
  } finally {
    if (handle) await core.disconnect(handle, opts.disposition ?? DISPOSITION.LEAVE).catch(() => undefined);
    await core.releaseContext(ctx).catch(() => undefined);
  }
}

/**
 * Begin a transaction on a handle that has sent nothing yet (one-shot runs,
 * session opens). A reset by someone else between our connect and our turn (a
 * session expiring, say) flags the handle; that reset happened before we sent
 * anything, so reconnect and try again.
 */
export async function beginFresh(core: ScardCore, conn: { handle: number; protocol: number }, share: number, preferred: number): Promise<void> {
  for (let attempt = 0; ; attempt++) {
    try {
      await core.beginTransaction(conn.handle);
      return;
    } catch (e) {
      const code = toPcscError(e).code;
      if (attempt >= 3 || (code !== SCARD.W_RESET_CARD && code !== SCARD.W_REMOVED_CARD)) throw e;
    }
    conn.protocol = (await core.reconnect(conn.handle, share, preferred, DISPOSITION.LEAVE)).protocol;
  }
}

function withDeadline<T>(p: Promise<T>, ms: number, total: number | undefined): Promise<T> {
  if (!Number.isFinite(ms)) return p;
  let timer: NodeJS.Timeout | undefined;
  const t = new Promise<never>((_, reject) => {
    timer = setTimeout(() => reject(new PcscError(SCARD.E_TIMEOUT, `the run exceeded ${total} ms`)), ms);
  });
  return Promise.race([p, t]).finally(() => clearTimeout(timer));
}
