/**
 * The one way the web API changes the configuration file: validate the new
 * text with the start-up loader (secrets left masked keep their value), write
 * it, and restart the parts it touches. The raw YAML editor, the settings form
 * and the guided reader set-up all end here.
 */
import { readFile } from 'node:fs/promises';
import type { Document } from 'yaml';
import type { ConfigApplied } from '../../gateway/types.js';
import { HttpError } from './errors.js';
import type { HttpDeps } from './deps.js';

export interface SaveReport extends ConfigApplied {
  saved: true;
  file: string;
  /** restartNeeded, under the name the UI's forms read. */
  pending: string[];
}

export function editableFile(deps: HttpDeps): string {
  const file = deps.configFile;
  if (!file) throw new HttpError(409, 'the gateway runs on the embedded default configuration; start it with --config <file> to edit');
  return file;
}

/** The file being edited as it is on disk now (a file not created yet reads as empty), for the HTTP editor. */
export async function readEditedFile(file: string): Promise<string> {
  try {
    return await readFile(file, 'utf8');
  } catch (e) {
    if ((e as NodeJS.ErrnoException).code === 'ENOENT') return '';
    throw new HttpError(500, `cannot read the configuration file ${file}: ${(e as Error).message}`);
  }
}

/** The file as a YAML document to edit in place (comments and layout kept). */
export async function configDocument(deps: HttpDeps): Promise<{ file: string; current: string; doc: Document }> {
  const file = editableFile(deps);
  const current = await readEditedFile(file);
  // The yaml library when the file is edited, not at start (README, "Idle memory").
  const { parseDocument } = await import('yaml');
  const doc = parseDocument(current);
  if (doc.errors.length) throw new HttpError(409, `the configuration file ${file} is not valid YAML (${doc.errors[0].message}): fix it in the raw editor first`);
  return { file, current, doc };
}

/** Every save goes through the gateway's config store: one apply path with SIGHUP (diff against the running configuration, restarts, shadows). */
export async function saveConfigText(deps: HttpDeps, text: string, by: string | undefined): Promise<SaveReport> {
  const file = editableFile(deps);
  const r = await deps.api.call('config/apply', { yaml: text }, { owner: 'http', label: by ?? 'web' });
  return { ...r, saved: true, file, pending: r.restartNeeded };
}
