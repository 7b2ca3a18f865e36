/**
 * The emulator's controls under `/taskcenter/v1/emulator/`, and the hooks behind them
 * (fault injection, the request journal). Installed only with `--emulator`: without it
 * none of these routes exists, so a production server answers them 404 APIGW.0101.
 * Errors are in the producer API's format.
 */
import { Readable } from 'node:stream';
import type { TypeBoxTypeProvider } from '@fastify/type-provider-typebox';
import type { FastifyInstance } from 'fastify';
import { mayTouch, type Action, type Principal } from '../auth/principal.js';
import type { Logger } from 'pino';
import type { Config } from '../config.js';
import type { Database } from '../db/database.js';
import { ServiceError, quote } from '../errors.js';
import { errorResponses } from '../gateway/dialects.js';
import type { JobWriter } from '../jobs/job-writer.js';
import { StoredJob } from '../jobs/jobs.schema.js';
import type { JobService } from '../jobs/jobs.service.js';
import {
  FaultList,
  FaultParams,
  FaultRule,
  FaultRuleInput,
  ImportResult,
  JournalList,
  JournalQuery,
  ProgressingJob,
  ProjectQuery,
  ResetBody,
  ResetResult,
  StepParams,
} from './emulator.schema.js';
import { EmulatorService, loadFixtures } from './emulator.service.js';
import { Faults, faultAnswer } from './faults.js';
import { Journal } from './journal.js';
import { Progression } from './progress.service.js';
import { exportJobs, readLines } from './snapshot.service.js';

export const EMULATOR_PREFIX = '/taskcenter/v1/emulator';
const TAG = ['Emulator'];

/** What the emulator takes of the context: routes get what they need passed down, never the context itself. */
export interface EmulatorContext {
  readonly config: Config;
  readonly logger: Logger;
  readonly db: Database;
  readonly writer: JobWriter;
  readonly jobs: JobService;
}

declare module 'fastify' {
  interface FastifyInstance {
    /** The emulator's state, with --emulator: for tests that look inside a server. */
    emulatorState?: Emulator;
  }
}

/** The emulator's state in one server process. */
export interface Emulator {
  readonly faults: Faults;
  readonly journal: Journal;
  readonly service: EmulatorService;
  readonly progression: Progression;
}

/**
 * Installs the hooks of the emulator when the config asks for it (else does nothing and
 * returns null): call before any route is registered, so it sees every operationId.
 * Loads `--faults` rules; throws naming the file when they are bad.
 */
export function installEmulator(app: FastifyInstance, ctx: EmulatorContext): Emulator | null {
  if (!ctx.config.emulator) return null;
  const operations = new Set<string>();
  app.addHook('onRoute', (route) => {
    const operation = route.schema?.operationId;
    if (operation !== undefined && !route.url.startsWith(EMULATOR_PREFIX)) operations.add(operation);
  });
  const faults = new Faults(() => operations);
  const journal = new Journal();

  // Before the handler, after authentication and validation: a faulted request runs
  // nothing, so it changes nothing. A callback hook: with no rules it costs one check.
  app.addHook('preHandler', (request, reply, done) => {
    if (faults.idle) return done();
    const operation = request.routeOptions.schema?.operationId;
    if (operation === undefined || !operations.has(operation)) return done();
    const fired = faults.fire(operation, (request.params as { project_id?: string } | undefined)?.project_id);
    if (fired === null) return done();
    app.metrics.observeFault(operation);
    const answer = () => {
      if (fired.error === null) return done();
      const { status, body } = faultAnswer(request.routeOptions.config?.dialect ?? 'apigw', fired.error, request.id);
      if (status === 429) void reply.header('Retry-After', '1');
      void reply.code(status).header('X-Request-Id', request.id).send(body);
    };
    if (fired.delayMs > 0) setTimeout(answer, fired.delayMs);
    else answer();
  });

  app.addHook('onResponse', (request, reply, done) => {
    journal.record(
      request.method,
      request.url,
      request.routeOptions.schema?.operationId ?? null,
      request.principal?.name ?? null,
      reply.statusCode,
      reply.elapsedTime,
      request.id,
    );
    done();
  });

  if (ctx.config.faults !== null) {
    const loaded = faults.load(ctx.config.faults);
    ctx.logger.info({ file: ctx.config.faults, rules: loaded }, 'fault rules loaded');
  }
  const service = new EmulatorService(ctx.db, ctx.writer);
  const progression = new Progression(ctx.db, ctx.writer, ctx.logger);
  // Before the server listens, so /readyz is not ready until the fixtures are in.
  app.addHook('onReady', async () => {
    if (ctx.config.init !== null) {
      const loaded = await loadFixtures(ctx.config.init, service, ctx.jobs);
      ctx.logger.info({ dir: ctx.config.init, ...loaded }, 'fixtures loaded');
    }
    progression.start();
  });
  app.addHook('onClose', async () => progression.stop());
  const emulator = { faults, journal, service, progression };
  app.decorate('emulatorState', emulator);
  return emulator;
}

/** A scope check the path cannot express: a project named in the body or query, or every project. */
function requireScope(principal: Principal, projectId: string | undefined, what: string): void {
  if (projectId === undefined) {
    if (!principal.projects.includes('*')) {
      throw new ServiceError('forbidden', `principal ${quote(principal.name)} may not ${what} of every project; name a project_id it has access to`);
    }
  } else if (!mayTouch(principal, projectId)) {
    throw new ServiceError('forbidden', `principal ${quote(principal.name)} has no access to project ${quote(projectId)}`);
  }
}

const config = (action: Action) => ({ dialect: 'taskcenter' as const, action });

/** The emulator's routes; call with the value {@link installEmulator} returned, when not null. */
export function emulatorRoutes(fastify: FastifyInstance, ctx: EmulatorContext, emulator: Emulator): void {
  const app = fastify.withTypeProvider<TypeBoxTypeProvider>();
  const { faults, journal, service, progression } = emulator;

  app.post(
    `${EMULATOR_PREFIX}/reset`,
    {
      config: config('taskcenter:emulator:reset'),
      schema: {
        tags: TAG,
        operationId: 'ResetJobs',
        summary: "Delete every job (or one project's), with the lists, counts and pending steps that follow",
        body: ResetBody,
        response: { 200: ResetResult, ...errorResponses('taskcenter', [400, 403, 413]) },
      },
    },
    async (request) => {
      const projectId = request.body.project_id;
      requireScope(request.principal, projectId, 'reset the jobs');
      return { deleted_jobs: await service.reset(projectId) };
    },
  );

  // A snapshot is read line by line as it arrives: its size is not bounded by the body limit.
  void app.register(async (scoped) => {
    scoped.addContentTypeParser('application/x-ndjson', (_request, payload, done) => done(null, payload));
    scoped.post(
      `${EMULATOR_PREFIX}/import`,
      {
        config: config('taskcenter:emulator:import'),
        schema: {
          tags: TAG,
          operationId: 'ImportJobs',
          summary: 'Store the jobs of an NDJSON snapshot (Content-Type: application/x-ndjson) as it says, in one transaction',
          description:
            'One job per line as ExportJobs writes it. Jobs stored exactly so are counted unchanged. A bad line is a 400 naming it, and nothing is stored. AK/SK callers sign the body as UNSIGNED-PAYLOAD.',
          response: { 200: ImportResult, ...errorResponses('taskcenter', [400, 403]) },
        },
      },
      async (request) => {
        if (!(request.body instanceof Readable)) {
          throw new ServiceError('malformed_request', `Content-Type must be application/x-ndjson, got '${request.headers['content-type'] ?? ''}'`);
        }
        const lines = readLines(request.body);
        const principal = request.principal;
        return service.import(lines, (projectId, line) => {
          if (!mayTouch(principal, projectId)) {
            throw new ServiceError('forbidden', `line ${line}: principal ${quote(principal.name)} has no access to project ${quote(projectId)}`);
          }
        });
      },
    );
  });

  app.post(
    `${EMULATOR_PREFIX}/jobs`,
    {
      config: config('taskcenter:emulator:jobs'),
      schema: {
        tags: TAG,
        operationId: 'CreateProgressingJob',
        summary: 'Store a job as INIT that moves to RUNNING, then to its outcome, by itself',
        body: ProgressingJob,
        response: { 201: StoredJob, ...errorResponses('taskcenter', [400, 403, 409, 413]) },
      },
    },
    async (request, reply) => {
      requireScope(request.principal, request.body.project_id, 'create jobs');
      return reply.code(201).send(await progression.create(request.body));
    },
  );

  app.post(
    `${EMULATOR_PREFIX}/jobs/:project_id/:job_id/advance`,
    {
      config: config('taskcenter:emulator:jobs'),
      schema: {
        tags: TAG,
        operationId: 'AdvanceProgressingJob',
        summary: "Take a progressing job's next step now",
        params: StepParams,
        response: { 200: StoredJob, ...errorResponses('taskcenter', [400, 403, 404]) },
      },
    },
    async (request) => progression.advance(request.params.project_id, request.params.job_id),
  );

  app.post(
    `${EMULATOR_PREFIX}/faults`,
    {
      config: config('taskcenter:emulator:faults'),
      schema: {
        tags: TAG,
        operationId: 'AddFault',
        summary: 'Add a fault rule: make requests of one operation fail, or answer late',
        body: FaultRuleInput,
        response: { 201: FaultRule, ...errorResponses('taskcenter', [400, 403, 413]) },
      },
    },
    async (request, reply) => {
      requireScope(request.principal, request.body.project_id, 'add a fault');
      return reply.code(201).send(faults.add(request.body));
    },
  );

  app.get(
    `${EMULATOR_PREFIX}/faults`,
    {
      config: config('taskcenter:emulator:faults'),
      schema: {
        tags: TAG,
        operationId: 'ListFaults',
        summary: 'The fault rules and how often each fired',
        response: { 200: FaultList, ...errorResponses('taskcenter', [403]) },
      },
    },
    async () => ({ faults: faults.list() }),
  );

  app.delete(
    `${EMULATOR_PREFIX}/faults/:id`,
    {
      config: config('taskcenter:emulator:faults'),
      schema: {
        tags: TAG,
        operationId: 'DeleteFault',
        summary: 'Remove one fault rule',
        params: FaultParams,
        response: { 204: { type: 'null', description: 'Removed' }, ...errorResponses('taskcenter', [400, 403, 404]) },
      },
    },
    async (request, reply) => {
      const rule = faults.list().find((r) => r.id === request.params.id);
      requireScope(request.principal, rule?.project_id ?? undefined, 'remove a fault');
      faults.remove(request.params.id);
      return reply.code(204).send();
    },
  );

  app.delete(
    `${EMULATOR_PREFIX}/faults`,
    {
      config: config('taskcenter:emulator:faults'),
      schema: {
        tags: TAG,
        operationId: 'DeleteFaults',
        summary: 'Remove every fault rule',
        response: { 204: { type: 'null', description: 'Removed' }, ...errorResponses('taskcenter', [403]) },
      },
    },
    async (request, reply) => {
      requireScope(request.principal, undefined, 'remove the faults');
      faults.clear();
      return reply.code(204).send();
    },
  );

  app.get(
    `${EMULATOR_PREFIX}/requests`,
    {
      config: config('taskcenter:emulator:requests'),
      schema: {
        tags: TAG,
        operationId: 'ListRequests',
        summary: 'The last requests answered (newest first): never a token, a signature or a body',
        querystring: JournalQuery,
        response: { 200: JournalList, ...errorResponses('taskcenter', [400, 403]) },
      },
    },
    async (request) => {
      requireScope(request.principal, undefined, 'read the requests');
      return { requests: journal.newest(request.query.limit ?? 100) };
    },
  );

  app.get(
    `${EMULATOR_PREFIX}/export`,
    {
      config: config('taskcenter:emulator:export'),
      schema: {
        tags: TAG,
        operationId: 'ExportJobs',
        summary: 'Every job (of one project, or all) as NDJSON: one stored job per line, in key order',
        querystring: ProjectQuery,
        response: {
          200: { type: 'string', description: 'application/x-ndjson: one job per line, as GET .../jobs/{job_id} shows it' },
          ...errorResponses('taskcenter', [400, 403]),
        },
      },
    },
    async (request, reply) => {
      const projectId = request.query.project_id;
      requireScope(request.principal, projectId, 'export the jobs');
      // The first page is read before answering, so a store that is down is a 503, not a cut 200.
      const pages = exportJobs(ctx.db, projectId);
      const first = await pages.next();
      async function* all() {
        if (first.done === true) return;
        yield first.value;
        yield* pages;
      }
      return reply.type('application/x-ndjson; charset=utf-8').send(Readable.from(all()));
    },
  );
}
