/**
 * Fault injection: rules that make the routes of one operation fail on purpose, or answer
 * late, so a caller can test its retries and error handling. Rules live in the process
 * (each server of a cluster has its own), in the order they were added.
 */
import { readFileSync } from 'node:fs';
import { ServiceError, quote, type ErrorKind } from '../errors.js';
import { ERROR_TABLES, renderError, type Dialect } from '../gateway/dialects.js';
import { checkJson } from '../validation.js';
import { FaultFile, FaultRuleInput, type FaultRule } from './emulator.schema.js';

/** What a fired rule asks of the request: wait, then either fail with this answer or go on. */
export interface FaultAction {
  readonly rule: FaultRule;
  readonly delayMs: number;
  readonly error: { readonly status: number; readonly code: string | null; readonly message: string } | null;
}

interface StoredRule {
  rule: FaultRule;
}

/** The fault rules of one server and how often each fired. */
export class Faults {
  readonly #rules: StoredRule[] = [];
  #nextId = 1;

  /**
   * @param operations the operationIds a rule may name (every route's but the emulator's own)
   * @param random a number in [0, 1) per probability roll
   */
  constructor(
    private readonly operations: () => ReadonlySet<string>,
    private readonly random: () => number = Math.random,
  ) {}

  /**
   * Checks a rule (schema, then: a known operation, an error or a delay) and adds it;
   * returns it with its `id`. Throws `invalid_parameter` naming the field (under `prefix`).
   */
  add(input: unknown, prefix = ''): FaultRule {
    const rule = checkJson<FaultRuleInput>(FaultRuleInput, input, prefix.replace(/\.$/, ''));
    const known = this.operations();
    if (!known.has(rule.operation)) {
      throw new ServiceError(
        'invalid_parameter',
        `${prefix}operation must be an operationId of /openapi.json (${[...known].sort().join(', ')}), got ${quote(rule.operation)}`,
        `${prefix}operation`,
      );
    }
    if (rule.status === undefined && rule.delay_ms === undefined) {
      throw new ServiceError(
        'invalid_parameter',
        `${prefix}status or delay_ms is required: a fault answers an error, answers late, or both`,
        `${prefix}status`,
      );
    }
    if (rule.status === undefined) {
      for (const field of ['error_code', 'message'] as const) {
        if (rule[field] !== undefined)
          throw new ServiceError('invalid_parameter', `${prefix}${field} needs a status: it is part of the error answered`, `${prefix}${field}`);
      }
    }
    const stored: FaultRule = {
      id: `fault-${this.#nextId++}`,
      operation: rule.operation,
      project_id: rule.project_id ?? null,
      probability: rule.probability ?? 1,
      times: rule.times ?? null,
      status: rule.status ?? null,
      error_code: rule.error_code ?? null,
      message: rule.message ?? null,
      delay_ms: rule.delay_ms ?? null,
      fired: 0,
      expired: false,
    };
    this.#rules.push({ rule: stored });
    return { ...stored };
  }

  /** Every rule, expired ones included, with how often each fired. */
  list(): FaultRule[] {
    return this.#rules.map(({ rule }) => ({ ...rule }));
  }

  /** Removes one rule; throws `not_found`. */
  remove(id: string): void {
    const index = this.#rules.findIndex(({ rule }) => rule.id === id);
    if (index < 0) throw new ServiceError('not_found', `no fault rule ${quote(id)}`, 'id');
    this.#rules.splice(index, 1);
  }

  /** Removes every rule; resolves to how many there were. */
  clear(): number {
    return this.#rules.splice(0).length;
  }

  /** True when no rule could fire: the request path then costs one check. */
  get idle(): boolean {
    return this.#rules.length === 0;
  }

  /**
   * The first live rule for this operation and project whose probability roll succeeds,
   * counted as fired (and expired once it has fired `times`); null when none fires.
   */
  fire(operation: string, projectId: string | undefined): FaultAction | null {
    for (const entry of this.#rules) {
      const { rule } = entry;
      if (rule.expired || rule.operation !== operation) continue;
      if (rule.project_id !== null && rule.project_id !== projectId) continue;
      if (rule.probability < 1 && !(this.random() < rule.probability)) continue;
      rule.fired += 1;
      if (rule.times !== null && rule.fired >= rule.times) rule.expired = true;
      return {
        rule: { ...rule },
        delayMs: rule.delay_ms ?? 0,
        error:
          rule.status === null
            ? null
            : { status: rule.status, code: rule.error_code, message: rule.message ?? `fault injected by the Task Center emulator (rule ${rule.id})` },
      };
    }
    return null;
  }

  /**
   * Loads `{"faults": [rule, ...]}` or `[rule, ...]` from a file (`serve --faults`);
   * throws an Error naming the file and the rule at fault.
   */
  load(path: string): number {
    let parsed: unknown;
    try {
      parsed = JSON.parse(readFileSync(path, 'utf8'));
    } catch (error) {
      throw new Error(`fault rules file ${path}: ${(error as Error).message}`);
    }
    const rules = Array.isArray(parsed) ? parsed : (parsed as { faults?: unknown } | null)?.faults;
    try {
      checkJson(FaultFile, { faults: rules });
      (rules as unknown[]).forEach((rule, i) => this.add(rule, `faults[${i}].`));
    } catch (error) {
      this.clear();
      throw new Error(`fault rules file ${path}: ${(error as Error).message}`);
    }
    return (rules as unknown[]).length;
  }
}

/** The error kind a status is answered as in `dialect`: the table's own entry for it, else a general one of its class. */
function kindOf(dialect: Dialect, status: number): ErrorKind {
  const table = ERROR_TABLES[dialect];
  const exact = (Object.keys(table) as ErrorKind[]).find((kind) => table[kind][0] === status);
  if (exact !== undefined) return exact;
  return status >= 500 ? 'unavailable' : 'invalid_parameter';
}

/**
 * The answer of a fired error rule on a route of `dialect`: the rule's status, in the body
 * shape that route (or, for 401 and 429, the gateway) answers with, carrying the rule's
 * code or else the one the route would use for that status.
 */
export function faultAnswer(dialect: Dialect, error: NonNullable<FaultAction['error']>, requestId: string): { status: number; body: object } {
  const { body } = renderError(dialect, new ServiceError(kindOf(dialect, error.status), error.message), requestId);
  if (error.code !== null) {
    const shaped = body as { error?: { code: string }; error_code?: string };
    if (shaped.error !== undefined) shaped.error.code = error.code;
    else shaped.error_code = error.code;
  }
  return { status: error.status, body };
}
