/**
 * SCARDGATE_<KEY_PATH> environment overrides, applied onto the file's content
 * before defaults and validation. The key table is passed in: the daemon's
 * comes from the compiled schema (src/config/schema-compiled.ts, generated from
 * the schema's key walk in src/config/keys.ts), so no TypeBox at start-up.
 */

export const ENV_PREFIX = 'SCARDGATE_';

/** How an environment value is turned into the key's value. */
export type EnvKind = 'string' | 'integer' | 'number' | 'boolean' | 'enum' | 'json';

/** What reading one key's environment variable needs (src/config/keys.ts's ConfigKey has more). */
export interface EnvKey {
  /** Dotted path, e.g. "mqtt.baseTopic". */
  path: string;
  /** SCARDGATE_MQTT_BASE_TOPIC */
  env: string;
  envKind: EnvKind;
  /** Short type text: "string", "integer 0..65535", "one of: info, debug", "array (JSON in env)". */
  type: string;
  /** The allowed values of an enum key. */
  values?: unknown[];
}

/** drivers.sim.readers[0].name from ["drivers","sim","readers","0","name"]. */
export function formatPath(segments: readonly string[]): string {
  let out = '';
  for (const s of segments) {
    if (/^\d+$/.test(s)) out += `[${s}]`;
    else out += out ? `.${s}` : s;
  }
  return out || '(top level)';
}

/** A value as a problem line quotes it (JSON, at most 60 characters). */
export function show(v: unknown): string {
  let s: string;
  try {
    s = JSON.stringify(v) ?? String(v);
  } catch {
    s = String(v);
  }
  return s.length > 60 ? `${s.slice(0, 57)}...` : s;
}

export function isMapping(v: unknown): v is Record<string, unknown> {
  return typeof v === 'object' && v !== null && !Array.isArray(v);
}

/** Turn one environment value into the key's type, or explain why it cannot be. */
export function parseEnvValue(key: EnvKey, raw: string): unknown {
  const fail = (why: string): never => {
    throw new Error(`${key.env}=${show(raw)}: ${why} (expected ${key.type}, for ${key.path})`);
  };
  switch (key.envKind) {
    case 'string':
      return raw;
    case 'integer':
      if (!/^[+-]?\d+$/.test(raw.trim())) fail('not an integer');
      return Number(raw.trim());
    case 'number': {
      const n = Number(raw.trim());
      if (raw.trim() === '' || !Number.isFinite(n)) fail('not a number');
      return n;
    }
    case 'boolean': {
      const v = raw.trim().toLowerCase();
      if (['true', '1', 'yes', 'on'].includes(v)) return true;
      if (['false', '0', 'no', 'off'].includes(v)) return false;
      return fail('not a boolean (use true/false, 1/0, yes/no, on/off)');
    }
    case 'enum': {
      const hit = (key.values ?? []).find((v) => String(v) === raw.trim());
      if (hit === undefined) fail('not an allowed value');
      return hit;
    }
    case 'json':
      try {
        return JSON.parse(raw);
      } catch (err) {
        return fail(`not valid JSON (${(err as Error).message})`);
      }
  }
}

/**
 * Apply SCARDGATE_<KEY_PATH> variables onto the raw file content (in place).
 * Returns the problems (bad values) and remarks (unknown SCARDGATE_* names).
 */
export function applyEnvOverrides(
  raw: Record<string, unknown>,
  env: NodeJS.ProcessEnv,
  keys: readonly EnvKey[],
): { problems: string[]; warnings: string[]; applied: Record<string, string> } {
  const problems: string[] = [];
  const warnings: string[] = [];
  const applied: Record<string, string> = {};
  const byEnv = new Map(keys.map((k) => [k.env, k]));
  for (const name of Object.keys(env).sort()) {
    if (!name.startsWith(ENV_PREFIX)) continue;
    const rawValue = env[name];
    if (rawValue === undefined) continue;
    const key = byEnv.get(name);
    if (!key) {
      warnings.push(`${name} is not a configuration variable (ignored)`);
      continue;
    }
    let value: unknown;
    try {
      value = parseEnvValue(key, rawValue);
    } catch (err) {
      problems.push((err as Error).message);
      continue;
    }
    const segs = key.path.split('.');
    let node: Record<string, unknown> = raw;
    let blocked: string | undefined;
    for (let i = 0; i < segs.length - 1; i++) {
      const next = node[segs[i]];
      if (next === undefined || next === null) node[segs[i]] = {};
      else if (!isMapping(next)) {
        blocked = formatPath(segs.slice(0, i + 1));
        break;
      }
      node = node[segs[i]] as Record<string, unknown>;
    }
    if (blocked) {
      problems.push(`${name}: cannot override ${key.path} because ${blocked} in the file is not a mapping`);
      continue;
    }
    node[segs[segs.length - 1]] = value;
    applied[key.path] = name;
  }
  return { problems, warnings, applied };
}
