/**
 * The masking and diff rules of the configuration, as the web routes (form,
 * set-up) use them: the config store's (src/gateway/config-store.ts), the one
 * owner of these rules.
 */
import { parseYaml, resolveConfig, type LoadedConfig } from '../../config/load.js';
import { unmaskYaml } from '../../gateway/config-yaml.js';

export { MASK, isSecretKey, maskObject, changedParts } from '../../gateway/config-store.js';
export { maskYaml, unmaskYaml } from '../../gateway/config-yaml.js';

export interface ValidatedEdit {
  /** Text to write (secrets restored). */
  text: string;
  loaded: LoadedConfig;
}

/** Throws ConfigError (problems named by key path) exactly as start-up would. */
export function validateEdit(edited: string, current: string, source: string): ValidatedEdit {
  const text = unmaskYaml(edited, current, source);
  return { text, loaded: resolveConfig(parseYaml(text, source), source) };
}
