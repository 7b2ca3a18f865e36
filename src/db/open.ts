/** Opens the database of a `--db` URL on its engine: the one place that picks one. */
import { DEFAULT_STORE_LIMITS, type Database, type StoreLimits } from './database.js';
import { openPostgres } from './postgres.js';
import { openSqlite } from './sqlite.js';

/** Opens the database named by a `--db` URL (`sqlite:<path>`, `sqlite::memory:`, `postgres://...`). */
export function openDatabase(url: string, limits: StoreLimits = DEFAULT_STORE_LIMITS): Database {
  if (url.startsWith('sqlite:')) return openSqlite(url.slice('sqlite:'.length), limits);
  if (/^postgres(ql)?:\/\//.test(url)) return openPostgres(url, limits);
  throw new Error(`unsupported database URL scheme in '${url.split(':')[0]}:'`);
}
