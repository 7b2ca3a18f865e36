/**
 * What the notification suites share: a test app that delivers to 127.0.0.1 with short
 * retry times, subscription calls, polling the delivery log, and the README's verify
 * recipe loaded as written.
 */
import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { rmSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { pathToFileURL } from 'node:url';
import type { FastifyInstance } from 'fastify';
import { loadConfig, type ConfigInput } from '../../src/config.js';
import type { Engine } from '../../src/db/database.js';
import { REPO_ROOT } from '../cli-helpers.js';
import { createTestApp, TOKENS, writeTestCredentials, type TestApp } from '../helpers.js';

/** Retry times short enough for a test: first retry after 50 ms, dead after 1.5 s, leases of 2 s. */
export const FAST_RETRIES: ConfigInput = { webhookAllowPrivate: 'true', webhookRetryDelay: '0.05', webhookRetryWindow: '1.5', webhookLease: '2' };

/** A test app on a fresh database of `engine` with `settings` (default {@link FAST_RETRIES}). */
export function notifyTestApp(engine: Engine, settings: ConfigInput = FAST_RETRIES): Promise<TestApp> {
  return createTestApp(engine, (db, dir) => loadConfig({ db, credentials: writeTestCredentials(dir), logLevel: 'silent', ...settings }, {}));
}

export function subscriptionsUrl(projectId: string, rest = ''): string {
  return `/taskcenter/v1/projects/${projectId}/subscriptions${rest}`;
}

/** Subscribes `url` to `events` in `projectId` as admin; resolves to the answer (with the secret). */
export async function subscribe(app: FastifyInstance, projectId: string, url: string, events: string[]): Promise<{ id: string; secret: string }> {
  const response = await app.inject({ method: 'POST', url: subscriptionsUrl(projectId), headers: { 'x-auth-token': TOKENS.admin }, payload: { url, events } });
  assert.equal(response.statusCode, 201, response.body);
  return response.json();
}

export async function getJson(app: FastifyInstance, url: string): Promise<any> {
  const response = await app.inject({ url, headers: { 'x-auth-token': TOKENS.admin } });
  assert.equal(response.statusCode, 200, response.body);
  return response.json();
}

/** Polls `read` until `done` holds of its value (rejects after `ms`, with the last value). */
export async function eventually<T>(read: () => Promise<T>, done: (value: T) => boolean, ms = 15_000): Promise<T> {
  const until = Date.now() + ms;
  for (;;) {
    const value = await read();
    if (done(value)) return value;
    if (Date.now() > until) throw new Error(`still not there after ${ms} ms: ${JSON.stringify(value)}`);
    await new Promise((resolve) => setTimeout(resolve, 50));
  }
}

/** The subscription's deliveries in `state` (all when undefined), newest first. */
export async function deliveries(app: FastifyInstance, projectId: string, subscriptionId: string, state?: string): Promise<any[]> {
  return (await getJson(app, subscriptionsUrl(projectId, `/${subscriptionId}/deliveries${state === undefined ? '' : `?state=${state}`}`))).deliveries;
}

export type Verify = (secret: string, header: string | undefined, body: string, now?: number) => boolean;

/** The `verify` function of the README's receiver example, run as written. */
export async function readmeVerify(): Promise<Verify> {
  const readme = readFileSync(join(REPO_ROOT, 'README.md'), 'utf8');
  const example = /```js\n(\/\/ webhook-receiver\.mjs:[\s\S]*?)```/.exec(readme)?.[1];
  assert.ok(example !== undefined, 'the README has the webhook-receiver.mjs example');
  const file = join(REPO_ROOT, 'dist', `readme-receiver-${randomBytes(4).toString('hex')}.mjs`);
  writeFileSync(file, example);
  try {
    return ((await import(pathToFileURL(file).href)) as { verify: Verify }).verify;
  } finally {
    rmSync(file, { force: true });
  }
}
