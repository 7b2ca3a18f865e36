import { createReadStream, fstatSync } from 'node:fs';
import { DEFAULTS, envName, loadConfig, redactUrl } from '../config.js';
import { createContext } from '../context.js';
import { EmulatorService } from '../emulator/emulator.service.js';
import { readLines } from '../emulator/snapshot.service.js';
import { ServiceError } from '../errors.js';
import { Progress } from './progress.js';
import { asUsage, configInput, parseFlags, type Command } from './usage.js';

export const importCommand: Command = {
  name: 'import',
  usage: `Usage: taskcenter import [--db URL] < snapshot.ndjson

Reads an NDJSON snapshot ('taskcenter export', or GET /taskcenter/v1/emulator/export)
from stdin and stores every job as it says, stored state included, in one transaction:
a bad line stops it naming the line, and nothing is stored. Jobs already stored exactly
so are counted unchanged. Prints {"imported": N, "unchanged": M}; progress on stderr.
Memory stays flat: lines are read and written a thousand at a time.

  --db URL       sqlite:<path> or postgres://... (${DEFAULTS.db}; ${envName('db')})`,
  async run(args, io) {
    const values = parseFlags(args, { db: { type: 'string' } }).values as Record<string, string | undefined>;
    const config = asUsage(() => loadConfig({ ...configInput({ db: values.db }), auth: 'none', logLevel: 'silent' }));
    const stdin = fstatSync(0);
    // A file on stdin has a size to show progress against; a pipe has none.
    const progress = stdin.isFile() ? new Progress(stdin.size, 'bytes') : null;
    const ctx = await createContext(config);
    try {
      let read = 0;
      const lines = readLines(createReadStream('', { fd: 0, autoClose: false }));
      const result = await new EmulatorService(ctx.db, ctx.writer).import(lines, undefined, (chars) => {
        read += chars;
        progress?.update(read);
      });
      progress?.finish();
      io.out(JSON.stringify(result));
      io.err(`${redactUrl(config.db)}: ${result.imported} jobs imported, ${result.unchanged} unchanged`);
      return 0;
    } catch (error) {
      if (error instanceof ServiceError) throw new Error(`stdin ${error.message}; nothing was imported`);
      throw error;
    } finally {
      await ctx.close();
    }
  },
};
