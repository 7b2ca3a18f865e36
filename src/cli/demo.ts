import { rmSync } from 'node:fs';
import { resolve } from 'node:path';
import { addPrincipal } from '../auth/credentials.js';
import type { Principal } from '../auth/principal.js';
import { envName, loadConfig, redactUrl } from '../config.js';
import { createContext, type Context } from '../context.js';
import { openDatabase } from '../db/open.js';
import { dropAllTables, projectsBesides, tablesOf } from '../db/reset.js';
import { MAX_BATCH } from '../jobs/jobs.schema.js';
import { DEMO_PROJECTS, demoJobs, type DemoHighlights } from './demo-jobs.js';
import { startServer } from './serve.js';
import { asUsage, parseFlags, type Command } from './usage.js';

const DEMO_DB = 'sqlite:./data/demo.db';
const DEMO_CREDENTIALS = './data/demo-credentials.json';

export const demoCommand: Command = {
  name: 'demo',
  usage: `Usage: taskcenter demo [--port PORT] [--host HOST] [--db URL] [--credentials FILE] [--log-level LEVEL]

Recreates the demo database and credentials file, fills two projects with realistic
jobs through the producer API's own validation (every SDRS operation and resource type,
protection groups with failures inside them, sub-jobs, KPS tasks in every state), then
serves them with static auth. Prints the URLs to open, a token and an AK/SK allowed
everything, curl lines to paste, and its process id. On a terminal it then prints a line
per request; otherwise it logs JSON lines. Stop it with Ctrl-C.

The database is recreated at each start, on either engine, but only when it is empty or
holds nothing but the demo's own projects: the demo never writes into a real store.

  --host HOST            address to listen on (127.0.0.1; ${envName('host')})
  --port PORT            port, 0 for any free port (8080; ${envName('port')})
  --db URL               ${DEMO_DB}, sqlite::memory:, or a postgres://... database
                         of its own; ${envName('db')} is ignored
  --credentials FILE     demo credentials file, rewritten at each start (${DEMO_CREDENTIALS})
  --log-level LEVEL      fatal, error, warn, info, debug, trace or silent (warn on a
                         terminal, which shows a line per request instead; info otherwise)`,
  async run(args, io) {
    const values = parseFlags(args, {
      host: { type: 'string' },
      port: { type: 'string' },
      db: { type: 'string' },
      credentials: { type: 'string' },
      'log-level': { type: 'string' },
    }).values as Record<string, string | undefined>;
    const terminal = process.stdout.isTTY === true;
    const config = asUsage(() =>
      loadConfig({
        host: values.host,
        port: values.port,
        db: values.db ?? DEMO_DB,
        auth: 'static',
        credentials: values.credentials ?? DEMO_CREDENTIALS,
        // On a terminal the request lines below say what happens, and JSON lines would drown them.
        logLevel: values['log-level'] ?? (terminal ? 'warn' : 'info'),
        // The demo is a local emulator: its controls are always there.
        emulator: '1',
        // One local process and no load balancer to drain away from: a signal stops it at once.
        drainSeconds: '0',
      }),
    );

    await startOver(config.db);
    rmSync(config.credentials, { force: true });
    const secrets = addPrincipal(config.credentials, { name: 'admin', projects: ['*'], actions: ['*'], token: true, aksk: true });

    const ctx = await createContext(config);
    let loaded: { jobs: number; highlights: DemoHighlights };
    try {
      loaded = await loadDemoJobs(ctx);
    } catch (error) {
      await ctx.close();
      throw error;
    }
    // Request lines start below the banner: the console probe just after listening is not one of the caller's.
    let bannerShown = false;
    const requestLines = (line: string) => {
      if (bannerShown) io.out(line);
    };
    const server = await startServer(ctx, io, terminal ? { requestLines } : {}).catch((error: unknown) => {
      if ((error as { code?: string }).code === 'EADDRINUSE') {
        throw new Error(`${config.host}:${config.port} is already in use; pick another port with --port (0 for any free one)`);
      }
      throw error;
    });
    // Curl cannot reach a wildcard address; the loopback one serves the same listener.
    const base = server.url.replace('//0.0.0.0:', '//127.0.0.1:').replace('//[::]:', '//[::1]:');
    const hasConsole = await fetch(`${base}/console/`).then(
      (r) => r.ok,
      () => false,
    );
    const token = secrets.token ?? '';
    const credentials = resolve(config.credentials);
    const lines = [
      `Task Center demo: ${base}`,
      `  process      ${process.pid}`,
      `  store        ${redactUrl(config.db)} (recreated at each start), ${loaded.jobs} demo jobs`,
      `  projects     ${DEMO_PROJECTS.join(' and ')}`,
      `  credentials  ${credentials} (rewritten at each start): principal 'admin', every project and action`,
      `    X-Auth-Token: ${token}`,
      `    AK: ${secrets.ak ?? ''}`,
      `    SK: ${secrets.sk ?? ''}`,
      `  more callers npx taskcenter credentials add --file ${credentials} --name NAME --project P --action 'sdrs:*' --token`,
      `               then kill -HUP ${process.pid} to make this server read the file again`,
      '',
      'Open:',
      ...(hasConsole ? [`  ${base}/console/        the console`] : []),
      `  ${base}/docs           API documentation (Authorize with the token to try requests)`,
      `  ${base}/openapi.json   OpenAPI document`,
      `  ${base}/healthz        liveness`,
      '',
      'Try (each line works as pasted):',
      ...curlLines(base, token, loaded.highlights, new Date().toISOString()),
      '',
      'Ctrl-C stops it; the next start recreates the database.',
      ...(terminal ? ['', 'Requests:'] : []),
    ];
    io.out(lines.join('\n'));
    bannerShown = true;
    return server.stopped;
  },
};

/**
 * Empties the demo's database, refusing one that holds anything but the demo's own
 * projects (another project's jobs, or tables that are not Task Center's): the demo
 * never writes into a real store. A SQLite file is deleted with its journal.
 */
async function startOver(url: string): Promise<void> {
  const db = openDatabase(url);
  try {
    const tables = await tablesOf(db);
    if (tables.length > 0 && !tables.includes('taskcenter_migrations')) {
      throw new Error(
        `${redactUrl(url)} holds tables that are not Task Center's (${tables.slice(0, 3).join(', ')}); give the demo an empty database with --db`,
      );
    }
    const others = await projectsBesides(db, DEMO_PROJECTS);
    if (others.length > 0) {
      throw new Error(
        `${redactUrl(url)} holds jobs of projects other than the demo's (${others.join(', ')}); the demo only recreates a database of its own: give it an empty one with --db`,
      );
    }
    await dropAllTables(db);
  } finally {
    await db.close();
  }
  const sqlitePath = url.startsWith('sqlite:') ? url.slice('sqlite:'.length) : ':memory:';
  if (sqlitePath !== ':memory:') for (const suffix of ['', '-wal', '-shm', '-journal']) rmSync(sqlitePath + suffix, { force: true });
}

/** Reports the demo jobs through the producer service, which validates each one. */
async function loadDemoJobs(ctx: Context): Promise<{ jobs: number; highlights: DemoHighlights }> {
  const { items, highlights } = demoJobs(Date.now());
  const loader: Principal = { name: 'demo', projects: ['*'], actions: ['*'] };
  for (let i = 0; i < items.length; i += MAX_BATCH) {
    const outcomes = await ctx.jobs.reportBatch(loader, items.slice(i, i + MAX_BATCH));
    const refused = outcomes.find((o) => o.result !== 'created');
    if (refused !== undefined) {
      throw new Error(`demo job ${refused.job_id} was ${refused.result}: ${refused.error?.message ?? 'already present'}`);
    }
  }
  return { jobs: items.length, highlights };
}

/** Copy-paste curl lines against the demo data: the producer API, then SDRS and KPS. */
function curlLines(base: string, token: string, h: DemoHighlights, now: string): string[] {
  // -w adds the newline JSON bodies lack, so the shell prompt starts on its own line.
  const CURL = "curl -sS -w '\\n'";
  // Deletes answer with no body: show the status instead.
  const STATUS = "curl -sS -o /dev/null -w 'HTTP %{http_code}\\n'";
  const auth = `-H 'X-Auth-Token: ${token}'`;
  const json = `-H 'Content-Type: application/json'`;
  const p = h.projectId;
  const putBody = JSON.stringify({
    job_id: 'demo-put-1',
    service: 'kps',
    job_type: 'resetKeypair',
    operation: 'reset',
    status: 'RUNNING',
    begin_time: now,
    server: { id: 'c9aa197b-a6b6-4c33-b3a6-fa0b4ec50006', name: 'ecs-demo' },
    keypair_name: 'KeyPair-demo',
  });
  const batchBody = JSON.stringify({
    jobs: DEMO_PROJECTS.map((project, i) => ({
      project_id: project,
      job_id: `demo-batch-${i + 1}`,
      service: 'sdrs',
      job_type: 'createServerGroup',
      operation: 'create',
      status: 'FAIL',
      begin_time: now,
      end_time: now,
      error_code: 'VPC.0012',
      fail_reason: 'The VPC of the DR site does not exist.',
      resource: { id: `demo-group-${i + 1}`, name: `demo-pg-${i + 1}`, type: 'server_groups' },
    })),
  });
  return [
    '  # Producer API: report a job (201, then 200 unchanged), a batch for two projects, read a job back',
    `  ${CURL} -X PUT '${base}/taskcenter/v1/projects/${p}/jobs/demo-put-1' ${auth} ${json} -d '${putBody}'`,
    `  ${CURL} -X POST '${base}/taskcenter/v1/jobs/batch' ${auth} ${json} -d '${batchBody}'`,
    `  ${CURL} '${base}/taskcenter/v1/projects/${p}/jobs/${h.failedJobWithSubJobs}' ${auth}`,
    '  # SDRS task center: protection-group failures, failures inside one group, a job with its sub-jobs',
    `  ${CURL} '${base}/v1/${p}/task-center/failure-jobs' ${auth}`,
    `  ${CURL} '${base}/v1/${p}/task-center/failure-jobs?server_group_id=${h.groupWithFailures}&limit=5' ${auth}`,
    `  ${CURL} '${base}/v1/${p}/jobs/${h.failedJobWithSubJobs}' ${auth}`,
    '  # Clear that failure: 204, gone from the list, still readable above; pasted again, 404',
    `  ${STATUS} -X DELETE '${base}/v1/${p}/task-center/failure-jobs/${h.failedJobWithSubJobs}' ${auth}`,
    '  # KPS key-pair tasks: failed, running, one task, then clear that failed task (200, empty body)',
    `  ${CURL} '${base}/v3/${p}/failed-tasks?limit=5' ${auth}`,
    `  ${CURL} '${base}/v3/${p}/running-tasks' ${auth}`,
    `  ${CURL} '${base}/v3/${p}/tasks/${h.failedTask}' ${auth}`,
    `  ${STATUS} -X DELETE '${base}/v3/${p}/failed-tasks/${h.failedTask}' ${auth}`,
  ];
}
