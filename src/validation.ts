/**
 * Request validation from the routes' TypeBox schemas, with messages a caller can act
 * on: the field, what is allowed, and what was sent. Used as Fastify's validator for
 * every route, and by services that validate items one by one (batch ingest).
 */
import { isUtf8 } from 'node:buffer';
import { randomBytes } from 'node:crypto';
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
 * defaulted. An optional text field given empty (`name=`) is taken as not given: the
 * SDKs send one when a caller passes an empty string. Unknown parameters are ignored, as
 * Huawei's services do.
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
    if (field.type === 'integer') out[name] = parseInteger(name, field, value);
    else if (value !== '' || required.has(name)) out[name] = checkText(name, field, value);
  }
  return out;
}

/** An integer field's bounds: every one states both, so a message can say the whole range. */
function parseInteger(name: string, field: JsonSchema, text: string): number {
  const value = /^\d+$/.test(text) ? Number(text) : NaN;
  const min = field.minimum ?? 0;
  const max = field.maximum ?? Number.MAX_SAFE_INTEGER;
  if (Number.isNaN(value) || value < min || value > max) {
    throw new ServiceError('invalid_parameter', `${name} must be an integer between ${min} and ${max}, got ${quote(text)}`, name);
  }
  return value;
}

function checkText(name: string, field: JsonSchema, text: string): string {
  const problem = textProblem(field, text);
  if (problem !== null) throw new ServiceError('invalid_parameter', `${name} ${problem}, got ${quote(text)}`, name);
  return text;
}

/**
 * Why a caller's text cannot be stored and read back as sent, or null. PostgreSQL
 * refuses the NUL character outright (SQLite keeps it, so the engines would disagree),
 * and an unpaired surrogate is stored as U+FFFD, so the same report sent again would
 * no longer match what was stored.
 */
export function unstorableText(text: string): string | null {
  if (text.includes('\u0000')) return 'must not contain the NUL character (\\u0000)';
  if (!text.isWellFormed()) return 'must be well-formed Unicode (it holds an unpaired surrogate)';
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
  if (field.maxLength === undefined) return field.minLength === 1 ? 'must not be empty' : `must be at least ${field.minLength ?? 0} characters`;
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

/**
 * How deep a JSON body may nest, counting each object and array. The deepest document
 * the API takes (a batch's job's `resource`) is 4 levels; the bound leaves room and stops
 * a nested value from exhausting the stack of whatever walks it (validation, messages).
 */
export const MAX_JSON_DEPTH = 32;

/**
 * Parses a JSON body. A body nested deeper than {@link MAX_JSON_DEPTH} is refused before
 * anything walks it: `invalid_parameter` naming the field where it goes too deep and the
 * limit. A body that is not UTF-8 is refused rather than decoded with U+FFFD in place of
 * its bad bytes (which would store text nobody sent): `invalid_parameter` naming the field
 * that holds them (`jobs[3].server.name`) and where, as for an unpaired surrogate. Throws
 * JSON.parse's SyntaxError for malformed JSON.
 */
export function parseJsonBody(body: Buffer): unknown {
  const tooDeep = nestedTooDeep(body, MAX_JSON_DEPTH);
  if (tooDeep !== undefined) {
    throw new ServiceError(
      'invalid_parameter',
      `${tooDeep === '' ? 'request body' : cut(tooDeep)} is nested too deeply: a request body may nest objects and arrays at most ${MAX_JSON_DEPTH} levels`,
      tooDeep || undefined,
    );
  }
  if (!isUtf8(body)) throw notUtf8(body);
  return (body.length >= ITEMWISE_BYTES ? parseItemwise(body) : undefined) ?? JSON.parse(body.toString('utf8'));
}

/** Bodies this size or larger are parsed item by item when they can be ({@link parseItemwise}). */
export const ITEMWISE_BYTES = 64 * 1024;

/**
 * A body of one array in an object (`{"jobs": [...]}`, a batch) parsed an item at a
 * time; undefined for a body of any other shape, or that is not valid JSON (the whole
 * is then parsed, and JSON.parse says why). The text of a batch as one string is over
 * 128 kB, which V8 puts in pages of its own, mapped, faulted in and unmapped again for
 * every request: ~2.5 ms of CPU for a batch's 600 kB, some 20 times what the same text
 * costs as small strings. The result is exactly the whole's: the body with the array
 * emptied must parse to an object of that one field, and each item's bytes, between the
 * commas of the array, must parse on their own (cut at ASCII bytes of valid UTF-8, they
 * decode as they would in the whole).
 */
function parseItemwise(body: Buffer): unknown {
  // The array's `[`, each comma between its items, and its `]`: the one container at depth 2.
  const cuts: number[] = [];
  let depth = 0;
  for (let i = 0; i < body.length; i++) {
    const c = body[i];
    if (c === QUOTE) {
      i = stringEnd(body, i);
      if (i < 0) return undefined;
    } else if (c === 0x7b || c === 0x5b) {
      if (++depth === 2) {
        if (c !== 0x5b || cuts.length > 0) return undefined;
        cuts.push(i);
      }
    } else if (c === 0x7d || c === 0x5d) {
      if (depth-- === 2) cuts.push(i);
    } else if (c === 0x2c && depth === 2) {
      cuts.push(i);
    }
  }
  const open = cuts[0];
  const close = cuts[cuts.length - 1];
  if (open === undefined || close === undefined || close === open) return undefined;
  try {
    const outer: unknown = JSON.parse(body.toString('utf8', 0, open + 1) + body.toString('utf8', close));
    if (typeof outer !== 'object' || outer === null) return undefined;
    const fields = Object.values(outer);
    const items = fields[0];
    if (fields.length !== 1 || !Array.isArray(items) || items.length !== 0) return undefined;
    for (let k = 1; k < cuts.length; k++) items.push(JSON.parse(body.toString('utf8', (cuts[k - 1] as number) + 1, cuts[k])));
    return outer;
  } catch {
    return undefined;
  }
}

function cut(path: string): string {
  return path.length > 120 ? `${path.slice(0, 117)}...` : path;
}

const QUOTE = 0x22;
const BACKSLASH = 0x5c;

/**
 * The path of the first object or array of `body` that opens deeper than `limit` (`''`
 * for the body itself), or undefined when none does. One pass over the bytes, without
 * parsing: it only tracks brackets outside strings, the current key of each open object
 * and index of each open array, so it is safe on any input, however deep or malformed.
 */
export function nestedTooDeep(body: Buffer, limit: number): string | undefined {
  // Per open container: 0 for an object, 1 for an array; the current index of an array,
  // or the byte range of the current key of an object.
  const kinds: number[] = [];
  const index: number[] = [];
  const keyStart: number[] = [];
  const keyEnd: number[] = [];
  let expectKey = false;
  for (let i = 0; i < body.length; i++) {
    const c = body[i];
    if (c === QUOTE) {
      const end = stringEnd(body, i);
      if (end < 0) return undefined;
      const top = kinds.length - 1;
      if (expectKey && kinds[top] === 0) {
        keyStart[top] = i;
        keyEnd[top] = end + 1;
        expectKey = false;
      }
      i = end;
    } else if (c === 0x7b || c === 0x5b) {
      if (kinds.length === limit) return pathOf(body, kinds, index, keyStart, keyEnd);
      kinds.push(c === 0x7b ? 0 : 1);
      index.push(0);
      keyStart.push(-1);
      keyEnd.push(-1);
      expectKey = c === 0x7b;
    } else if (c === 0x7d || c === 0x5d) {
      kinds.pop();
      index.pop();
      keyStart.pop();
      keyEnd.pop();
      expectKey = false;
    } else if (c === 0x2c) {
      const top = kinds.length - 1;
      if (kinds[top] === 1) index[top] = (index[top] ?? 0) + 1;
      else expectKey = true;
    }
  }
  return undefined;
}

/** The index of the quote that ends the string whose opening quote is at `start`, or -1 when it never ends. */
function stringEnd(body: Buffer, start: number): number {
  let end = body.indexOf(QUOTE, start + 1);
  // A quote preceded by an odd run of backslashes is escaped, and inside the string.
  while (end > 0) {
    let slashes = 0;
    while (body[end - 1 - slashes] === BACKSLASH) slashes++;
    if (slashes % 2 === 0) break;
    end = body.indexOf(QUOTE, end + 1);
  }
  return end;
}

function pathOf(body: Buffer, kinds: number[], index: number[], keyStart: number[], keyEnd: number[]): string {
  let path = '';
  for (let level = 0; level < kinds.length && path.length <= 120; level++) {
    if (kinds[level] === 1) {
      path += `[${index[level] ?? 0}]`;
      continue;
    }
    const start = keyStart[level] ?? -1;
    let key = '?';
    if (start >= 0) {
      try {
        key = String(JSON.parse(body.toString('utf8', start, keyEnd[level])));
      } catch {
        key = body.toString('utf8', start + 1, (keyEnd[level] ?? start + 1) - 1);
      }
    }
    path += path === '' ? key : `.${key}`;
  }
  return path;
}

/** Says where the first bytes that are not UTF-8 are, by the field whose text holds them. */
function notUtf8(body: Buffer): ServiceError {
  // Valid text re-encodes to the same bytes, so the first byte that differs is the first bad one.
  const reencoded = Buffer.from(body.toString('utf8'), 'utf8');
  let at = 0;
  while (at < body.length && body[at] === reencoded[at]) at++;
  const where = `byte 0x${(body[at] ?? 0).toString(16).padStart(2, '0')} at offset ${at}`;
  // Mark the spot with text that cannot occur by chance, parse, and find the string holding it.
  const marker = `~${randomBytes(12).toString('hex')}~`;
  let marked: unknown;
  try {
    marked = JSON.parse(Buffer.concat([body.subarray(0, at), Buffer.from(marker), body.subarray(at)]).toString('utf8'));
  } catch {
    return new ServiceError('malformed_request', `request body is not valid UTF-8 (${where})`);
  }
  const found = fieldHolding(marked, marker, '');
  if (found === undefined) return new ServiceError('malformed_request', `request body is not valid UTF-8 (${where})`);
  const name = found.inKey ? `a field name in ${found.path || 'the request body'}` : found.path;
  return new ServiceError('invalid_parameter', `${name} must be valid UTF-8 text, got ${where}`, found.path || undefined);
}

function fieldHolding(value: unknown, marker: string, path: string): { path: string; inKey: boolean } | undefined {
  if (typeof value === 'string') return value.includes(marker) ? { path, inKey: false } : undefined;
  if (Array.isArray(value)) {
    for (let i = 0; i < value.length; i++) {
      const found = fieldHolding(value[i], marker, `${path}[${i}]`);
      if (found !== undefined) return found;
    }
    return undefined;
  }
  if (value === null || typeof value !== 'object') return undefined;
  for (const [key, item] of Object.entries(value)) {
    if (key.includes(marker)) return { path, inKey: true };
    const found = fieldHolding(item, marker, path === '' ? key : `${path}.${key}`);
    if (found !== undefined) return found;
  }
  return undefined;
}
