import { DEFAULTS, envName, loadConfig, redactUrl } from '../config.js';
import { createListings } from '../context.js';
import { migrate } from '../db/migrate.js';
import { rebuildNameIndex } from '../db/name-search.js';
import { openDatabase } from '../db/open.js';
import { JobWriter } from '../jobs/job-writer.js';
import { rebuildListings } from '../jobs/listing-rebuild.js';
import { Progress } from './progress.js';
import { asUsage, configInput, parseFlags, type Command } from './usage.js';

export const rebuildListingsCommand: Command = {
  name: 'rebuild-listings',
  usage: `Usage: taskcenter rebuild-listings [--db URL]

Rebuilds the lists' derived data from the rows: re-renders every stored list item,
recounts every counter, raises every project's list version, and records this code's
listing stamp. A server does the same at start when the stamp differs; this does it on
demand, e.g. after 'taskcenter check' found a difference. Idempotent: a second run
changes nothing but the list versions. Progress goes to stderr.

Safe to interrupt, and then simply run again: on PostgreSQL it works in batches of its
own transactions while servers go on serving (what finished stays, the stamp is recorded
last); on SQLite it is one transaction (writers wait; interrupted, nothing changed). One
process rebuilds at a time; a second waits for the first.

  --db URL    sqlite:<path> or postgres://... (${DEFAULTS.db}; ${envName('db')})`,
  async run(args, io) {
    const { values } = parseFlags(args, { db: { type: 'string' } });
    const config = asUsage(() => loadConfig(configInput(values)));
    const where = redactUrl(config.db);
    const db = openDatabase(config.db);
    try {
      await migrate(db);
      let bar: { phase: string; progress: Progress } | undefined;
      const report = await rebuildListings(db, new JobWriter(createListings()), {
        onProgress: ({ phase, done, total }) => {
          if (bar?.phase !== phase) {
            bar?.progress.finish();
            bar = { phase, progress: new Progress(total, phase === 'items' ? 'jobs' : 'projects') };
          }
          bar.progress.update(done);
        },
      });
      bar?.progress.finish();
      // The resource_name index too (SQLite's FTS5 table; nothing to do on PostgreSQL).
      await rebuildNameIndex(db);
      // Without onlyIfStale a rebuild always runs.
      const r = report as NonNullable<typeof report>;
      io.out(
        `${where}: ${r.jobs} jobs, ${r.items} items re-rendered, ${r.counters} counters corrected, ${r.projects} projects recounted, stamp '${r.stamp}'` +
          `${r.previous === r.stamp ? '' : ` (was ${r.previous === null ? 'none' : `'${r.previous}'`})`}, ${(r.ms / 1000).toFixed(1)} s`,
      );
      return 0;
    } finally {
      await db.close();
    }
  },
};
