/**
 * The owner of the running configuration. Every change — SIGHUP, the web
 * editor, any future remote change — goes through `apply`: validate as
 * start-up does, diff against the running configuration (not the start-up
 * one), restart exactly the services whose section changed, apply the log
 * level at once, name what needs a daemon restart, and say which file values
 * an environment variable shadows. Secrets leave masked; a masked secret
 * sent back is kept only while the endpoint it belongs to is unchanged.
 */
import { chmod, readFile, rename, stat, unlink, writeFile } from 'node:fs/promises';
import type { Logger } from 'pino';
import { ConfigError, parseYamlAsync, readConfigText, resolveConfigAsync, type LoadedConfig } from '../config/load-compiled.js';
import type { Config } from '../config/schema.js';
import { isSecretApdu } from '../log/redact.js';
import { parseHex } from '../iso7816/hex.js';
import { invalid } from './errors.js';
import { SCARD } from '../pcsc/constants.js';
import { PcscError } from '../pcsc/error.js';
import type { ConfigApplied, ConfigCheck, ConfigOps, ConfigView } from './types.js';

export const MASK = '********';

/** Key names whose values are secrets (never shown in clear, never logged). */
export const isSecretKey = (key: string): boolean => /pass(word|phrase)|secret|token|credential|^(pin|puk)$|(pin|puk)$/i.test(key);

/** Only text and numbers are secrets; a boolean such as `secret: false` is a setting. */
const isSecretValue = (v: unknown): boolean => (typeof v === 'string' && v !== '') || typeof v === 'number';

/** Keys naming where a secret is sent: a masked secret is restored only while its siblings among these are unchanged. */
export const ENDPOINT_KEYS = ['url', 'host', 'port', 'server', 'username'];

/** A profile APDU `{ apdu, secret: true }` (or a VERIFY-like APDU) hides its bytes like a password. */
function isSecretApduEntry(parent: unknown, key: string, value: unknown): boolean {
  if (key !== 'apdu' || typeof value !== 'string' || !parent || typeof parent !== 'object') return false;
  if ((parent as { secret?: unknown }).secret === true) return true;
  try {
    return isSecretApdu(parseHex(value));
  } catch {
    return false;
  }
}

export const hidden = (parent: unknown, key: string, value: unknown): boolean => (isSecretKey(key) && isSecretValue(value)) || isSecretApduEntry(parent, key, value);

/** A deep copy with secret values masked (the running-configuration view). */
export function maskObject<T>(value: T): T {
  const rec = (v: unknown): unknown => {
    if (Array.isArray(v)) return v.map(rec);
    if (v && typeof v === 'object') return Object.fromEntries(Object.entries(v).map(([k, x]) => [k, hidden(v, k, x) ? MASK : rec(x)]));
    return v;
  };
  return rec(value) as T;
}

export function getPath(obj: unknown, path: readonly string[]): unknown {
  let o = obj;
  for (const p of path) {
    if (!o || typeof o !== 'object') return undefined;
    o = (o as Record<string, unknown>)[p];
  }
  return o;
}

/** The parts a change touches: top-level sections, drivers split per driver ("drivers.sim"), log.level on its own. */
export function changedParts(before: Config, after: Config): string[] {
  const out: string[] = [];
  const same = (a: unknown, b: unknown): boolean => JSON.stringify(a) === JSON.stringify(b);
  const keys = new Set([...Object.keys(before), ...Object.keys(after)]);
  for (const k of keys) {
    const a = (before as Record<string, any>)[k];
    const b = (after as Record<string, any>)[k];
    if ((k === 'drivers' || k === 'log') && a && b && typeof a === 'object' && typeof b === 'object') {
      for (const d of new Set([...Object.keys(a), ...Object.keys(b)])) if (!same(a[d], b[d])) out.push(`${k}.${d}`);
    } else if (!same(a, b)) out.push(k);
  }
  return out.sort();
}

/** Sections that are one frontend each and restart alone. The web UI cannot restart itself mid-request. */
const RESTARTABLE = new Set(['mqtt', 'pcsc', 'control']);
/** Applied in place, no restart. */
const LIVE = new Set(['log.level']);

export interface RestartReport {
  restarted: string[];
  pending: string[];
  failed: Array<{ part: string; error: string }>;
}

export interface ConfigStoreOptions {
  /** The YAML file the daemon runs on (undefined: the embedded default; editing refused, SIGHUP re-reads it). */
  file?: string;
  config: Config;
  env: NodeJS.ProcessEnv;
  log: Logger;
  /** Names of the services running now. */
  running(): string[];
  restart(names: string[], next: Config): Promise<RestartReport>;
}

export class ConfigStore implements ConfigOps {
  private running: Config;
  private chain: Promise<unknown> = Promise.resolve();
  constructor(private readonly o: ConfigStoreOptions) {
    this.running = o.config;
  }

  /** The configuration in effect now (changes applied). */
  current(): Config {
    return this.running;
  }

  async view(): Promise<ConfigView> {
    const text = this.o.file ? await this.readFile() : '';
    return {
      file: this.o.file ?? null,
      editable: this.o.file !== undefined,
      yaml: (await import('./config-yaml.js')).maskYaml(text),
      effective: maskObject(this.running),
      // The key reference from the schema (one source with the README's table); TypeBox only when asked.
      keys: (await import('../config/keys.js')).walkKeys().map((k) => ({ path: k.path, type: k.type, default: isSecretKey(k.path.split('.').pop() ?? '') ? undefined : k.default, description: k.description })),
    };
  }

  async validate(yaml: string): Promise<ConfigCheck> {
    try {
      const { loaded, content } = await this.check(yaml);
      return this.plan(loaded, content);
    } catch (e) {
      if (e instanceof ConfigError) return { valid: false, problems: e.problems, changed: [], shadowed: [], restartNeeded: [] };
      throw e;
    }
  }

  /** Validate, write the file, apply. Refused whole (nothing written) when invalid. */
  apply(yaml: string, by: string): Promise<ConfigApplied> {
    return this.serial(async () => {
      if (!this.o.file) throw new PcscError(SCARD.E_UNSUPPORTED_FEATURE, 'the gateway runs on the embedded default configuration; start it with --config <file> to edit');
      let checked;
      try {
        checked = await this.check(yaml);
      } catch (e) {
        if (e instanceof ConfigError) throw invalid(`invalid configuration: ${e.problems.join('; ')}`);
        throw e;
      }
      await this.writeFile(checked.text);
      this.o.log.info({ by }, 'configuration file saved');
      return { saved: true, ...(await this.applyLoaded(checked.loaded, checked.content, 'configuration applied')) };
    });
  }

  /** SIGHUP: re-read the file and apply it; an invalid file is refused whole, the running configuration kept. */
  reload(): Promise<ConfigApplied> {
    return this.serial(async () => {
      let loaded: LoadedConfig;
      let content: unknown = {};
      try {
        // One read and one parse: what is applied and what the change report compares are the same text.
        const { text, source } = readConfigText(this.o.file);
        const parsed = await parseYamlAsync(text, source);
        loaded = await resolveConfigAsync(parsed, source, { env: this.o.env });
        if (this.o.file) content = parsed;
      } catch (err) {
        const problems = err instanceof ConfigError ? err.problems : [(err as Error).message];
        this.o.log.error({ problems }, 'reload refused: configuration invalid; keeping the running one');
        return { saved: false, valid: false, problems, changed: [], shadowed: [], restartNeeded: [], applied: [], restarted: [], failed: [] };
      }
      return { saved: false, ...(await this.applyLoaded(loaded, content, 'configuration reloaded')) };
    });
  }

  private serial<T>(f: () => Promise<T>): Promise<T> {
    const p = this.chain.then(f, f);
    this.chain = p.catch(() => undefined);
    return p;
  }

  private async check(yaml: string): Promise<{ text: string; loaded: LoadedConfig; content: unknown }> {
    const source = this.o.file ?? 'configuration';
    const current = this.o.file ? await this.readFile().catch(() => '') : '';
    // The yaml library only when the configuration is edited (README, "Idle memory").
    const { unmaskYaml } = await import('./config-yaml.js');
    const text = unmaskYaml(yaml, current, source);
    const content = await parseYamlAsync(text, source);
    return { text, content, loaded: await resolveConfigAsync(content, source, { env: this.o.env }) };
  }

  private plan(loaded: LoadedConfig, content: unknown): ConfigCheck {
    const changed = changedParts(this.running, loaded.config);
    const running = new Set(this.o.running());
    const restartNeeded = changed.filter((p) => !LIVE.has(p) && !(RESTARTABLE.has(p) && running.has(p) && (loaded.config as Record<string, any>)[p]?.enabled !== false));
    const shadowed = Object.entries(loaded.envOverrides)
      .filter(([key]) => getPath(content, key.split('.')) !== undefined)
      .map(([key, env]) => ({ key, env }));
    return { valid: true, problems: [], changed, shadowed, restartNeeded };
  }

  private async applyLoaded(loaded: LoadedConfig, content: unknown, msg: string): Promise<Omit<ConfigApplied, 'saved'>> {
    const plan = this.plan(loaded, content);
    const next = loaded.config;
    const live = plan.changed.filter((p) => LIVE.has(p));
    const restart = plan.changed.filter((p) => !LIVE.has(p) && !plan.restartNeeded.includes(p));
    // The running configuration takes what was applied, section by section; the rest waits for a daemon restart.
    const merged = structuredClone(this.running) as Record<string, any>;
    if (live.includes('log.level')) {
      this.o.log.level = next.log.level;
      merged.log.level = next.log.level;
    }
    let report: RestartReport = { restarted: [], pending: [], failed: [] };
    if (restart.length) {
      for (const k of restart) merged[k] = (next as Record<string, unknown>)[k];
      report = await this.o.restart(restart, merged as Config);
      for (const k of restart) if (!report.restarted.includes(k)) merged[k] = (this.running as Record<string, unknown>)[k];
    }
    this.running = merged as Config;
    const out = { ...plan, restartNeeded: [...plan.restartNeeded, ...report.pending], applied: live, restarted: report.restarted, failed: report.failed };
    if (out.failed.length) this.o.log.error({ failed: out.failed }, 'a frontend did not restart with the new configuration');
    if (out.shadowed.length) this.o.log.warn({ shadowed: out.shadowed }, 'environment variables override these file values');
    this.o.log.info({ changed: out.changed, applied: out.applied, restarted: out.restarted, restartNeeded: out.restartNeeded }, msg);
    return out;
  }

  private async readFile(): Promise<string> {
    try {
      return await readFile(this.o.file!, 'utf8');
    } catch (e) {
      throw invalid(`cannot read the configuration file ${this.o.file}: ${(e as Error).message}`);
    }
  }

  /**
   * Atomic replace (temp file + rename, mode kept) where the directory allows
   * it; else in place (a file the daemon may write in a directory it may not,
   * as /etc/scardgate often is).
   */
  private async writeFile(text: string): Promise<void> {
    const file = this.o.file!;
    const mode = (await stat(file).catch(() => undefined))?.mode;
    const tmp = `${file}.${process.pid}.tmp`;
    try {
      await writeFile(tmp, text, { mode: 0o600 });
      if (mode !== undefined) await chmod(tmp, mode & 0o777);
      await rename(tmp, file);
      return;
    } catch (e) {
      await unlink(tmp).catch(() => undefined);
      const code = (e as NodeJS.ErrnoException).code;
      if (code !== 'EACCES' && code !== 'EPERM' && code !== 'EROFS') throw invalid(`cannot write the configuration file ${file}: ${(e as Error).message}`);
    }
    try {
      await writeFile(file, text);
    } catch (e) {
      throw invalid(`cannot write the configuration file ${file}: ${(e as NodeJS.ErrnoException).code === 'EACCES' ? 'permission denied for the daemon user' : (e as Error).message}`);
    }
  }
}
