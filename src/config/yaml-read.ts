/** YAML text to a value with the yaml library, syntax errors as ConfigError lines with line:column. */
import { LineCounter, parseDocument } from 'yaml';
import { ConfigError } from './load-compiled.js';

/** Parse YAML text; syntax errors become ConfigError lines with line:column. */
export function parseYaml(text: string, source: string): unknown {
  const lines = new LineCounter();
  const doc = parseDocument(text, { prettyErrors: false, uniqueKeys: true, lineCounter: lines });
  if (doc.errors.length > 0) {
    throw new ConfigError(
      source,
      doc.errors.map((e) => {
        const pos = e.linePos?.[0] ?? lines.linePos(e.pos[0]);
        return `${pos ? `line ${pos.line}, column ${pos.col}` : 'YAML'}: ${e.message.split('\n')[0]} (expected valid YAML)`;
      }),
    );
  }
  try {
    // Aliases are resolved here: an unknown anchor or an alias bomb (maxAliasCount) ends up as a problem line.
    return doc.toJS({ maxAliasCount: 100 });
  } catch (err) {
    throw new ConfigError(source, [`YAML: ${(err as Error).message.split('\n')[0]} (expected valid YAML)`]);
  }
}

