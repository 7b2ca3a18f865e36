import { Readable } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import { DEFAULTS, envName, loadConfig, redactUrl } from '../config.js';
import { openDatabase } from '../db/open.js';
import { migrate } from '../db/migrate.js';
import { ProjectId } from '../jobs/jobs.schema.js';
import { exportJobs, snapshotSize } from '../emulator/snapshot.service.js';
import { Progress } from './progress.js';
import { UsageError, asUsage, configInput, parseFlags, type Command } from './usage.js';

const PROJECT = new RegExp(ProjectId.pattern as string);

/** `--project`, checked as the API checks a project id; undefined when absent. */
export function projectFlag(text: string | undefined): string | undefined {
  if (text !== undefined && !PROJECT.test(text)) throw new UsageError(`--project must match ${ProjectId.pattern as string}, got '${text}'`);
  return text;
}

export const exportCommand: Command = {
  name: 'export',
  usage: `Usage: taskcenter export [--db URL] [--project P] > snapshot.ndjson

Writes every job (of project P, or of all projects) to stdout as NDJSON, one job per
line in (project_id, job_id) order: the reported document plus its stored state
(failure_cleared, created_at, updated_at), as GET /taskcenter/v1/emulator/export does.
'taskcenter import' reads it back. Progress goes to stderr. Memory stays flat: jobs are
read a page at a time.

  --db URL       sqlite:<path> or postgres://... (${DEFAULTS.db}; ${envName('db')})
  --project P    only this project's jobs`,
  async run(args, io) {
    const values = parseFlags(args, { db: { type: 'string' }, project: { type: 'string' } }).values as Record<string, string | undefined>;
    const projectId = projectFlag(values.project);
    const config = asUsage(() => loadConfig(configInput({ db: values.db })));
    const db = openDatabase(config.db);
    try {
      await migrate(db);
      const progress = new Progress(await snapshotSize(db, projectId), 'jobs');
      let done = 0;
      await pipeline(
        Readable.from(
          exportJobs(db, projectId, (n) => {
            done += n;
            progress.update(done);
          }),
        ),
        process.stdout,
        { end: false },
      );
      progress.finish();
      io.err(`${redactUrl(config.db)}: exported ${done} jobs${projectId === undefined ? '' : ` of project ${projectId}`}`);
      return 0;
    } finally {
      await db.close();
    }
  },
};
