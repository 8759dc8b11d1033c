/** Field checks shared by the card specs: each names the field and what was expected. */
import { parseHex } from '../../../src/iso7816/hex.js';
import { CardSpecError } from './card.js';

export function hexField(spec: Record<string, unknown>, key: string, lengths?: readonly number[] | [min: number, max: number, range: 'range']): Buffer | undefined {
  const v = spec[key];
  if (v === undefined) return undefined;
  if (typeof v !== 'string') throw new CardSpecError(`${key} must be a hex string, got ${typeof v}`);
  let b: Buffer;
  try {
    b = parseHex(v);
  } catch (e) {
    throw new CardSpecError(`${key}: ${(e as Error).message}`);
  }
  if (lengths) {
    if (lengths.length === 3 && lengths[2] === 'range') {
      const [min, max] = lengths as [number, number, string];
      if (b.length < min || b.length > max) throw new CardSpecError(`${key} must be ${min}..${max} bytes, got ${b.length}`);
    } else if (!(lengths as number[]).includes(b.length)) {
      throw new CardSpecError(`${key} must be ${(lengths as number[]).join(' or ')} bytes, got ${b.length}`);
    }
  }
  return b;
}

export function intField(spec: Record<string, unknown>, key: string, min: number, max: number): number | undefined {
  const v = spec[key];
  if (v === undefined) return undefined;
  if (typeof v !== 'number' || !Number.isInteger(v) || v < min || v > max) throw new CardSpecError(`${key} must be an integer ${min}..${max}, got ${JSON.stringify(v)}`);
  return v;
}

export function stringField(spec: Record<string, unknown>, key: string, min: number, max: number): string | undefined {
  const v = spec[key];
  if (v === undefined) return undefined;
  if (typeof v !== 'string' || v.length < min || v.length > max) throw new CardSpecError(`${key} must be a string of ${min}..${max} characters`);
  return v;
}

export function checkKeys(spec: Record<string, unknown>, allowed: readonly string[]): void {
  for (const k of Object.keys(spec)) {
    if (!allowed.includes(k)) throw new CardSpecError(`unknown key "${k}" for type ${String(spec.type)} (allowed: ${allowed.join(', ')})`);
  }
}

const hex = (b: Uint8Array): string => Buffer.from(b).toString('hex').toUpperCase();
export { hex as hexString };
