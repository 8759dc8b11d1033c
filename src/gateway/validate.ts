/**
 * Parameter checking for every operation, whatever the transport: the
 * schema in catalog.ts, with an error that names the field and the problem
 * (unknown field, missing field, wrong type, bad hex, bad APDU, value not
 * in the list). Validators compile on an operation's first use, not at
 * import (compiling all of them was the bulk of a frontend's start-up), and
 * Ajv itself is imported then: a daemon that only ever answers operations
 * without parameters (readers, info, health, diagnostics...) never loads it
 * (about 180 KB of source, its instance and its generated code: README,
 * "Idle memory").
 */
import type { Ajv, ErrorObject, ValidateFunction } from 'ajv';
import { OPERATIONS, OPERATION_NAMES, isOperation, type Operation, type ParamsOf } from './catalog.js';
import { invalid } from './errors.js';
import { apduProblem, hexProblem } from './apdu.js';

let ajv: Promise<Ajv> | undefined;
function compiler(): Promise<Ajv> {
  // ajv is CommonJS: its module.exports is the default export under Node and in the esbuild bundle alike
  // (the bundle gives a dynamically imported CommonJS module no named exports).
  return (ajv ??= import('ajv').then(({ default: ajvModule }) => {
    const a = new ajvModule.Ajv({ allErrors: false, strict: false, useDefaults: false });
    a.addFormat('hex', { type: 'string', validate: (s: string) => hexProblem(s) === undefined });
    a.addFormat('apdu', { type: 'string', validate: (s: string) => apduProblem(s) === undefined });
    return a;
  }));
}

const validators = new Map<Operation, ValidateFunction>();
async function validatorFor(op: Operation): Promise<ValidateFunction> {
  let v = validators.get(op);
  if (!v) {
    const a = await compiler();
    v = validators.get(op) ?? a.compile(OPERATIONS[op].params);
    validators.set(op, v);
  }
  return v;
}

/** Operations whose schema has no fields: the only check is that no field is given (no Ajv needed). */
const noFields = (op: Operation): boolean => Object.keys((OPERATIONS[op].params as { properties?: object }).properties ?? {}).length === 0;

function describe(err: ErrorObject, data: unknown): string {
  const path = err.instancePath ? err.instancePath.slice(1).replace(/\//g, '.') : '';
  const at = err.instancePath
    .split('/')
    .slice(1)
    .reduce<unknown>((v, k) => (v && typeof v === 'object' ? (v as Record<string, unknown>)[k.replace(/~1/g, '/').replace(/~0/g, '~')] : undefined), data);
  const where = path ? `${path}: ` : '';
  switch (err.keyword) {
    case 'additionalProperties':
      return `${where}unknown field "${(err.params as { additionalProperty: string }).additionalProperty}"`;
    case 'required':
      return `${where}missing field "${(err.params as { missingProperty: string }).missingProperty}"`;
    case 'format': {
      const f = (err.params as { format: string }).format;
      const why = typeof at === 'string' ? (f === 'apdu' ? apduProblem(at) : hexProblem(at)) : undefined;
      return `${where}not ${f === 'apdu' ? 'a valid APDU' : 'valid hex'}${why ? ` (${why})` : ''}`;
    }
    case 'type':
      return `${where}must be ${(err.params as { type: string }).type}, got ${Array.isArray(at) ? 'array' : at === null ? 'null' : typeof at}`;
    case 'enum':
      return `${where}must be one of ${((err.params as { allowedValues: unknown[] }).allowedValues ?? []).map((v) => JSON.stringify(v)).join(', ')}${at !== undefined ? `, got ${JSON.stringify(at)}` : ''}`;
    case 'anyOf':
      return `${where}not one of the accepted forms${typeof at === 'string' || typeof at === 'number' ? ` (got ${JSON.stringify(at)})` : ''}`;
    default:
      return `${where}${err.message ?? err.keyword}`;
  }
}

/** The operation's parameters, checked; throws SCARD_E_INVALID_PARAMETER naming the problem. */
export async function checkParams<O extends Operation>(op: O, params: unknown): Promise<ParamsOf<O>> {
  return checkWith(op, params, noFields(op) ? undefined : await validatorFor(op));
}

/** Compile every operation's validator now (the fuzzer checks parameters synchronously with checkParamsNow). */
export async function prepareValidators(): Promise<void> {
  for (const op of OPERATION_NAMES) if (!noFields(op)) await validatorFor(op);
}

/** checkParams without waiting: needs prepareValidators() to have resolved. */
export function checkParamsNow<O extends Operation>(op: O, params: unknown): ParamsOf<O> {
  const v = validators.get(op);
  if (!v && !noFields(op)) throw new Error('checkParamsNow before prepareValidators()');
  return checkWith(op, params, v);
}

function checkWith<O extends Operation>(op: O, params: unknown, v: ValidateFunction | undefined): ParamsOf<O> {
  const body = params ?? {};
  if (typeof body !== 'object' || Array.isArray(body)) {
    throw invalid(`parameters must be a JSON object, got ${Array.isArray(body) ? 'an array' : typeof body}`);
  }
  if (noFields(op) || !v) {
    // What Ajv reports for additionalProperties: false with no properties: the first key, in for-in order.
    for (const key in body) throw invalid(`unknown field "${key}"`);
    return body as ParamsOf<O>;
  }
  if (!v(body)) throw invalid(describe(v.errors![0], body));
  return body as ParamsOf<O>;
}

export function checkOperation(name: string): Operation {
  if (!isOperation(name)) throw invalid(`unknown operation "${name}"; operations: ${OPERATION_NAMES.join(', ')}`);
  return name;
}
