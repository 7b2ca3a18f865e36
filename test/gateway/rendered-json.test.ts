/**
 * Pre-rendered JSON bodies (src/rendered-json.ts) against the schemas their routes
 * declare. Fastify's serializer never sees these bodies, so nothing else checks that the
 * 200 schema, which the OpenAPI document publishes, says what is sent. Every body a list
 * or batch route sends here, kept pages included, is checked with TypeBox's compiler
 * against the 200 schema of the route that answered (read from the request's route, so
 * it is the schema the document is generated from), on both engines.
 */
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import type { TSchema } from '@sinclair/typebox';
import { TypeCompiler } from '@sinclair/typebox/compiler';
import type { FastifyInstance } from 'fastify';
import { createTestServer, engines, kpsJob, PROJECT_A, sdrsInGroupFailure, sdrsJob, timeAt, TOKENS, type TestServer } from '../helpers.js';

/** The routes that send {@link RenderedJson}, by route pattern: each body kind once. */
const RENDERED_ROUTES = {
  'GET /v1/:project_id/task-center/failure-jobs': 'SDRS failure list',
  'GET /v3/:project_id/failed-tasks': 'KPS failed-task list',
  'GET /v3/:project_id/running-tasks': 'KPS running-task list',
  'POST /taskcenter/v1/jobs/batch': 'batch response',
} as const;

type RouteKey = keyof typeof RENDERED_ROUTES;

/** One 200 answer of a rendered route, as sent, with the 200 schema of the route that sent it. */
interface Sent {
  readonly route: RouteKey;
  readonly url: string;
  readonly schema: TSchema;
  readonly body: string;
}

function isRendered(route: string): route is RouteKey {
  return Object.hasOwn(RENDERED_ROUTES, route);
}

/** Records every 200 answer of the rendered routes, with its route's 200 schema. */
function recordRendered(app: FastifyInstance, sent: Sent[]): void {
  app.addHook('onSend', async (request, reply, payload) => {
    const route = `${request.method} ${request.routeOptions.url ?? ''}`;
    if (reply.statusCode !== 200 || !isRendered(route)) return payload;
    const schema = (request.routeOptions.schema?.response as Record<number, TSchema> | undefined)?.[200];
    assert.ok(schema !== undefined, `${route} declares no 200 schema`);
    assert.ok(typeof payload === 'string' || Buffer.isBuffer(payload), `${route} sent a ${typeof payload}, not rendered JSON`);
    assert.equal(reply.getHeader('content-type'), 'application/json; charset=utf-8', `${route}'s content type`);
    sent.push({ route, url: request.url, schema, body: payload.toString() });
    return payload;
  });
}

/** Every kind of answer each rendered route gives: items and none, each scope, filters, paging, every batch result. */
async function exercise(app: FastifyInstance): Promise<void> {
  const send = async (method: 'GET' | 'POST', url: string, payload?: object) => {
    const response = await app.inject({ method, url, headers: { 'x-auth-token': TOKENS.admin }, ...(payload === undefined ? {} : { payload }) });
    assert.equal(response.statusCode, 200, `${method} ${url}: ${response.body}`);
  };
  const jobs = [
    sdrsJob({ job_id: 'group-fail', resource: { id: 'g-1', name: 'Group-1', type: 'server_groups' }, server_group_id: 'g-1' }),
    sdrsJob({
      job_id: 'group-fail-2',
      operation: 'failover',
      job_type: 'failoverProtectionGroup',
      resource: { id: 'g-2', name: 'Group-2', type: 'server_groups' },
      server_group_id: 'g-2',
      error_code: null,
    }),
    sdrsInGroupFailure('pi-fail', 'g-1', 'protected_instances', 1),
    sdrsInGroupFailure('pair-fail', 'g-1', 'replications', 2, { operation: 'attach', entities: {} }),
    kpsJob({ job_id: 'kps-fail' }),
    kpsJob({ job_id: 'kps-fail-2', operation: 'unbind', job_type: 'unbindKeypair', error_code: 'KPS.0203', begin_time: timeAt(3), end_time: timeAt(4) }),
    kpsJob({ job_id: 'kps-running', status: 'RUNNING', end_time: null, error_code: null, fail_reason: null }),
    kpsJob({ job_id: 'kps-waiting', status: 'INIT', end_time: null, error_code: null, fail_reason: null }),
    kpsJob({ job_id: 'kps-running-2', status: 'RUNNING', begin_time: timeAt(5), end_time: null, error_code: null, fail_reason: null }),
  ].map((job): Record<string, unknown> => ({ project_id: PROJECT_A, ...job }));
  const running = jobs.find((job) => job.job_id === 'kps-running') as Record<string, unknown>;
  // created for all, then unchanged, updated and rejected (a backwards move and a bad document) in one batch.
  await send('POST', '/taskcenter/v1/jobs/batch', { jobs });
  await send('POST', '/taskcenter/v1/jobs/batch', {
    jobs: [
      jobs[0],
      { ...running, status: 'SUCCESS', end_time: timeAt(9) },
      { ...(jobs[4] as object), status: 'RUNNING', end_time: null },
      { project_id: PROJECT_A, job_id: 'bad doc' },
    ],
  });
  const sdrs = `/v1/${PROJECT_A}/task-center/failure-jobs`;
  for (const query of [
    '',
    '?limit=1',
    '?limit=1&offset=1',
    '?server_group_id=g-1',
    '?resource_type=protected_instances',
    '?resource_type=replications&server_group_id=g-1',
    '?failure_status=failoverFail',
    '?resource_name=Group',
    '?limit=0',
  ]) {
    // Twice: the second is the kept page, sent as bytes.
    await send('GET', sdrs + query);
    await send('GET', sdrs + query);
  }
  await send('GET', '/v1/empty-project/task-center/failure-jobs');
  for (const list of ['failed-tasks', 'running-tasks']) {
    for (const query of ['', '?limit=1&offset=1', '?offset=100']) {
      await send('GET', `/v3/${PROJECT_A}/${list}${query}`);
      await send('GET', `/v3/${PROJECT_A}/${list}${query}`);
    }
    await send('GET', `/v3/empty-project/${list}`);
  }
}

/**
 * A JSON schema as @fastify/swagger writes it into an OpenAPI 3.0 document, which has no
 * `const` (an `enum` of one) and no `null` type (`X or null` is X, `nullable`).
 */
function asOpenApi30(schema: unknown): unknown {
  if (Array.isArray(schema)) return schema.map(asOpenApi30);
  if (typeof schema !== 'object' || schema === null) return schema;
  const { anyOf } = schema as { anyOf?: { type?: string }[] };
  if (anyOf?.length === 2 && anyOf[1]?.type === 'null') return { ...(asOpenApi30(anyOf[0]) as object), nullable: true };
  const out: Record<string, unknown> = {};
  for (const [key, value] of Object.entries(schema)) {
    if (key === 'const') out.enum = [value];
    else out[key] = asOpenApi30(value);
  }
  return out;
}

for (const engine of engines) {
  describe(`Rendered JSON bodies against their routes' 200 schemas [${engine}]`, () => {
    const sent: Sent[] = [];
    let server: TestServer | undefined;
    before(async () => {
      server = await createTestServer(engine, { beforeReady: (app) => recordRendered(app, sent) });
      await exercise(server.app);
    });
    after(async () => {
      await server?.close();
    });

    it('sends every kind, with items and without', () => {
      for (const [route, kind] of Object.entries(RENDERED_ROUTES)) {
        const bodies = sent.filter((s) => s.route === route).map((s) => JSON.parse(s.body) as Record<string, unknown[]>);
        assert.ok(
          bodies.some((body) => Object.values(body).some((v) => Array.isArray(v) && v.length > 1)),
          `no ${kind} with items`,
        );
      }
      const batch = sent
        .filter((s) => s.route === 'POST /taskcenter/v1/jobs/batch')
        .flatMap((s) => (JSON.parse(s.body) as { results: { result: string }[] }).results);
      assert.deepEqual([...new Set(batch.map((r) => r.result))].sort(), ['created', 'rejected', 'unchanged', 'updated']);
    });

    it('matches the 200 schema of the route that sent it', () => {
      const compiled = new Map<TSchema, ReturnType<typeof TypeCompiler.Compile>>();
      for (const { route, url, schema, body } of sent) {
        let check = compiled.get(schema);
        if (check === undefined) {
          check = TypeCompiler.Compile(schema);
          compiled.set(schema, check);
        }
        const value: unknown = JSON.parse(body);
        const errors = [...check.Errors(value)].slice(0, 5).map((e) => `${e.path}: ${e.message} (${JSON.stringify(e.value)})`);
        assert.deepEqual(errors, [], `${RENDERED_ROUTES[route]} from ${url}: ${body.slice(0, 300)}`);
      }
    });

    it('is what the OpenAPI document publishes for that route', () => {
      const app = (server as TestServer).app;
      const paths = (
        app.swagger() as unknown as { paths: Record<string, Record<string, { responses: Record<string, { content: Record<string, { schema: unknown }> }> }>> }
      ).paths;
      for (const route of Object.keys(RENDERED_ROUTES) as RouteKey[]) {
        const schema = sent.find((s) => s.route === route)?.schema;
        const [method, pattern] = route.split(' ') as [string, string];
        const documented = paths[pattern.replace(/:(\w+)/g, '{$1}')]?.[method.toLowerCase()]?.responses['200']?.content['application/json']?.schema;
        assert.deepEqual(documented, asOpenApi30(schema), `${route}'s documented 200`);
      }
    });

    it('fails a body that leaves the schema (the check is not vacuous)', () => {
      for (const { schema, body } of sent.filter((s) => s.route === 'GET /v3/:project_id/failed-tasks').slice(0, 1)) {
        const wrong = JSON.parse(body) as { total: unknown };
        wrong.total = String(wrong.total);
        assert.equal(TypeCompiler.Compile(schema).Check(wrong), false);
      }
    });
  });
}
