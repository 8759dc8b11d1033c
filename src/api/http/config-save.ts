/**
 * The one way the web API changes the configuration file: validate the new
 * text with the start-up loader (secrets left masked keep their value), write
 * it, and restart the parts it touches. The raw YAML editor, the settings form
 * and the guided reader set-up all end here.
 */
import { chmod, readFile, stat, writeFile } from 'node:fs/promises';
import { parseDocument, type Document } from 'yaml';
import { ConfigError } from '../../config/load.js';
import { changedParts, validateEdit } from './config-edit.js';
import { HttpError } from './errors.js';
import { writePrivateFile } from './auth/password.js';
import type { HttpDeps, RestartReport } from './deps.js';

export interface SaveReport extends RestartReport {
  saved: true;
  file: string;
  changed: string[];
}

export function editableFile(deps: HttpDeps): string {
  const file = deps.configFile;
  if (!file) throw new HttpError(409, 'the gateway runs on the embedded default configuration; start it with --config <file> to edit');
  return file;
}

export async function readConfigText(file: string): Promise<string> {
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
  const current = await readConfigText(file);
  const doc = parseDocument(current);
  if (doc.errors.length) throw new HttpError(409, `the configuration file ${file} is not valid YAML (${doc.errors[0].message}): fix it in the raw editor first`);
  return { file, current, doc };
}

export async function saveConfigText(deps: HttpDeps, text: string, by: string | undefined): Promise<SaveReport> {
  const file = editableFile(deps);
  const current = await readConfigText(file);
  let edit;
  try {
    edit = validateEdit(text, current, file);
  } catch (e) {
    if (e instanceof ConfigError) throw new HttpError(400, `invalid configuration: ${e.problems.join('; ')}`, { problems: e.problems });
    throw e;
  }
  const parts = changedParts(deps.config, edit.loaded.config);
  await writeConfigFile(file, edit.text);
  deps.log.info({ parts, by }, 'configuration changed through the web API');
  let report: RestartReport = { restarted: [], pending: parts };
  if (deps.applyConfig && parts.length > 0) report = await deps.applyConfig(parts, edit.loaded.config);
  return { saved: true, file, changed: parts, ...report };
}

/**
 * Atomic replace (temp file + rename, mode kept) where the directory allows it;
 * else in place (a file the daemon may write in a directory it may not, as
 * /etc/scardgate often is). Failures say which file and why.
 */
async function writeConfigFile(file: string, text: string): Promise<void> {
  const mode = (await stat(file).catch(() => undefined))?.mode;
  try {
    await writePrivateFile(file, text);
    if (mode !== undefined) await chmod(file, mode & 0o777);
    return;
  } catch (e) {
    const code = (e as NodeJS.ErrnoException).code;
    if (code !== 'EACCES' && code !== 'EPERM' && code !== 'EROFS') throw new HttpError(500, `cannot write the configuration file ${file}: ${(e as Error).message}`);
  }
  try {
    await writeFile(file, text);
  } catch (e) {
    throw new HttpError(500, `cannot write the configuration file ${file}: ${(e as NodeJS.ErrnoException).code === 'EACCES' ? 'permission denied for the daemon user' : (e as Error).message}`);
  }
}
