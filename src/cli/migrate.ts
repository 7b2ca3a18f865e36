import { DEFAULTS, envName, loadConfig, redactUrl } from '../config.js';
import { type Database } from '../db/database.js';
import { openDatabase } from '../db/open.js';
import { migrate } from '../db/migrate.js';
import { asUsage, configInput, parseFlags, type Command } from './usage.js';

export const migrateCommand: Command = {
  name: 'migrate',
  usage: `Usage: taskcenter migrate [--db URL]

Applies every migration the database lacks, then exits. Exits 1 saying what failed: the
connection, a database that does not exist, or which migration.

  --db URL    sqlite:<path> or postgres://... (${DEFAULTS.db}; ${envName('db')})`,
  async run(args, io) {
    const { values } = parseFlags(args, { db: { type: 'string' } });
    const config = asUsage(() => loadConfig(configInput(values)));
    const where = redactUrl(config.db);
    let db: Database | undefined;
    try {
      db = openDatabase(config.db);
      const { applied } = await migrate(db);
      io.out(applied.length === 0 ? `${where}: schema already up to date` : `${where}: applied ${applied.join(', ')}`);
      return 0;
    } catch (error) {
      const message = (error as Error).message;
      throw new Error(`${where}: ${db === undefined ? `cannot open the database: ${message}` : message}`, { cause: error });
    } finally {
      await db?.close();
    }
  },
};
