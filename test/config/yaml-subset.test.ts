// The plain-YAML reader the daemon starts with (src/config/yaml-subset.ts): what it reads, it reads
// as the yaml library does; what it does not, it leaves to the library; and the shipped
// configurations and what tools write (the library's stringify) are plain enough for it.
import t from 'tap';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { isDeepStrictEqual } from 'node:util';
import { parseDocument, stringify } from 'yaml';
import { readYamlSubset } from '../../src/config/yaml-subset.js';
import { packageRoot } from '../../src/config/load.js';
import { rng } from '../helpers/prng.js';

/** What the daemon's loader got from the yaml library: the value, or undefined when the library reports an error. */
function library(text: string): { value: unknown } | undefined {
  const doc = parseDocument(text, { prettyErrors: false, uniqueKeys: true });
  if (doc.errors.length > 0) return undefined;
  try {
    return { value: doc.toJS({ maxAliasCount: 100 }) };
  } catch {
    return undefined;
  }
}

/** undefined when the subset reader declined; else whether it agreed with the library. */
function agrees(text: string): boolean | undefined {
  const ours = readYamlSubset(text);
  if (!ours) return undefined;
  const theirs = library(text);
  return theirs !== undefined && isDeepStrictEqual(ours.value, theirs.value);
}

const shipped = ['config/default.yaml', 'config/appliance.yaml'].map((f) => readFileSync(join(packageRoot(), f), 'utf8'));

t.test('the shipped configurations are read, as the library reads them', async (t) => {
  for (const text of shipped) t.equal(agrees(text), true);
  // What the benchmarks and the web editor write: the library's own output.
  const base = library(shipped[0])!.value as Record<string, unknown>;
  t.equal(agrees(stringify(base)), true, 'stringify of the default');
  t.equal(agrees(stringify({ ...base, mqtt: { enabled: false }, http: { enabled: false }, state: { dir: '/tmp/x y/state' } })), true, 'stringify of a lean set-up');
});

t.test('scalars and layouts, read or left to the library', async (t) => {
  const cases: Array<[string, boolean]> = [
    ['', true],
    ['# only a comment\n', true],
    ['a: 1\nb: -2\nc: 1.5\nd: true\ne: False\nf: null\ng: ~\nh:\ni: text with spaces\nj: "quoted # not a comment"\nk: \'it\'\'s\'\nl: []\nm: {}\n', true],
    ['a: mqtt://host:1883/x#frag\nb: 127.0.0.1\nc: a#b\nd: x # comment\n', true],
    ['list:\n- a\n- b: 1\n  c: 2\n-\n  d: 3\n- - nested\n', false],
    ['list:\n  - name: A\n    card:\n      type: iso7816\n  - name: B\nnext: 1\n', true],
    ['a: 0660\n', false],
    ['a: 0x1F\n', false],
    ['a: 1e3\n', false],
    ['a: .inf\n', false],
    ['a: +1\n', false],
    ['a: 12345678901234567890\n', false],
    ['a: &x 1\nb: *x\n', false],
    ['a: !!str 1\n', false],
    ['a: |\n  text\n', false],
    ['a: "esc\\n"\n', false],
    ['a: [1, 2]\n', false],
    ['a: b: c\n', false],
    ['a: 1\na: 2\n', false],
    ['a:\tb\n', false],
    ['a: x\n  continued\n', false],
    ['---\na: 1\n', false],
    ['  a: 1\n', false],
    ['- 1\n', false],
    ['true: 1\n', false],
    ['__proto__: 1\n', false],
    ['a: "unterminated\n', false],
    ['a:\n  b: 1\n c: 2\n', false],
  ];
  for (const [text, read] of cases) {
    const r = agrees(text);
    if (read) t.equal(r, true, `read as the library reads it: ${JSON.stringify(text)}`);
    else t.equal(r, undefined, `left to the library: ${JSON.stringify(text)}`);
  }
});

t.test('mangled and generated files: whatever the reader takes, it takes as the library does', async (t) => {
  const random = rng(0x7a3e11);
  const ALPHABET = ' \n\t:-#{}[],"\'&*!|>%@`0123456789abcxyzABC.\\/\u00e9~';
  const seen = { read: 0, declined: 0 };
  const check = (text: string): boolean => {
    const r = agrees(text);
    if (r === false) {
      t.fail('the subset reader and the library differ', { text, ours: readYamlSubset(text), theirs: library(text) });
      return false;
    }
    seen[r ? 'read' : 'declined']++;
    return true;
  };
  for (let i = 0; i < 3000; i++) {
    const chars = [...shipped[i % 2]];
    for (let e = 1 + Math.floor(random() * 4); e > 0; e--) {
      const at = Math.floor(random() * chars.length);
      const c = ALPHABET[Math.floor(random() * ALPHABET.length)];
      const op = Math.floor(random() * 3);
      if (op === 0) chars.splice(at, 1);
      else if (op === 1) chars.splice(at, 0, c);
      else chars[at] = c;
    }
    if (!check(chars.join(''))) return;
  }
  const words = ['a', 'x y', '', '0', '07', '-1', '1.5', 'true', 'null', 'on', 'a: b', '#x', 'a #b', "it's", 'x"y', '- z', '[1]', '127.0.0.1', '/dev/ttyUSB0', 'é'];
  const value = (depth: number): unknown => {
    const k = Math.floor(random() * (depth > 3 ? 4 : 7));
    if (k === 0) return words[Math.floor(random() * words.length)];
    if (k === 1) return Math.floor(random() * 2000) - 1000;
    if (k === 2) return random() < 0.5;
    if (k === 3) return k === 3 && random() < 0.2 ? null : random() * 100;
    if (k === 4) return Array.from({ length: Math.floor(random() * 3) }, () => value(depth + 1));
    return Object.fromEntries(Array.from({ length: Math.floor(random() * 4) }, (_, j) => [`${['key', 'name', 'k-x', 'k.y'][j % 4]}${j}`, value(depth + 1)]));
  };
  for (let i = 0; i < 1500; i++) if (!check(stringify({ root: value(0), other: value(1) }))) return;
  t.ok(seen.read > 500 && seen.declined > 500, `read and declined both seen: ${JSON.stringify(seen)}`);
});
