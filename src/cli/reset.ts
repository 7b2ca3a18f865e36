import { DEFAULTS, envName, loadConfig, redactUrl } from '../config.js';
import { createContext } from '../context.js';
import { EmulatorService } from '../emulator/emulator.service.js';
import { projectFlag } from './export.js';
import { asUsage, configInput, parseFlags, type Command } from './usage.js';

export const resetCommand: Command = {
  name: 'reset',
  usage: `Usage: taskcenter reset [--db URL] [--project P]

Deletes every job (of project P, or of all projects) from a store no server is using,
with the lists, counters and pending emulator steps that follow, in one transaction;
as POST /taskcenter/v1/emulator/reset does on a running emulator. Prints how many jobs.

  --db URL       sqlite:<path> or postgres://... (${DEFAULTS.db}; ${envName('db')})
  --project P    only this project's jobs`,
  async run(args, io) {
    const values = parseFlags(args, { db: { type: 'string' }, project: { type: 'string' } }).values as Record<string, string | undefined>;
    const projectId = projectFlag(values.project);
    const config = asUsage(() => loadConfig({ ...configInput({ db: values.db }), auth: 'none', logLevel: 'silent' }));
    const ctx = await createContext(config);
    try {
      const deleted = await new EmulatorService(ctx.db, ctx.writer).reset(projectId);
      io.out(`${redactUrl(config.db)}: deleted ${deleted} jobs${projectId === undefined ? '' : ` of project ${projectId}`}`);
      return 0;
    } finally {
      await ctx.close();
    }
  },
};
