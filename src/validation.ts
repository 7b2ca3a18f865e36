/**
 * Request validation from the routes' TypeBox schemas, with messages a caller can act
 * on: the field, what is allowed, and what was sent. Used as Fastify's validator for
 * every route, and by services that validate items one by one (batch ingest).
 */
import type { TSchema } from '@sinclair/typebox';
import { TypeCompiler, type TypeCheck } from '@sinclair/typebox/compiler';
import { ValueErrorType, type ValueError } from '@sinclair/typebox/errors';
import { ServiceError, quote } from './errors.js';

type JsonSchema = {
  type?: string;
  anyOf?: JsonSchema[];
  const?: unknown;
  minimum?: number;
  maximum?: number;
  minLength?: number;
  maxLength?: number;
  pattern?: string;
  description?: string;
  properties?: Record<string, JsonSchema>;
  required?: string[];
  minItems?: number;
  maxItems?: number;
};

/**
 * Validates query strings and path parameters, which arrive as text. Integers must be
 * written as plain decimal digits: `''`, `1.5`, `1e3` and `abc` are refused, never
 * defaulted. Unknown parameters are ignored, as Huawei's services do.
 */
export function parseTextFields(schema: TSchema, input: unknown): Record<string, unknown> {
  const properties = (schema as JsonSchema).properties ?? {};
  const required = new Set((schema as JsonSchema).required ?? []);
  const source = (input ?? {}) as Record<string, unknown>;
  const out: Record<string, unknown> = {};
  for (const [name, field] of Object.entries(properties)) {
    const value = source[name];
    if (value === undefined) {
      if (required.has(name)) throw new ServiceError('invalid_parameter', `${name} is required`, name);
      continue;
    }
    if (typeof value !== 'string') {
      throw new ServiceError('invalid_parameter', `${name} must be given once, got ${(value as unknown[]).length} values`, name);
    }
    out[name] = field.type === 'integer' ? parseInteger(name, field, value) : checkText(name, field, value);
  }
  return out;
}

function parseInteger(name: string, field: JsonSchema, text: string): number {
  const value = /^\d{1,15}$/.test(text) ? Number(text) : NaN;
  const min = field.minimum ?? 0;
  if (Number.isNaN(value) || value < min || (field.maximum !== undefined && value > field.maximum)) {
    const range = field.maximum === undefined ? `an integer >= ${min}` : `an integer between ${min} and ${field.maximum}`;
    throw new ServiceError('invalid_parameter', `${name} must be ${range}, got ${quote(text)}`, name);
  }
  return value;
}

function checkText(name: string, field: JsonSchema, text: string): string {
  const problem = textProblem(field, text);
  if (problem !== null) throw new ServiceError('invalid_parameter', `${name} ${problem}, got ${quote(text)}`, name);
  return text;
}

const UNPAIRED_SURROGATE = /[\uD800-\uDBFF](?![\uDC00-\uDFFF])|(?<![\uD800-\uDBFF])[\uDC00-\uDFFF]/;

/**
 * Why a caller's text cannot be stored and read back as sent, or null. PostgreSQL
 * refuses the NUL character outright (SQLite keeps it, so the engines would disagree),
 * and an unpaired surrogate is stored as U+FFFD, so the same report sent again would
 * no longer match what was stored.
 */
export function unstorableText(text: string): string | null {
  if (text.includes('\u0000')) return 'must not contain the NUL character (\\u0000)';
  if (UNPAIRED_SURROGATE.test(text)) return 'must be well-formed Unicode (it holds an unpaired surrogate)';
  return null;
}

function textProblem(field: JsonSchema, text: string): string | null {
  const unstorable = unstorableText(text);
  if (unstorable !== null) return unstorable;
  const allowed = literals(field);
  if (allowed !== null) return allowed.includes(text) ? null : `must be one of ${allowed.join(', ')}`;
  if (field.minLength !== undefined && text.length < field.minLength) return describeText(field);
  if (field.maxLength !== undefined && text.length > field.maxLength) return describeText(field);
  if (field.pattern !== undefined && !new RegExp(field.pattern, 'u').test(text)) return describeText(field);
  return null;
}

function describeText(field: JsonSchema): string {
  if (field.pattern !== undefined) return `must match ${field.pattern}`;
  return `must be ${field.minLength ?? 0} to ${field.maxLength} characters`;
}

function literals(field: JsonSchema): string[] | null {
  if (field.anyOf === undefined || !field.anyOf.every((s) => typeof s.const === 'string')) return null;
  return field.anyOf.map((s) => s.const as string);
}

const compiled = new WeakMap<TSchema, TypeCheck<TSchema>>();

/**
 * Checks a JSON value against a schema and returns it, or throws a ServiceError for its
 * first problem, naming the field by its path (`resource.type`) under `prefix`.
 */
export function checkJson<T>(schema: TSchema, value: unknown, prefix = ''): T {
  let check = compiled.get(schema);
  if (check === undefined) {
    check = TypeCompiler.Compile(schema);
    compiled.set(schema, check);
  }
  if (check.Check(value)) return value as T;
  const found = check.Errors(value).First();
  if (found === undefined) throw new ServiceError('invalid_parameter', 'request body is invalid');
  const first = innermost(found);
  const field = joinPath(prefix, first.path);
  throw new ServiceError('invalid_parameter', describeJsonError(field, first), field || undefined);
}

/**
 * For a value that is not null but fails a nullable field (`Nullable(Timestamp)`), the
 * error of the non-null branch: it says what the value should look like ("end_time must
 * match ...", "resource.type must be one of ..."), where the union's own error can only
 * say "a string or null".
 */
function innermost(error: ValueError): ValueError {
  if (error.type !== ValueErrorType.Union || error.value === null || literals(error.schema as JsonSchema) !== null) return error;
  const branches = error.errors.map((branch) => branch.First()).filter((e): e is ValueError => e !== undefined && (e.schema as JsonSchema).type !== 'null');
  return branches.length === 1 && branches[0] !== undefined ? innermost(branches[0]) : error;
}

function joinPath(prefix: string, pointer: string): string {
  const parts = pointer
    .split('/')
    .slice(1)
    .map((p) => p.replace(/~1/g, '/').replace(/~0/g, '~'));
  let out = prefix;
  for (const part of parts) out += /^\d+$/.test(part) ? `[${part}]` : out === '' ? part : `.${part}`;
  return out;
}

function describeJsonError(field: string, error: ValueError): string {
  const name = field || 'request body';
  const schema = error.schema as JsonSchema;
  if (error.type === ValueErrorType.ObjectAdditionalProperties) {
    const known = Object.keys(schema.properties ?? {});
    return known.length === 0 ? `${name} is not a known field` : `${name} is not a known field; known fields: ${known.join(', ')}`;
  }
  if (error.value === undefined) return `${name} is required`;
  const allowed = literals(schema);
  if (allowed !== null) return `${name} must be one of ${allowed.join(', ')}, got ${quote(error.value)}`;
  if (schema.type === 'string' && typeof error.value === 'string') {
    return `${name} ${textProblem(schema, error.value) ?? 'is invalid'}, got ${quote(error.value)}`;
  }
  if (schema.type === 'array' && Array.isArray(error.value)) {
    return `${name} must hold ${schema.minItems ?? 0} to ${schema.maxItems ?? 'any number of'} items, got ${error.value.length}`;
  }
  const expected =
    schema.description ?? (schema.anyOf !== undefined ? schema.anyOf.map((s) => s.type ?? 'value').join(' or ') : (schema.type ?? 'a valid value'));
  return `${name} must be ${article(expected)}, got ${quote(error.value)}`;
}

function article(type: string): string {
  return /^(string|object|array|integer|number|boolean|null)( or .*)?$/.test(type) ? `${/^[aeiou]/.test(type) ? 'an' : 'a'} ${type}` : type;
}
