/**
 * Request parsing: topic -> method, payload bytes -> validated parameters, or
 * an error text that names the problem (bad JSON, unknown method, wrong type at
 * a path, bad hex, oversized payload). Never throws.
 */
import { Ajv, type ErrorObject, type ValidateFunction } from 'ajv';
import { parseHex, HexError } from '../../iso7816/hex.js';
import { parseApdu } from '../../iso7816/apdu.js';
import { METHODS, REQUESTS, TRANSACTION_MAX_LENGTH, type Method } from './topics.js';

export type ParsedRequest =
  | { ok: true; method: Method; params: Record<string, unknown>; transaction?: string | number }
  | { ok: false; method: string; error: string; transaction?: string | number };

const hexProblem = (s: string): string | undefined => {
  try {
    parseHex(s);
    return undefined;
  } catch (e) {
    return e instanceof HexError ? e.message : String(e);
  }
};

const apduProblem = (s: string): string | undefined => {
  const h = hexProblem(s);
  if (h) return h;
  try {
    parseApdu(parseHex(s));
    return undefined;
  } catch (e) {
    return (e as Error).message;
  }
};

const ajv = new Ajv({ allErrors: false, strict: false, useDefaults: true });
ajv.addFormat('hex', { type: 'string', validate: (s: string) => hexProblem(s) === undefined });
ajv.addFormat('apdu', { type: 'string', validate: (s: string) => apduProblem(s) === undefined });

// Compiled on a method's first request, not at import: compiling every schema (and Ajv's meta-schema)
// was the largest part of loading the MQTT frontend, on the daemon's path to ready.
const validators = new Map<Method, ValidateFunction>();
const validatorFor = (m: Method): ValidateFunction => {
  let v = validators.get(m);
  if (!v) validators.set(m, (v = ajv.compile(REQUESTS[m])));
  return v;
};

function describe(err: ErrorObject, data: unknown): string {
  const path = err.instancePath || '/';
  const at = err.instancePath
    .split('/')
    .slice(1)
    .reduce<unknown>((v, k) => (v && typeof v === 'object' ? (v as Record<string, unknown>)[k.replace(/~1/g, '/').replace(/~0/g, '~')] : undefined), data);
  switch (err.keyword) {
    case 'additionalProperties':
      return `${path}: unknown field "${(err.params as { additionalProperty: string }).additionalProperty}"`;
    case 'required':
      return `${path}: missing field "${(err.params as { missingProperty: string }).missingProperty}"`;
    case 'format': {
      const f = (err.params as { format: string }).format;
      const why = typeof at === 'string' ? (f === 'apdu' ? apduProblem(at) : hexProblem(at)) : undefined;
      return `${path}: not ${f === 'apdu' ? 'a valid APDU' : 'valid hex'}${why ? ` (${why})` : ''}`;
    }
    case 'type':
      return `${path}: must be ${(err.params as { type: string }).type}, got ${Array.isArray(at) ? 'array' : at === null ? 'null' : typeof at}`;
    case 'enum':
      return `${path}: must be one of ${((err.params as { allowedValues: unknown[] }).allowedValues ?? []).map((v) => JSON.stringify(v)).join(', ')}${at !== undefined ? `, got ${JSON.stringify(at)}` : ''}`;
    case 'anyOf':
      return `${path}: not one of the accepted values${typeof at === 'string' || typeof at === 'number' ? ` (got ${JSON.stringify(at)})` : ''}`;
    default:
      return `${path}: ${err.message ?? err.keyword}`;
  }
}

/**
 * Parse one request. `method` is the topic part after `request/`. An empty
 * payload means no parameters (as Zigbee2MQTT accepts).
 */
export function parseRequest(method: string, payload: Buffer, maxBytes: number): ParsedRequest {
  if (payload.length > maxBytes) return { ok: false, method, error: `payload is ${payload.length} bytes, over the ${maxBytes}-byte limit` };
  let body: unknown = {};
  if (payload.length) {
    try {
      body = JSON.parse(payload.toString('utf8'));
    } catch (e) {
      return { ok: false, method, error: `payload is not valid JSON: ${(e as Error).message}` };
    }
  }
  // Echoed only when it is one the schema accepts: an over-long one would be sent back in full.
  const tx = body && typeof body === 'object' && !Array.isArray(body) ? (body as Record<string, unknown>).transaction : undefined;
  const transaction = (typeof tx === 'string' && tx.length <= TRANSACTION_MAX_LENGTH) || (typeof tx === 'number' && Number.isFinite(tx)) ? tx : undefined;
  if (typeof tx === 'string' && transaction === undefined) {
    return { ok: false, method, error: `/transaction: at most ${TRANSACTION_MAX_LENGTH} characters, got ${tx.length} (not echoed)` };
  }
  if (!method) return { ok: false, method, error: `no method: publish to request/<method>; methods: ${METHODS.join(', ')}`, transaction };
  if (!(METHODS as string[]).includes(method)) {
    return { ok: false, method, error: `unknown method "${method}"; methods: ${METHODS.join(', ')}`, transaction };
  }
  if (!body || typeof body !== 'object' || Array.isArray(body)) {
    return { ok: false, method, error: `payload must be a JSON object, got ${Array.isArray(body) ? 'an array' : body === null ? 'null' : typeof body}`, transaction };
  }
  const v = validatorFor(method as Method);
  if (!v(body)) return { ok: false, method, error: describe(v.errors![0], body), transaction };
  return { ok: true, method: method as Method, params: body as Record<string, unknown>, transaction };
}
