/**
 * config/default.yaml, generated from the schema: every key with its default,
 * its description as a comment, plus the embedded default's own choices (the
 * four simulated readers). `npm run docs:config` writes it; a test checks the
 * file is current, so a key added to a section file shows up here by itself.
 */
import { Kind, type TSchema } from '@sinclair/typebox';
import { stringify } from 'yaml';
import { ConfigSchema } from './schema.js';
import { describeType } from './keys.js';

const HEADER = `# scardgate — the embedded default configuration.
#
# \`make run\` starts the gateway on this file: four simulated readers, the
# built-in MQTT broker, the web UI and a pcscd-compatible socket, all local.
# Every option is listed with its default and a comment. Any key can also be
# set by an environment variable SCARDGATE_<KEY_PATH> (mqtt.baseTopic ->
# SCARDGATE_MQTT_BASE_TOPIC); README.md has the full table.
# Relative paths are relative to the daemon's working directory.
# Check a file with: scardgated --check-config FILE
#
# Generated from the schema by \`npm run docs:config\`: edit the schema's
# descriptions (src/config, each area's config.ts) or src/config/default-yaml.ts.
`;

/** What the embedded default sets beyond the schema defaults, with a comment each. */
const CHOICES: Record<string, { value: unknown; comment: string }> = {
  'drivers.sim.readers': {
    comment:
      'The embedded default: two contact readers with an ISO 7816-4 card (one T=0, one T=1), one contactless reader with a MIFARE Classic 1K, and one empty reader. Card types: iso7816, iso7816-t0, iso14443-4, mifare-classic-1k, mifare-classic-4k, mifare-ultralight; insert and remove at run time with `scardctl insert <reader> <type>` / `scardctl remove <reader>`.',
    value: [
      { name: 'Simulated Contact Reader A', card: { type: 'iso7816-t0' } },
      { name: 'Simulated Contact Reader B', card: { type: 'iso7816' } },
      { name: 'Simulated Contactless Reader', card: { type: 'mifare-classic-1k' } },
      { name: 'Simulated Empty Reader' },
    ],
  },
};

/** The embedded default's choices as a config object (for tests and the generator). */
export function defaultChoices(): Record<string, unknown> {
  const out: Record<string, unknown> = {};
  for (const [path, { value }] of Object.entries(CHOICES)) {
    const segs = path.split('.');
    let o = out;
    for (const s of segs.slice(0, -1)) o = (o[s] ??= {}) as Record<string, unknown>;
    o[segs[segs.length - 1]] = value;
  }
  return out;
}

function wrap(text: string, indent: string, width = 80): string[] {
  const lines: string[] = [];
  for (const para of text.split('\n')) {
    let line = '';
    for (const word of para.split(/\s+/).filter(Boolean)) {
      if (line && indent.length + 2 + line.length + 1 + word.length > width) {
        lines.push(`${indent}# ${line}`);
        line = word;
      } else line = line ? `${line} ${word}` : word;
    }
    lines.push(line ? `${indent}# ${line}` : `${indent}#`);
  }
  return lines;
}

function scalar(v: unknown): string {
  return stringify(v).trimEnd();
}

function isSection(s: TSchema): boolean {
  return s[Kind] === 'Object' && s.properties !== undefined && Object.keys(s.properties).length > 0;
}

function emit(schema: TSchema, prefix: string, depth: number, out: string[]): void {
  const indent = '  '.repeat(depth);
  const props = (schema.properties ?? {}) as Record<string, TSchema>;
  for (const [name, sub] of Object.entries(props)) {
    const path = prefix ? `${prefix}.${name}` : name;
    if (depth === 0 && out.length > 0) out.push('');
    if (isSection(sub)) {
      if (sub.description) out.push(...wrap(String(sub.description), indent));
      out.push(`${indent}${name}:`);
      emit(sub, path, depth + 1, out);
      continue;
    }
    const type = describeType(sub);
    const desc = String(sub.description ?? '');
    const typeNote = /^(one of|integer|number)/.test(type) ? ` (${type})` : '';
    out.push(...wrap(desc + typeNote, indent));
    const choice = CHOICES[path];
    if (choice) out.push(...wrap(choice.comment, indent));
    const value = choice ? choice.value : sub.default;
    if (value === undefined) {
      const example = Array.isArray(sub.examples) ? sub.examples[0] : undefined;
      out.push(`${indent}# ${name}:${example !== undefined ? ` ${scalar(example)}` : ''}`);
      continue;
    }
    const isEmptyContainer = (Array.isArray(value) && value.length === 0) || (typeof value === 'object' && value !== null && Object.keys(value).length === 0);
    if (typeof value !== 'object' || value === null || isEmptyContainer) {
      out.push(`${indent}${name}: ${scalar(value)}`);
    } else {
      out.push(`${indent}${name}:`);
      for (const l of stringify(value).trimEnd().split('\n')) out.push(`${indent}  ${l}`);
    }
  }
}

export function renderDefaultYaml(): string {
  const out: string[] = [];
  emit(ConfigSchema, '', 0, out);
  return `${HEADER}\n${out.join('\n')}\n`;
}
