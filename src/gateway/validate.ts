/**
 * Parameter checking for every operation, whatever the transport: the
 * schema in catalog.ts, with an error that names the field and the problem
 * (unknown field, missing field, wrong type, bad hex, bad APDU, value not
 * in the list). Validators compile on an operation's first use, not at
 * import (compiling all of them was the bulk of a frontend's start-up).
 */
import { Ajv, type ErrorObject, type ValidateFunction } from 'ajv';
import { OPERATIONS, OPERATION_NAMES, isOperation, type Operation, type ParamsOf } from './catalog.js';
import { invalid } from './errors.js';
import { apduProblem, hexProblem } from './apdu.js';

const ajv = new Ajv({ allErrors: false, strict: false, useDefaults: false });
ajv.addFormat('hex', { type: 'string', validate: (s: string) => hexProblem(s) === undefined });
ajv.addFormat('apdu', { type: 'string', validate: (s: string) => apduProblem(s) === undefined });

const validators = new Map<Operation, ValidateFunction>();
const validatorFor = (op: Operation): ValidateFunction => {
  let v = validators.get(op);
  if (!v) validators.set(op, (v = ajv.compile(OPERATIONS[op].params)));
  return v;
};

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
export function checkParams<O extends Operation>(op: O, params: unknown): ParamsOf<O> {
  const body = params ?? {};
  if (typeof body !== 'object' || Array.isArray(body)) {
    throw invalid(`parameters must be a JSON object, got ${Array.isArray(body) ? 'an array' : typeof body}`);
  }
  const v = validatorFor(op);
  if (!v(body)) throw invalid(describe(v.errors![0], body));
  return body as ParamsOf<O>;
}

export function checkOperation(name: string): Operation {
  if (!isOperation(name)) throw invalid(`unknown operation "${name}"; operations: ${OPERATION_NAMES.join(', ')}`);
  return name;
}
