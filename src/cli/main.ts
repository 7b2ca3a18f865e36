/** The `taskcenter` command line: dispatches to a command and maps failures to exit codes. */
import { ConfigError } from '../config.js';
import { VERSION } from '../version.js';
import { STD_IO, UsageError, type Command, type Io } from './usage.js';

/**
 * Each command is loaded only when it runs, so `migrate` or `--help` do not pay for
 * loading the HTTP server.
 */
const COMMANDS: readonly { name: string; summary: string; load(): Promise<Command> }[] = [
  { name: 'serve', summary: 'run the API server (migrations run at start)', load: async () => (await import('./serve.js')).serveCommand },
  {
    name: 'demo',
    summary: 'serve a fresh database of realistic demo jobs (what npm start runs)',
    load: async () => (await import('./demo.js')).demoCommand,
  },
  { name: 'migrate', summary: 'bring a database schema up to date', load: async () => (await import('./migrate.js')).migrateCommand },
  {
    name: 'credentials',
    summary: 'add a principal (token and/or AK/SK) to a static credentials file',
    load: async () => (await import('./credentials.js')).credentialsCommand,
  },
  { name: 'check', summary: "prove the lists' counters and items equal what the rows say", load: async () => (await import('./check.js')).checkCommand },
  {
    name: 'rebuild-listings',
    summary: "rebuild the lists' items, counters and versions from the rows",
    load: async () => (await import('./rebuild-listings.js')).rebuildListingsCommand,
  },
  { name: 'seed', summary: 'fill a database with realistic synthetic jobs, at scale', load: async () => (await import('./seed.js')).seedCommand },
  {
    name: 'export',
    summary: 'write every job (of one project, or all) to stdout as NDJSON',
    load: async () => (await import('./export.js')).exportCommand,
  },
  {
    name: 'import',
    summary: 'store the jobs of an NDJSON snapshot read from stdin, as it says',
    load: async () => (await import('./import.js')).importCommand,
  },
  {
    name: 'reset',
    summary: 'delete every job (of one project, or all) from a store',
    load: async () => (await import('./reset.js')).resetCommand,
  },
];

function overview(): string {
  const width = Math.max(...COMMANDS.map((c) => c.name.length));
  return [
    'Usage: taskcenter <command> [flags]',
    '       taskcenter --version',
    '',
    'Commands:',
    ...COMMANDS.map((c) => `  ${c.name.padEnd(width)}  ${c.summary}`),
    '',
    "Run 'taskcenter <command> --help' for a command's flags.",
  ].join('\n');
}

/**
 * Runs the command line and resolves to the exit code: 0 ok, 2 bad usage (the message
 * says what), 1 runtime error.
 */
export async function main(argv: string[], io: Io = STD_IO): Promise<number> {
  const [name, ...rest] = argv;
  if (name === undefined || name === '--help' || name === '-h' || name === 'help') {
    (name === undefined ? io.err : io.out)(overview());
    return name === undefined ? 2 : 0;
  }
  if (name === '--version' || name === '-v' || name === 'version') {
    io.out(`taskcenter ${VERSION}`);
    return 0;
  }
  const entry = COMMANDS.find((c) => c.name === name);
  if (entry === undefined) {
    io.err(`taskcenter: unknown command '${name}'\n\n${overview()}`);
    return 2;
  }
  try {
    const command = await entry.load();
    if (rest.includes('--help') || rest.includes('-h')) {
      io.out(command.usage);
      return 0;
    }
    return await command.run(rest, io);
  } catch (error) {
    if (error instanceof UsageError || error instanceof ConfigError) {
      io.err(`taskcenter ${name}: ${error.message}\nRun 'taskcenter ${name} --help' for usage.`);
      return 2;
    }
    io.err(`taskcenter ${name}: ${error instanceof Error ? error.message : String(error)}`);
    return 1;
  }
}
