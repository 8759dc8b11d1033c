/**
 * The configuration file's text with secrets masked, and masks in an edited
 * text put back: the config store's rules (src/gateway/config-store.ts) applied
 * to the YAML document, comments and layout kept. Apart from the store because
 * it needs the yaml library, which the daemon loads only when the
 * configuration is viewed or edited (README, "Idle memory").
 */
import { isMap, isScalar, parseDocument, type Document } from 'yaml';
import { ConfigError } from '../config/load-compiled.js';
import { ENDPOINT_KEYS, MASK, getPath, hidden, isSecretKey } from './config-store.js';

type Visit = (path: string[], set: (v: unknown) => void, value: unknown, parent: Record<string, unknown>) => void;

function walkScalars(doc: Document, visit: Visit): void {
  const rec = (node: unknown, path: string[]): void => {
    if (isMap(node)) {
      const plain = Object.fromEntries(node.items.map((p) => [isScalar(p.key) ? String(p.key.value) : String(p.key), isScalar(p.value) ? p.value.value : p.value]));
      for (const pair of node.items) {
        const k = isScalar(pair.key) ? String(pair.key.value) : String(pair.key);
        if (isScalar(pair.value)) visit([...path, k], (v) => ((pair.value as { value: unknown }).value = v), pair.value.value, plain);
        else rec(pair.value, [...path, k]);
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
  if (doc.errors.length > 0) return text.replace(/^(\s*[\w.-]*(pass(word|phrase)|secret|token|credential|apdu)\w*\s*:\s*).+$/gim, `$1${MASK}`);
  walkScalars(doc, (path, set, value, parent) => {
    if (hidden(parent, path[path.length - 1], value)) set(MASK);
  });
  return doc.toString();
}

/**
 * The edited text with masks left in place replaced by the current file's
 * secrets. A mask whose endpoint changed (mqtt.url for mqtt.password) is
 * refused: the secret must be typed again, or a client that can read the
 * masked configuration could send the gateway's password to its own server.
 */
export function unmaskYaml(edited: string, current: string, source: string): string {
  const doc = parseDocument(edited);
  if (doc.errors.length > 0) return edited;
  const old = parseDocument(current).toJS() as unknown;
  const problems: string[] = [];
  let changed = false;
  walkScalars(doc, (path, set, value, parent) => {
    if (value !== MASK) return;
    const key = path[path.length - 1];
    const prevParent = getPath(old, path.slice(0, -1));
    const prev = getPath(old, path);
    if (!(isSecretKey(key) || key === 'apdu') || prev === undefined) return;
    const moved = ENDPOINT_KEYS.filter((k) => k !== key && JSON.stringify((parent as Record<string, unknown>)[k]) !== JSON.stringify((prevParent as Record<string, unknown> | undefined)?.[k]));
    if (moved.length > 0) {
      const at = (k: string): string => [...path.slice(0, -1), k].join('.');
      problems.push(`${path.join('.')}: ${moved.map(at).join(', ')} changed, so the masked value is not sent there: type the secret again`);
      return;
    }
    set(prev);
    changed = true;
  });
  if (problems.length) throw new ConfigError(source, problems);
  return changed ? doc.toString() : edited;
}
