/**
 * Where `scardctl passwd` and `scardctl token` find the state directory: they
 * work on the files directly (no daemon needed), so they read the same config
 * the daemon does.
 */
import { existsSync, readFileSync } from 'node:fs';
import { parse } from 'yaml';
import { StateConfig } from '../../config/sections.js';
import { UsageError } from './command.js';

export const SYSTEM_CONFIG = '/etc/scardgate/scardgate.yaml';

/** Pulls `--state-dir DIR` / `--config FILE` out of args; returns the directory and the remaining args. */
export function stateDirFromArgs(cmd: string, args: string[]): { stateDir: string; rest: string[] } {
  const rest: string[] = [];
  let stateDir: string | undefined;
  let config: string | undefined;
  for (let i = 0; i < args.length; i++) {
    const a = args[i];
    const value = (): string => {
      const v = a.includes('=') ? a.slice(a.indexOf('=') + 1) : args[++i];
      if (!v) throw new UsageError(`${cmd}: ${a.split('=')[0]} needs a value`);
      return v;
    };
    if (a === '--state-dir' || a.startsWith('--state-dir=')) stateDir = value();
    else if (a === '--config' || a.startsWith('--config=')) config = value();
    else rest.push(a);
  }
  if (stateDir) return { stateDir, rest };
  const file = config ?? (existsSync(SYSTEM_CONFIG) ? SYSTEM_CONFIG : undefined);
  if (file) {
    let c: { state?: { dir?: unknown } } | null;
    try {
      c = parse(readFileSync(file, 'utf8')) as typeof c;
    } catch (e) {
      throw new UsageError(`${cmd}: cannot read ${file}: ${(e as Error).message}`);
    }
    if (typeof c?.state?.dir === 'string') return { stateDir: c.state.dir, rest };
  }
  return { stateDir: StateConfig.properties.dir.default as string, rest };
}
