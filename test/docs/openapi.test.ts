/**
 * The OpenAPI document the server serves, held to a real linter (Redocly CLI with the
 * rules of redocly.yaml), to what the project promises of every operation, and to the
 * page that shows it: /docs in Debian's Chromium.
 */
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { createRequire } from 'node:module';
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { promisify } from 'node:util';
import { chromium } from 'playwright-core';
import { REPO_ROOT } from '../cli-helpers.js';
import { engines } from '../helpers.js';
import { startServer, type ListeningServer } from '../sdk/sdk-server.js';
import { CHROMIUM, describeWithTools } from '../tools.js';

const exec = promisify(execFile);
const REDOCLY = createRequire(import.meta.url).resolve('@redocly/cli/bin/cli.js');
/** Where the served document is linted: .redocly.lint-ignore.yaml names its exceptions by this path. */
const LINTED = 'dist/openapi.json';
/** The routes that anyone may call: load balancers and Prometheus have no credentials. */
const OPEN = ['/healthz', '/readyz', '/metrics'];

interface Operation {
  operationId?: string;
  summary?: string;
  security?: unknown;
  tags?: string[];
  responses: Record<string, unknown>;
}

interface Problem {
  ruleId: string;
  severity: string;
  message: string;
  location: { pointer: string }[];
}

describe('OpenAPI document', () => {
  let server: ListeningServer;
  let doc: { paths: Record<string, Record<string, Operation>> };
  before(async () => {
    // With the emulator's controls, so that their routes are linted too.
    server = await startServer(engines[0] ?? 'sqlite', { emulator: '1' });
    const response = await fetch(`${server.url}/openapi.json`);
    assert.equal(response.status, 200);
    doc = (await response.json()) as typeof doc;
  });
  after(async () => {
    await server?.close();
  });

  const operations = (): [string, Operation][] =>
    Object.entries(doc.paths).flatMap(([path, methods]) =>
      Object.entries(methods).map(([method, op]): [string, Operation] => [`${method.toUpperCase()} ${path}`, op]),
    );

  it('passes Redocly CLI lint with no error and no warning', async () => {
    writeFileSync(join(REPO_ROOT, LINTED), JSON.stringify(doc, null, 2));
    const run = await exec(process.execPath, [REDOCLY, 'lint', LINTED, '--format=json'], {
      cwd: REPO_ROOT,
      env: { ...process.env, REDOCLY_TELEMETRY: 'off', REDOCLY_SUPPRESS_UPDATE_NOTICE: 'true', NO_COLOR: '1' },
    }).catch((error: { stdout?: string; stderr?: string; code?: number }) => {
      // Exit 1 with problems still prints the JSON report, which says more than the code.
      if (error.stdout === undefined || !error.stdout.trimStart().startsWith('{')) throw error;
      return { stdout: error.stdout, stderr: error.stderr ?? '' };
    });
    const report = JSON.parse(run.stdout) as { totals: { errors: number; warnings: number; ignored: number }; problems: Problem[] };
    const problems = report.problems.map((p) => `${p.severity} ${p.ruleId} at ${p.location[0]?.pointer}: ${p.message}`);
    assert.deepEqual(problems, []);
    assert.deepEqual(report.totals, { errors: 0, warnings: 0, ignored: OPEN.length }, 'only the exceptions of .redocly.lint-ignore.yaml are ignored');
  });

  it('gives every operation a unique operationId and a summary', () => {
    const ids = new Set<string>();
    for (const [name, op] of operations()) {
      assert.match(op.operationId ?? '', /^[A-Z][A-Za-z]+$/, `${name} has an operationId`);
      assert.ok(!ids.has(op.operationId as string), `${name}: operationId ${op.operationId} is unique`);
      ids.add(op.operationId as string);
      assert.ok((op.summary ?? '').length > 10, `${name} has a summary`);
    }
    assert.ok(ids.size >= 20, `${ids.size} operations`);
  });

  it('documents the error responses of every API operation: its 4xx, 401, 429, 500 and 503', () => {
    for (const [name, op] of operations()) {
      if (OPEN.some((path) => name.endsWith(` ${path}`))) continue;
      const statuses = Object.keys(op.responses);
      for (const status of ['401', '429', '500', '503']) assert.ok(statuses.includes(status), `${name} documents ${status}`);
    }
  });

  it('marks health, readiness and metrics as needing no credentials, and every other operation as needing them', () => {
    for (const [name, op] of operations()) {
      if (OPEN.some((path) => name === `GET ${path}`)) assert.deepEqual(op.security, [], `${name} is open`);
      else assert.equal(op.security, undefined, `${name} keeps the document's security requirement`);
    }
    for (const path of OPEN) assert.ok(doc.paths[path]?.get, `${path} is in the document`);
  });
});

describeWithTools('API docs page in Chromium', [CHROMIUM], () => {
  let server: ListeningServer;
  before(async () => {
    server = await startServer(engines[0] ?? 'sqlite');
  });
  after(async () => {
    await server?.close();
  });

  it('loads /openapi.json at /docs and shows every operation', async () => {
    const doc = (await (await fetch(`${server.url}/openapi.json`)).json()) as { paths: Record<string, Record<string, { summary: string }>> };
    const summaries = Object.values(doc.paths).flatMap((methods) => Object.values(methods).map((op) => op.summary));
    const browser = await chromium.launch({
      executablePath: CHROMIUM.command,
      args: ['--headless', '--no-sandbox', '--disable-gpu', '--disable-background-networking'],
    });
    try {
      const page = await browser.newPage();
      const failures: string[] = [];
      page.on('pageerror', (error) => failures.push(error.message));
      await page.goto(`${server.url}/docs`);
      await page
        .locator('.opblock')
        .nth(summaries.length - 1)
        .waitFor({ timeout: 15_000 });
      assert.equal(await page.locator('.opblock').count(), summaries.length);
      const shown = await page.locator('.opblock-summary-description').allTextContents();
      assert.deepEqual(shown.sort(), [...summaries].sort());
      assert.deepEqual(failures, []);
    } finally {
      await browser.close();
    }
  });
});
