/**
 * The configuration editor's server side: show the file with secrets masked,
 * take an edited file back, put the secrets back where the mask was left
 * untouched, validate with the start-up loader (src/config/load.ts) and tell
 * which parts of the gateway the change touches.
 */
import { isMap, isScalar, parseDocument, type Document } from 'yaml';
import { ConfigError, parseYaml, resolveConfig, type LoadedConfig } from '../../config/load.js';
import type { Config } from '../../config/schema.js';

export const MASK = '********';

/** Key names whose values are secrets (never shown in clear, never logged). */
export const isSecretKey = (key: string): boolean => /pass(word|phrase)|secret|token|credential|^(pin|puk)$|(pin|puk)$/i.test(key);

/** Only text and numbers are secrets; a boolean such as `secret: false` is a setting. */
const isSecretValue = (v: unknown): boolean => (typeof v === 'string' && v !== '') || typeof v === 'number';

function walkScalars(doc: Document, visit: (path: string[], set: (v: unknown) => void, value: unknown) => void): void {
  const rec = (node: unknown, path: string[]): void => {
    if (isMap(node)) {
      for (const pair of node.items) {
        const k = isScalar(pair.key) ? String(pair.key.value) : String(pair.key);
        if (isScalar(pair.value)) {
          visit([...path, k], (v) => ((pair.value as { value: unknown }).value = v), pair.value.value);
        } else rec(pair.value, [...path, k]);
      }
    } else if (node && typeof node === 'object' && 'items' in node && Array.isArray((node as { items: unknown[] }).items)) {
      (node as { items: unknown[] }).items.forEach((it, i) => rec(it, [...path, String(i)]));
    }
  };
  rec(doc.contents, []);
}

/** The YAML text with every secret value replaced by the mask (comments and layout kept). */
export function maskYaml(text: string): string {
  const doc = parseDocument(text);
  if (doc.errors.length > 0) return text.replace(/^(\s*[\w.-]*(pass(word|phrase)|secret|token|credential)\w*\s*:\s*).+$/gim, `$1${MASK}`);
  walkScalars(doc, (path, set, value) => {
    if (isSecretKey(path[path.length - 1]) && isSecretValue(value)) set(MASK);
  });
  return doc.toString();
}

/** A deep copy with secret values masked (for the effective-config view). */
export function maskObject<T>(value: T): T {
  const rec = (v: unknown): unknown => {
    if (Array.isArray(v)) return v.map(rec);
    if (v && typeof v === 'object') {
      return Object.fromEntries(
        Object.entries(v).map(([k, x]) => [k, isSecretKey(k) && isSecretValue(x) ? MASK : rec(x)]),
      );
    }
    return v;
  };
  return rec(value) as T;
}

function getPath(obj: unknown, path: string[]): unknown {
  let o = obj;
  for (const p of path) {
    if (!o || typeof o !== 'object') return undefined;
    o = (o as Record<string, unknown>)[p];
  }
  return o;
}

/** The edited YAML text with masks that were left in place replaced by the current file's secrets. */
export function unmaskYaml(edited: string, current: string): string {
  const doc = parseDocument(edited);
  if (doc.errors.length > 0) return edited;
  const old = parseDocument(current).toJS() as unknown;
  let changed = false;
  walkScalars(doc, (path, set, value) => {
    if (value === MASK && isSecretKey(path[path.length - 1])) {
      const prev = getPath(old, path);
      if (prev !== undefined) {
        set(prev);
        changed = true;
      }
    }
  });
  return changed ? doc.toString() : edited;
}

export interface ValidatedEdit {
  /** Text to write (secrets restored). */
  text: string;
  loaded: LoadedConfig;
}

/** Throws ConfigError (problems named by key path) exactly as start-up would. */
export function validateEdit(edited: string, current: string, source: string): ValidatedEdit {
  if (typeof edited !== 'string') throw new ConfigError(source, ['(top level): expected the configuration as YAML text']);
  const text = unmaskYaml(edited, current);
  const content = parseYaml(text, source);
  const loaded = resolveConfig(content, source);
  return { text, loaded };
}

/**
 * The parts a change touches: top-level sections, with drivers split per
 * driver ("drivers.sim"), since each is restarted on its own.
 */
export function changedParts(before: Config, after: Config): string[] {
  const out: string[] = [];
  const keys = new Set([...Object.keys(before), ...Object.keys(after)]);
  for (const k of keys) {
    const a = (before as Record<string, unknown>)[k];
    const b = (after as Record<string, unknown>)[k];
    if (k === 'drivers' && a && b && typeof a === 'object' && typeof b === 'object') {
      const dk = new Set([...Object.keys(a), ...Object.keys(b)]);
      for (const d of dk) {
        if (JSON.stringify((a as Record<string, unknown>)[d]) !== JSON.stringify((b as Record<string, unknown>)[d])) out.push(`drivers.${d}`);
      }
    } else if (JSON.stringify(a) !== JSON.stringify(b)) out.push(k);
  }
  return out.sort();
}
