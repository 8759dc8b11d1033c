/**
 * The one place that knows which APDUs carry secrets, and how anything that
 * may hold a PIN, key or password is shown in logs and events: header and
 * lengths kept (useful for diagnosis), data replaced.
 *
 * Conservative on purpose: a command whose data might be a secret is redacted;
 * a few harmless ones (e.g. PC/SC part 3 GENERAL AUTHENTICATE, which only names
 * a key slot) are redacted too rather than reasoned about case by case.
 */
import { toHex } from '../iso7816/hex.js';

/** ISO 7816-4 / 7816-8 instructions whose command data may be a PIN, PUK or key (any CLA). */
const SECRET_INS = new Map<number, string>([
  [0x20, 'VERIFY'],
  [0x21, 'VERIFY'],
  [0x24, 'CHANGE REFERENCE DATA'],
  [0x25, 'CHANGE REFERENCE DATA'],
  [0x2c, 'RESET RETRY COUNTER'],
  [0x2d, 'RESET RETRY COUNTER'],
  [0x28, 'ENABLE VERIFICATION REQUIREMENT'],
  [0x26, 'DISABLE VERIFICATION REQUIREMENT'],
  // EXTERNAL/MUTUAL AUTHENTICATE: cryptograms derived from a shared key.
  [0x82, 'EXTERNAL/MUTUAL AUTHENTICATE'],
  // GENERAL AUTHENTICATE (PACE, PIV): key agreement material, witnesses.
  [0x86, 'GENERAL AUTHENTICATE'],
  [0x87, 'GENERAL AUTHENTICATE'],
  // PERFORM SECURITY OPERATION: deciphered plaintext, key import on some cards.
  [0x2a, 'PERFORM SECURITY OPERATION'],
  // PUT DATA: OpenPGP and PIV cards import private keys with it.
  [0xda, 'PUT DATA'],
  [0xdb, 'PUT DATA'],
  // GENERATE ASYMMETRIC KEY PAIR may carry key attributes/imported keys on some applets.
  [0x47, 'GENERATE ASYMMETRIC KEY PAIR'],
]);

/** PC/SC part 3 pseudo-APDUs (CLA FF) whose data may hold a key or wrap any card command. */
const SECRET_PCSC_INS = new Map<number, string>([
  [0x82, 'LOAD KEYS'],
  [0x00, 'DIRECT TRANSMIT'],
  [0xc2, 'TRANSPARENT EXCHANGE'],
]);

/** Instructions whose response data is secret (plaintext of a decipher, authentication cryptograms). */
const SECRET_RESPONSE_INS = new Set<number>([0x2a, 0x82, 0x86, 0x87]);

/** Why an APDU's data must not be shown, or undefined when it may be. */
export function secretReason(apdu: Uint8Array): string | undefined {
  if (apdu.length < 2) return undefined;
  const cla = apdu[0];
  const ins = apdu[1];
  if (cla === 0xff) return SECRET_PCSC_INS.get(ins) ?? SECRET_INS.get(ins);
  return SECRET_INS.get(ins);
}

export function isSecretApdu(apdu: Uint8Array): boolean {
  return secretReason(apdu) !== undefined;
}

/** True when the response to `command` must not be shown either. */
export function isSecretResponse(command: Uint8Array): boolean {
  if (command.length < 2) return false;
  if (command[0] === 0xff) return SECRET_PCSC_INS.has(command[1]);
  return SECRET_RESPONSE_INS.has(command[1]);
}

const redacted = (n: number): string => `<${n} byte${n === 1 ? '' : 's'} redacted>`;

/**
 * Where the data field sits: [start, end) of the command data, or undefined
 * when the bytes are not a well-formed APDU.
 */
function dataRange(b: Uint8Array): [number, number] | undefined {
  const L = b.length - 4;
  if (L <= 1) return [b.length, b.length];
  if (b[4] !== 0) {
    const nc = b[4];
    if (L === 1 + nc || L === 2 + nc) return [5, 5 + nc];
    return undefined;
  }
  if (L === 3) return [b.length, b.length];
  if (L < 3) return undefined;
  const nc = (b[5] << 8) | b[6];
  if (nc > 0 && (L === 3 + nc || L === 5 + nc)) return [7, 7 + nc];
  return undefined;
}

/**
 * An APDU for logs: hex, with the data of secret-bearing commands replaced by
 * "<n bytes redacted>" (header, Lc and Le kept). A malformed secret command
 * keeps only its 4-byte header.
 */
export function renderApdu(apdu: Uint8Array): string {
  if (!isSecretApdu(apdu)) return toHex(apdu);
  if (apdu.length <= 4) return toHex(apdu);
  const r = dataRange(apdu);
  if (!r) return `${toHex(apdu.subarray(0, 4))} ${redacted(apdu.length - 4)}`;
  const [start, end] = r;
  const parts = [toHex(apdu.subarray(0, start))];
  if (end > start) parts.push(redacted(end - start));
  if (apdu.length > end) parts.push(toHex(apdu.subarray(end)));
  return parts.join(' ');
}

/** A response for logs: its data redacted when the command's answer is secret; SW1 SW2 always shown. */
export function renderResponse(command: Uint8Array, response: Uint8Array): string {
  if (!isSecretResponse(command) || response.length <= 2) return toHex(response);
  return `${redacted(response.length - 2)} ${toHex(response.subarray(response.length - 2))}`;
}

/** Field names whose values are secrets wherever they appear in a log record. */
export const SECRET_FIELDS = [
  'password',
  'passwd',
  'passphrase',
  'newPassword',
  'oldPassword',
  'token',
  'accessToken',
  'secret',
  'pin',
  'puk',
  'key',
  'keyA',
  'keyB',
  'keys',
  'apiKey',
  'authorization',
  'cookie',
  'set-cookie',
];

export const REDACTED = '[redacted]';
const SECRET = new Set(SECRET_FIELDS);
/** How far below the record's top level secret fields are looked for (three levels down, as before). */
const REDACT_DEPTH = 3;

const isPlain = (v: object): boolean => {
  const proto = Object.getPrototypeOf(v) as unknown;
  return proto === Object.prototype || proto === null;
};

/**
 * `v` with the value of every secret field (SECRET_FIELDS) replaced by
 * REDACTED, in plain objects and arrays down to `depth` levels below it.
 * Copies only what it changes: the caller's objects are never modified, and
 * a record with no secret in it comes back as it was.
 *
 * Ours rather than pino's `redact` option: that one compiles each of its
 * wildcard paths (18 fields x 4 depths) when the logger is made, enough work
 * at start-up to bring V8's optimizing compiler into an otherwise idle daemon
 * (about 3.5 MB of RSS: README, "Idle memory").
 */
export function redactFields<T>(v: T, depth = REDACT_DEPTH): T {
  if (typeof v !== 'object' || v === null) return v;
  if (Array.isArray(v)) {
    if (depth <= 0) return v;
    let out: unknown[] | undefined;
    for (let i = 0; i < v.length; i++) {
      const x: unknown = v[i];
      const y = redactFields(x, depth - 1);
      if (y !== x) (out ??= [...v])[i] = y;
    }
    return (out ?? v) as T;
  }
  if (!isPlain(v)) return v;
  let out: Record<string, unknown> | undefined;
  for (const k of Object.keys(v)) {
    const x = (v as Record<string, unknown>)[k];
    const y = SECRET.has(k) ? REDACTED : depth > 0 ? redactFields(x, depth - 1) : x;
    if (y !== x) (out ??= { ...(v as Record<string, unknown>) })[k] = y;
  }
  return (out ?? v) as T;
}

/**
 * redactFields for an object the caller has just made (a serializer's output,
 * whatever its prototype): its own secret fields are replaced in place, the
 * values of the others looked through as redactFields does.
 */
export function redactOwn<T extends object>(o: T): T {
  const rec = o as Record<string, unknown>;
  for (const k of Object.keys(rec)) rec[k] = SECRET.has(k) ? REDACTED : redactFields(rec[k], REDACT_DEPTH - 1);
  return o;
}

