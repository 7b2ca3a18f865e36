/**
 * The one error type domain code throws. `kind` is stable and engine- and
 * dialect-neutral; `src/gateway/dialects.ts` turns it into each API's status and body.
 */

export const ERROR_KINDS = [
  'invalid_parameter',
  'malformed_request',
  'body_too_large',
  'not_found',
  'conflict',
  'forbidden',
  'unauthenticated',
  'throttled',
  'no_route',
  'unavailable',
  'internal',
] as const;

export type ErrorKind = (typeof ERROR_KINDS)[number];

/**
 * A failure to report to the caller. `message` is shown to the caller as is: it says
 * what was wrong and what is allowed, and never holds a secret, SQL or a stack.
 * `field` names the request field at fault, when there is one (`limit`, `jobs[3].status`).
 */
export class ServiceError extends Error {
  constructor(
    readonly kind: ErrorKind,
    message: string,
    readonly field?: string,
  ) {
    super(message);
    this.name = 'ServiceError';
  }
}

/** Quotes a caller's value for a message, cut short so a message stays readable. */
export function quote(value: unknown): string {
  const text = typeof value === 'string' ? value : (JSON.stringify(value) ?? String(value));
  return `'${text.length > 64 ? text.slice(0, 61) + '...' : text}'`;
}
