/**
 * A reader for the plain YAML a configuration file usually is: block mappings
 * and sequences, plain and single-line quoted scalars, comments, `[]` and `{}`.
 * It returns what the yaml library's `parseDocument(...).toJS()` returns for
 * such text, and `undefined` for anything else (anchors, tags, flow
 * collections with items, block scalars, multi-line or escaped strings, tabs,
 * odd indentation, duplicate keys, any syntax error), which then goes to the
 * yaml library: it reports errors with line and column. Why: the yaml library
 * costs the idle daemon about 3 MB of memory once it has parsed a file, and its
 * lexer runs hot enough to wake V8's optimising compiler (README, "Idle
 * memory"). Scalars resolve as YAML 1.2's core schema resolves them (null,
 * booleans, decimal integers and decimals here; the other number forms it
 * knows are left to the library). A differential test holds it to the library
 * (test/config/yaml-subset.test.ts).
 */

interface Line {
  indent: number;
  /** The line after its indentation (comments still in). */
  text: string;
}

/** Not ours to read: the caller asks the yaml library. */
class Unsupported extends Error {}
const unsupported = (): never => {
  throw new Unsupported();
};

// YAML 1.2 core schema scalars (plain style).
const NULL = /^(?:~|[Nn]ull|NULL)?$/;
const TRUE = /^(?:[Tt]rue|TRUE)$/;
const FALSE = /^(?:[Ff]alse|FALSE)$/;
const INT = /^-?(?:0|[1-9][0-9]{0,14})$/;
const DECIMAL = /^-?(?:0|[1-9][0-9]{0,14})\.[0-9]{1,15}$/;
/** Every other form the core schema reads as a number (octal, hex, exponents, infinities, leading zeros, +): the library's. */
const OTHER_NUMBER = /^(?:[-+]?[0-9]+|0o[0-7]+|0x[0-9a-fA-F]+|[-+]?(?:\.[0-9]+|[0-9]+(?:\.[0-9]*)?)(?:[eE][-+]?[0-9]+)?|[-+]?\.(?:inf|Inf|INF)|\.nan|\.NaN|\.NAN)$/;
const KEY = /^([A-Za-z_][A-Za-z0-9_.-]*):(?: +|$)/;
/** Characters that start something other than a plain scalar, or that need care inside one. */
const INDICATOR_START = /^[-?:,[\]{}#&*!|>'"%@`]/;

function plainScalar(text: string): unknown {
  if (NULL.test(text)) return null;
  if (TRUE.test(text)) return true;
  if (FALSE.test(text)) return false;
  if (INT.test(text) && text !== '-0') return Number(text);
  if (DECIMAL.test(text) && !text.startsWith('-0.0') && text !== '-0') return Number(text);
  if (OTHER_NUMBER.test(text) || INDICATOR_START.test(text) || /: |:$| #|[[\]{},]/.test(text)) return unsupported();
  return text;
}

/** The value of a scalar written after `key: ` or `- ` on one line (its comment dropped). */
function scalar(text: string): unknown {
  const quote = text[0];
  if (quote === '"' || quote === "'") {
    let out = '';
    let i = 1;
    for (;;) {
      if (i >= text.length) return unsupported();
      const c = text[i];
      if (quote === '"' && c === '\\') return unsupported();
      if (c === quote) {
        if (quote === "'" && text[i + 1] === "'") {
          out += "'";
          i += 2;
          continue;
        }
        break;
      }
      out += c;
      i++;
    }
    const rest = text.slice(i + 1);
    if (!/^(?: +#.*| *)$/.test(rest)) return unsupported();
    return out;
  }
  const hash = text.indexOf(' #');
  const value = (hash >= 0 ? text.slice(0, hash) : text).trimEnd();
  if (value === '[]') return [];
  if (value === '{}') return {};
  return plainScalar(value);
}

class Reader {
  private i = 0;
  constructor(private readonly lines: Line[]) {}

  read(): unknown {
    if (this.lines.length === 0) return null;
    if (this.lines[0].indent !== 0 || this.isItem(this.lines[0])) return unsupported();
    const value = this.mapping(0);
    if (this.i < this.lines.length) return unsupported();
    return value;
  }

  private isItem(line: Line): boolean {
    return line.text === '-' || line.text.startsWith('- ');
  }

  /** The block under `key:` or `-` (null when there is none). */
  private nested(parentIndent: number, allowSequenceAtSameIndent: boolean): unknown {
    const next = this.lines[this.i];
    if (!next || next.indent < parentIndent) return null;
    if (next.indent === parentIndent) return allowSequenceAtSameIndent && this.isItem(next) ? this.sequence(parentIndent) : null;
    return this.isItem(next) ? this.sequence(next.indent) : this.mapping(next.indent);
  }

  private mapping(indent: number): Record<string, unknown> {
    const out: Record<string, unknown> = {};
    while (this.i < this.lines.length) {
      const line = this.lines[this.i];
      if (line.indent < indent) break;
      if (line.indent > indent || this.isItem(line)) return unsupported();
      const m = KEY.exec(line.text);
      // Keys the core schema reads as null or a boolean are stringified by the library its own way: its to read.
      if (!m || m[1] === '__proto__' || NULL.test(m[1]) || TRUE.test(m[1]) || FALSE.test(m[1]) || Object.prototype.hasOwnProperty.call(out, m[1])) return unsupported();
      const rest = line.text.slice(m[0].length);
      this.i++;
      if (rest === '' || rest.startsWith('#')) out[m[1]] = this.nested(indent, true);
      else {
        out[m[1]] = scalar(rest);
        // A more indented line after a scalar would continue it (a multi-line scalar).
        if ((this.lines[this.i]?.indent ?? -1) > indent) return unsupported();
      }
    }
    return out;
  }

  private sequence(indent: number): unknown[] {
    const out: unknown[] = [];
    while (this.i < this.lines.length) {
      const line = this.lines[this.i];
      if (line.indent < indent) break;
      if (line.indent > indent || !this.isItem(line)) {
        // A sequence under `key:` at the key's own indentation ends where the mapping's next key starts.
        if (line.indent === indent) break;
        return unsupported();
      }
      const content = line.text.slice(1).replace(/^ +/, '');
      if (content === '' || content.startsWith('#')) {
        this.i++;
        out.push(this.nested(indent + 1, false));
        continue;
      }
      const at = indent + (line.text.length - content.length);
      if (KEY.test(content)) {
        // `- key: value`: a mapping whose keys line up after the dash.
        this.lines[this.i] = { indent: at, text: content };
        out.push(this.mapping(at));
        continue;
      }
      if (this.isItem({ indent: at, text: content })) return unsupported();
      this.i++;
      out.push(scalar(content));
      if ((this.lines[this.i]?.indent ?? -1) > indent) return unsupported();
    }
    return out;
  }
}

/** `{ value }` as the yaml library would give it, or undefined when the text is not plain enough for this reader. */
export function readYamlSubset(text: string): { value: unknown } | undefined {
  // Tabs, carriage returns, control characters, a BOM, characters outside the BMP, document markers, directives.
  if (/[^\n\x20-\x7e\u00a0-\ud7ff\ue000-\ufefe\uff00-\ufffd]/.test(text) || /^(?:---|\.\.\.|%)/m.test(text)) return undefined;
  const lines: Line[] = [];
  for (const raw of text.split('\n')) {
    const body = raw.trimEnd();
    const content = body.trimStart();
    if (content === '' || content.startsWith('#')) continue;
    lines.push({ indent: body.length - content.length, text: content });
  }
  try {
    return { value: new Reader(lines).read() };
  } catch (err) {
    if (err instanceof Unsupported) return undefined;
    throw err;
  }
}
