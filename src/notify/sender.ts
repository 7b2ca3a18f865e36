/**
 * Sends one webhook request: POST of the exact body to the address checked by
 * src/notify/webhook-url.ts (the name is only the Host header and the TLS server name),
 * within a deadline, following no redirect, reading at most a few kilobytes of the
 * answer and keeping none of it.
 */
import http from 'node:http';
import https from 'node:https';
import { isIP } from 'node:net';
import { resolveTarget, type WebhookUrl } from './webhook-url.js';

/** The most of an answer's body read before the connection is dropped. */
const MAX_RESPONSE_BYTES = 4096;

/** What came of one attempt. */
export type SendOutcome =
  | { readonly kind: 'answered'; readonly status: number; readonly retryAfter: string | undefined }
  | { readonly kind: 'failed'; readonly error: string }
  | { readonly kind: 'refused'; readonly error: string };

export interface SendOptions {
  readonly allowPrivate: boolean;
  readonly timeoutMs: number;
  readonly headers: Readonly<Record<string, string>>;
}

/** Keeps connections to receivers open between deliveries; pooled by address, so a name's new address gets new ones. */
const agents = { http: new http.Agent({ keepAlive: true, maxSockets: 8 }), https: new https.Agent({ keepAlive: true, maxSockets: 8 }) };

/** Sends `body` to `target`; never throws. */
export async function send(target: WebhookUrl, body: string, options: SendOptions): Promise<SendOutcome> {
  const deadline = AbortSignal.timeout(options.timeoutMs);
  let address: { address: string; family: 4 | 6 };
  try {
    address = await Promise.race([
      resolveTarget(target, options.allowPrivate),
      new Promise<never>((_, reject) => deadline.addEventListener('abort', () => reject(new Error('DNS lookup timed out')), { once: true })),
    ]);
  } catch (error) {
    const message = (error as Error).message;
    if ((error as Error).name === 'BlockedAddressError') return { kind: 'refused', error: message };
    return { kind: 'failed', error: `cannot resolve ${target.hostname}: ${message}` };
  }
  const secure = target.url.protocol === 'https:';
  return new Promise<SendOutcome>((resolve) => {
    let settled = false;
    const finish = (outcome: SendOutcome) => {
      if (settled) return;
      settled = true;
      resolve(outcome);
    };
    const request = (secure ? https : http).request({
      method: 'POST',
      host: address.address,
      family: address.family,
      port: target.port,
      path: target.url.pathname + target.url.search,
      agent: secure ? agents.https : agents.http,
      // The certificate is checked against the name, not the address connected to.
      servername: secure && isIP(target.hostname) === 0 ? target.hostname : undefined,
      signal: deadline,
      headers: { ...options.headers, host: target.url.host, 'content-length': String(Buffer.byteLength(body)) },
    });
    request.on('response', (response) => {
      const status = response.statusCode ?? 0;
      const retryAfter = response.headers['retry-after'];
      let read = 0;
      response.on('data', (chunk: Buffer) => {
        read += chunk.length;
        // Enough: the answer is not kept, and a receiver cannot make us read forever.
        if (read > MAX_RESPONSE_BYTES) {
          response.destroy();
          finish({ kind: 'answered', status, retryAfter });
        }
      });
      response.on('end', () => finish({ kind: 'answered', status, retryAfter }));
      response.on('error', () => finish({ kind: 'answered', status, retryAfter }));
      response.on('aborted', () => finish({ kind: 'answered', status, retryAfter }));
    });
    request.on('error', (error: Error & { code?: string }) => {
      const why = deadline.aborted ? `no answer within ${options.timeoutMs / 1000} s` : (error.code ?? error.message);
      finish({ kind: 'failed', error: `${why} (${target.url.protocol.slice(0, -1)} ${address.address}:${target.port})` });
    });
    request.end(body);
  });
}
