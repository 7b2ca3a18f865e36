import { DEFAULTS, envName, loadConfig, redactUrl } from '../config.js';
import { createListings } from '../context.js';
import { migrate } from '../db/migrate.js';
import { checkNameIndex } from '../db/name-search.js';
import { openDatabase } from '../db/open.js';
import { checkListings } from '../jobs/listing-check.js';
import { asUsage, configInput, parseFlags, type Command } from './usage.js';

export const checkCommand: Command = {
  name: 'check',
  usage: `Usage: taskcenter check [--db URL]

Proves the lists' derived data equals what the rows say: every counter against a count
of the rows in its bucket, every stored list item against a fresh render. Prints the
first differences with their project, bucket or job id. Exits 0 when clean, 1 on any
difference. Reads one snapshot; writers go on.

  --db URL    sqlite:<path> or postgres://... (${DEFAULTS.db}; ${envName('db')})`,
  async run(args, io) {
    const { values } = parseFlags(args, { db: { type: 'string' } });
    const config = asUsage(() => loadConfig(configInput(values)));
    const where = redactUrl(config.db);
    const db = openDatabase(config.db);
    try {
      await migrate(db);
      const report = await checkListings(db, createListings(), 20);
      for (const d of report.first) {
        io.out(
          d.kind === 'count'
            ? `count  project ${d.project_id}  bucket '${d.bucket}'  stored ${d.stored}, rows say ${d.expected}`
            : `item   project ${d.project_id}  job ${d.job_id}  stored ${d.stored ?? 'null'}, render says ${d.expected ?? 'null'}`,
        );
      }
      // The resource_name index (migration 0008): on SQLite an FTS5 table kept by triggers.
      const names = await checkNameIndex(db);
      if (!names) io.out('names  the resource_name index differs from the rows: run taskcenter rebuild-listings');
      const drifts = report.drifts + (names ? 0 : 1);
      io.out(`${where}: ${report.jobs} jobs checked, ${drifts === 0 ? 'no difference' : `${drifts} differences`}`);
      return drifts === 0 ? 0 : 1;
    } finally {
      await db.close();
    }
  },
};
