/**
 * Property-based requests over every route `/openapi.json` documents, on each engine,
 * through a listening server with the emulator's controls on (issue 11 item 8). Each case is one generated request
 * (see ./arbitraries.ts); every answer must carry no 5xx, an X-Request-Id, an error body
 * in the route's own format or the gateway's, and no stack trace, SQL or file path; after
 * each case /healthz answers and `taskcenter_store_errors_total` has not moved. Callers
 * without valid credentials never get a 2xx from an authenticated route, and a principal
 * never gets one from a project it may not touch. At the end, the writes the run made
 * leave no drift between the rows and the derived data (`checkListings`).
 *
 * Seeded: see ./fuzz-harness.ts for TASKCENTER_FUZZ_SEED and TASKCENTER_FUZZ_PATH.
 */
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import fc from 'fast-check';
import { documentedRoutes, engines, PROJECT_A, PROJECT_B, TOKENS, type DocumentedRoute } from '../helpers.js';
import { fuzzCase, oneCasePerRoute, toWire, type FuzzCase } from './arbitraries.js';
import {
  aliveProblems,
  assertListingsClean,
  carriedBy,
  closeServer,
  FUZZ_SEED,
  listeningServer,
  newStats,
  pathOf,
  replaying,
  responseProblems,
  runProperty,
  send,
  storeErrors,
  summary,
  type WireResponse,
} from './fuzz-harness.js';

/** Cases per engine: about 15 s on each of two cores' worth of a loaded machine. */
const RUNS = 400;

/** The projects each test principal may touch (test/helpers.ts writes them). */
const PROJECTS_OF: Readonly<Record<string, readonly string[] | '*'>> = {
  [TOKENS.admin]: '*',
  [TOKENS.alice]: [PROJECT_A],
  [TOKENS.reader]: [PROJECT_A],
  [TOKENS.bob]: [PROJECT_B],
  admin: '*',
  alice: [PROJECT_A],
};

function decoded(text: string): string {
  try {
    return decodeURIComponent(text);
  } catch {
    return text;
  }
}

/** A 2xx this case must never get: without valid credentials, or outside the principal's projects. */
function accessProblems(c: FuzzCase, route: DocumentedRoute | undefined, response: WireResponse): string[] {
  if (response.status < 200 || response.status >= 300 || route === undefined || route.anonymous) return [];
  const creds = c.credentials;
  if (creds.kind === 'none' || creds.kind === 'authorization' || (creds.kind === 'token' && !creds.valid)) {
    return [`${response.status} without valid credentials (${creds.kind})`];
  }
  const projects = PROJECTS_OF[creds.kind === 'token' ? creds.token : creds.who];
  if (c.project !== null && projects !== '*' && !projects?.includes(decoded(c.project))) {
    return [`${response.status} for project ${JSON.stringify(c.project)}, which the principal may not touch`];
  }
  return [];
}

for (const engine of engines) {
  describe(`fuzz: every documented route [${engine}]`, () => {
    let server: Awaited<ReturnType<typeof listeningServer>> | undefined;
    before(async () => {
      server = await listeningServer(engine, { emulator: true });
    });
    after(async () => {
      await closeServer(server);
    });

    it('answers generated requests without a 5xx, a leak or a store error, stays up, and leaves no listing drift', async (t) => {
      const s = server as NonNullable<typeof server>;
      const routes = await documentedRoutes(s.app, PROJECT_A);
      assert.ok(routes.length >= 20, `routes documented: ${routes.length}`);
      const byOperation = new Map(routes.map((route) => [route.operationId, route]));
      const stats = newStats();
      const subscriptions: string[] = [];
      const operations = new Set<string>();
      const succeeded = new Set<string>();
      let writes = 0;
      let errors = await storeErrors(s.port);
      const started = performance.now();
      const runs = await runProperty(
        'routes',
        RUNS,
        fc.asyncProperty(fuzzCase(routes), async (c) => {
          const request = toWire(c, s.port, subscriptions);
          stats.cases++;
          const response = await send(s.port, request);
          stats.requests++;
          stats.statuses.set(response.status, (stats.statuses.get(response.status) ?? 0) + 1);
          operations.add(c.operation);
          if (response.status < 300) succeeded.add(c.operation);
          if (response.status < 300 && ['ReportJob', 'ReportJobs'].includes(c.operation)) writes++;
          if (c.operation === 'CreateSubscription' && response.status === 201) subscriptions.push((JSON.parse(response.body) as { id: string }).id);
          // A fault rule makes later requests fail or wait on purpose: it goes before the next case.
          if (c.operation === 'AddFault' && response.status < 300) {
            const removed = await send(s.port, { method: 'DELETE', url: '/taskcenter/v1/emulator/faults', headers: { 'x-auth-token': TOKENS.admin } });
            assert.ok(removed.status < 300, `deleting the fault rules: ${removed.status} ${removed.body}`);
          }
          const problems = [
            ...responseProblems(response, { method: request.method, path: pathOf(request.url), carried: carriedBy(request) }),
            ...accessProblems(c, byOperation.get(c.operation), response),
            ...(await aliveProblems(s.port)),
          ];
          const now = await storeErrors(s.port);
          if (now !== errors) problems.push(`taskcenter_store_errors_total went from ${errors} to ${now}`);
          errors = now;
          if (problems.length > 0) {
            throw new Error(
              `[${engine}] ${request.method} ${request.url.slice(0, 300)} → ${response.status}: ${problems.join('; ')}\n${response.body.slice(0, 600)}`,
            );
          }
        }),
        oneCasePerRoute(routes, FUZZ_SEED),
      );
      const jobs = await assertListingsClean(s);
      assert.ok(writes > 0, 'valid producer writes were among the cases');
      const missed = routes.filter((route) => !operations.has(route.operationId)).map((route) => route.operationId);
      if (!replaying('routes')) assert.deepEqual(missed, [], 'every documented operation was fuzzed');
      t.diagnostic(
        `${summary(`routes [${engine}]`, runs, stats, performance.now() - started)}; ${succeeded.size} of ${routes.length} operations answered 2xx; ${writes} accepted writes, ${jobs} jobs checked, 0 drifts`,
      );
    });
  });
}
