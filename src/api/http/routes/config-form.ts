/**
 * The settings form's server side: the config schema (the one that validates
 * start-up, so sections, descriptions, defaults and enums come from it), the
 * file's values with secrets masked, and the keys an environment variable
 * overrides (shown locked, with the variable's name). Changes come back as
 * key paths and values, are applied to the YAML document in place (comments
 * kept) and saved through the same path as the raw editor.
 */
import type { FastifyInstance } from 'fastify';
import { Type, type Static } from '@sinclair/typebox';
import { applyEnvOverrides } from '../../../config/load-compiled.js';
import { isSecretKey, maskObject, MASK } from '../../../gateway/config-store.js';
import { configDocument, readEditedFile, saveConfigText } from '../config-save.js';
import { HttpError } from '../errors.js';
import { principalLabel } from '../auth/plugin.js';
import type { HttpDeps } from '../deps.js';

const Path = Type.Array(Type.Union([Type.String({ maxLength: 100 }), Type.Integer({ minimum: 0, maximum: 1000 })]), { minItems: 1, maxItems: 12 });
const FormPutBody = Type.Object(
  {
    set: Type.Optional(Type.Array(Type.Object({ path: Path, value: Type.Unknown() }, { additionalProperties: false }), { maxItems: 500 })),
    unset: Type.Optional(Type.Array(Path, { maxItems: 500 })),
  },
  { additionalProperties: false },
);

/** Key paths set by SCARDGATE_* variables in the daemon's environment -> the variable's name. */
export function envOverrides(env: NodeJS.ProcessEnv = process.env): Record<string, string> {
  return applyEnvOverrides({}, env).applied;
}

export function configFormRoutes(app: FastifyInstance, deps: HttpDeps): void {
  app.get('/api/config/form', async () => {
    const file = deps.configFile;
    const text = file ? await readEditedFile(file) : '';
    // The schema (TypeBox) and the yaml library when the form is opened, not at start (README, "Idle memory").
    const [{ parse }, { ConfigSchema }] = await Promise.all([import('yaml'), import('../../../config/schema.js')]);
    let values: unknown;
    try {
      values = parse(text) ?? {};
    } catch {
      values = null;
    }
    return {
      file: file ?? null,
      editable: file !== undefined,
      // null: the file does not parse; the form then sends the technician to the raw view.
      values: values === null ? null : maskObject(values),
      effective: maskObject(deps.config),
      env: envOverrides(),
      mask: MASK,
      schema: ConfigSchema,
    };
  });

  app.put<{ Body: Static<typeof FormPutBody> }>('/api/config/form', { schema: { body: FormPutBody } }, async (req) => {
    const env = envOverrides();
    const { doc } = await configDocument(deps);
    for (const { path, value } of req.body.set ?? []) {
      const key = path.join('.');
      if (env[key]) throw new HttpError(409, `${key}: set by the environment variable ${env[key]}; a file value would be ignored (change it where the service's environment is defined)`);
      const last = String(path[path.length - 1]);
      // A secret left as the mask keeps the file's value (restored by the save path).
      if (isSecretKey(last) && value === '') doc.deleteIn(path);
      else doc.setIn(path, value);
    }
    for (const path of req.body.unset ?? []) doc.deleteIn(path);
    return saveConfigText(deps, doc.toString(), principalLabel(req.principal));
  });
}
