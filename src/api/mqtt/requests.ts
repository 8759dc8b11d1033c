/**
 * Request envelopes: topic -> operation name, payload bytes -> a JSON object
 * of parameters and the `transaction` to echo, or an error that names the
 * problem (oversized payload, bad JSON, not an object). The parameters
 * themselves are checked by the gateway (src/gateway/validate.ts), as for
 * every frontend. Never throws.
 */
import { errorBody, invalid, type ErrorBody } from '../../gateway/errors.js';
import { METHODS, TRANSACTION_MAX_LENGTH } from './topics.js';

export type ParsedRequest =
  | { ok: true; method: string; params: Record<string, unknown>; transaction?: string | number }
  | { ok: false; method: string; error: ErrorBody; transaction?: string | number };

const refuse = (method: string, message: string, transaction?: string | number): ParsedRequest => ({ ok: false, method, error: errorBody(invalid(message)), transaction });

/** Parse one request. `method` is the topic part after `request/`. An empty payload means no parameters (as Zigbee2MQTT accepts). */
export function parseRequest(method: string, payload: Buffer, maxBytes: number): ParsedRequest {
  if (payload.length > maxBytes) return refuse(method, `payload is ${payload.length} bytes, over the ${maxBytes}-byte limit`);
  let body: unknown = {};
  if (payload.length) {
    try {
      body = JSON.parse(payload.toString('utf8'));
    } catch (e) {
      return refuse(method, `payload is not valid JSON: ${(e as Error).message}`);
    }
  }
  if (!body || typeof body !== 'object' || Array.isArray(body)) {
    return refuse(method, `payload must be a JSON object, got ${Array.isArray(body) ? 'an array' : body === null ? 'null' : typeof body}`);
  }
  const { transaction: tx, ...params } = body as Record<string, unknown>;
  // Echoed only when it is one we accept: an over-long one would be sent back in full.
  const transaction = (typeof tx === 'string' && tx.length <= TRANSACTION_MAX_LENGTH) || (typeof tx === 'number' && Number.isFinite(tx)) ? tx : undefined;
  if (typeof tx === 'string' && transaction === undefined) return refuse(method, `transaction: at most ${TRANSACTION_MAX_LENGTH} characters, got ${tx.length} (not echoed)`);
  if (!method) return refuse(method, `no method: publish to request/<method>; methods: ${METHODS.join(', ')}`, transaction);
  return { ok: true, method, params, transaction };
}
