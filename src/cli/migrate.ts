import { DEFAULTS, envName, loadConfig, redactUrl } from '../config.js';
import { openDatabase } from '../db/database.js';
import { migrate } from '../db/migrate.js';
import { asUsage, configInput, parseFlags, type Command } from './usage.js';

export const migrateCommand: Command = {
  name: 'migrate',
  usage: `Usage: taskcenter migrate [--db URL]

Applies every migration the database lacks, then exits. Exits 1, naming the migration,
if one fails.

  --db URL    sqlite:<path> or postgres://... (${DEFAULTS.db}; ${envName('db')})`,
  async run(args, io) {
    const { values } = parseFlags(args, { db: { type: 'string' } });
    const config = asUsage(() => loadConfig(configInput(values)));
    const db = openDatabase(config.db);
    try {
      const { applied } = await migrate(db);
      io.out(applied.length === 0 ? `${redactUrl(config.db)}: schema already up to date` : `${redactUrl(config.db)}: applied ${applied.join(', ')}`);
      return 0;
    } finally {
      await db.close();
    }
  },
};
