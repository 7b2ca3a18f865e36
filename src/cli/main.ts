/** The `taskcenter` command line: dispatches to a command and maps failures to exit codes. */
import { ConfigError } from '../config.js';
import { credentialsCommand } from './credentials.js';
import { demoCommand } from './demo.js';
import { migrateCommand } from './migrate.js';
import { seedCommand } from './seed.js';
import { serveCommand } from './serve.js';
import { STD_IO, UsageError, type Command, type Io } from './usage.js';

const COMMANDS: readonly Command[] = [serveCommand, demoCommand, migrateCommand, credentialsCommand, seedCommand];

function overview(): string {
  const width = Math.max(...COMMANDS.map((c) => c.name.length));
  return [
    'Usage: taskcenter <command> [flags]',
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
  const command = COMMANDS.find((c) => c.name === name);
  if (command === undefined) {
    io.err(`taskcenter: unknown command '${name}'\n\n${overview()}`);
    return 2;
  }
  if (rest.includes('--help') || rest.includes('-h')) {
    io.out(command.usage);
    return 0;
  }
  try {
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
