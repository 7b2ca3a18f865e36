/**
 * The console's only way to the server: the public JSON APIs, with the signed-in token
 * in X-Auth-Token. Every failure comes back as the API gave it (status, code, message,
 * request id), whichever of the four error formats the route speaks, or as "unreachable".
 */

const TOKEN_KEY = 'taskcenter.token';

/** The token of this tab's session; sessionStorage, so it dies with the tab and never enters a URL. */
export function storedToken(): string | null {
  return sessionStorage.getItem(TOKEN_KEY);
}

export function storeToken(token: string | null): void {
  if (token === null) sessionStorage.removeItem(TOKEN_KEY);
  else sessionStorage.setItem(TOKEN_KEY, token);
}

/** An error answer, read from whichever format the route answered in. */
export interface ApiError {
  readonly status: number;
  readonly code: string;
  readonly message: string;
  readonly requestId: string | null;
}

/** A request that failed: `error` is null when the server could not be reached at all. */
export class RequestFailed extends Error {
  constructor(readonly error: ApiError | null) {
    super(error === null ? 'unreachable' : `${error.status} ${error.code}: ${error.message}`);
  }
}

/** A successful answer; `body` is undefined for 204/304 and empty bodies. */
export interface Answer<T> {
  readonly status: number;
  readonly body: T | undefined;
  readonly etag: string | null;
}

export interface RequestOptions {
  readonly method?: 'GET' | 'DELETE';
  /** Sent as If-None-Match: a 304 answer then means the caller's copy is current. */
  readonly etag?: string | null;
  /** Use this token instead of the stored one (signing in checks it first). */
  readonly token?: string | null;
}

/** Sends one request to the server the console came from; throws {@link RequestFailed}. */
export async function request<T>(path: string, options: RequestOptions = {}): Promise<Answer<T>> {
  const headers: Record<string, string> = { Accept: 'application/json' };
  const token = options.token === undefined ? storedToken() : options.token;
  if (token !== null) headers['X-Auth-Token'] = token;
  if (options.etag) headers['If-None-Match'] = options.etag;
  let response: Response;
  try {
    // no-store: the console keeps its own copies and tags, so it sees every 304 itself.
    response = await fetch(path, { method: options.method ?? 'GET', headers, cache: 'no-store', credentials: 'omit' });
  } catch {
    throw new RequestFailed(null);
  }
  const text = await response.text().catch(() => '');
  if (!response.ok && response.status !== 304) throw new RequestFailed(readError(response, text));
  let body: T | undefined;
  if (text !== '') {
    try {
      body = JSON.parse(text) as T;
    } catch {
      throw new RequestFailed({ status: response.status, code: '', message: text.slice(0, 200), requestId: response.headers.get('X-Request-Id') });
    }
  }
  return { status: response.status, body, etag: response.headers.get('ETag') };
}

/** The GET answer's body; throws when there is none. */
export async function getJson<T>(path: string, options: RequestOptions = {}): Promise<T> {
  const answer = await request<T>(path, options);
  if (answer.body === undefined) throw new RequestFailed({ status: answer.status, code: '', message: 'empty answer', requestId: null });
  return answer.body;
}

function readError(response: Response, text: string): ApiError {
  const status = response.status;
  let code = '';
  let message = text.slice(0, 500) || response.statusText;
  let requestId = response.headers.get('X-Request-Id');
  try {
    const body = JSON.parse(text) as Record<string, unknown>;
    const nested = body.error as { code?: unknown; message?: unknown } | undefined;
    if (typeof nested === 'object' && nested !== null) {
      // SDRS and the producer API: {"error": {"code", "message"}}
      code = String(nested.code ?? '');
      message = String(nested.message ?? '');
    } else if (typeof body.error_code === 'string') {
      // KPS {"error_code", "error_msg"}, and the gateway's, which adds the request id.
      code = body.error_code;
      message = String(body.error_msg ?? '');
      if (typeof body.request_id === 'string') requestId ??= body.request_id;
    }
  } catch {
    // Not JSON (a proxy's page): the text is the message.
  }
  return { status, code, message, requestId };
}

/** A query string from the values given (empty and undefined values left out), with its `?`. */
export function query(values: Record<string, string | number | undefined | null>): string {
  const params = new URLSearchParams();
  for (const [key, value] of Object.entries(values)) if (value !== undefined && value !== null && value !== '') params.set(key, String(value));
  const text = params.toString();
  return text === '' ? '' : `?${text}`;
}

/** A path segment, encoded. */
export const seg = encodeURIComponent;
