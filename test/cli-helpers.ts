/**
 * Runs the real `taskcenter` binary (bin/taskcenter.js over the compiled dist/) as a
 * child process, the way a user or CI does.
 */
import { spawn, type ChildProcessWithoutNullStreams } from 'node:child_process';
import { fileURLToPath } from 'node:url';

export const REPO_ROOT = fileURLToPath(new URL('../../', import.meta.url));
const BIN = fileURLToPath(new URL('../../bin/taskcenter.js', import.meta.url));

/** The test's environment without TASKCENTER_* settings, so only the given flags count. */
function childEnv(extra: Record<string, string>): NodeJS.ProcessEnv {
  return { ...Object.fromEntries(Object.entries(process.env).filter(([k]) => !k.startsWith('TASKCENTER_'))), ...extra };
}

export interface Finished {
  readonly code: number | null;
  readonly stdout: string;
  readonly stderr: string;
}

/** Runs `taskcenter ...args` to completion, with no stdin. */
export function taskcenter(args: readonly string[], env: Record<string, string> = {}): Promise<Finished> {
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, [BIN, ...args], { cwd: REPO_ROOT, env: childEnv(env), stdio: ['ignore', 'pipe', 'pipe'] });
    let stdout = '';
    let stderr = '';
    child.stdout.on('data', (chunk: Buffer) => (stdout += chunk.toString()));
    child.stderr.on('data', (chunk: Buffer) => (stderr += chunk.toString()));
    child.on('error', reject);
    child.on('close', (code) => resolve({ code, stdout, stderr }));
  });
}

/** A long-running `taskcenter` process (serve, demo) and its output so far. */
export interface Running {
  readonly child: ChildProcessWithoutNullStreams;
  stdout(): string;
  stderr(): string;
  /** Resolves with the first stdout match of `pattern`; rejects if the process exits first or after `ms`. */
  waitFor(pattern: RegExp, ms?: number): Promise<RegExpMatchArray>;
  /** Sends SIGTERM and resolves with the exit code. */
  stop(): Promise<number | null>;
}

export function startTaskcenter(args: readonly string[], env: Record<string, string> = {}): Running {
  return startCommand(process.execPath, [BIN, ...args], env);
}

/** Starts any command (`script` around taskcenter, for a terminal) as {@link startTaskcenter} does. */
export function startCommand(command: string, args: readonly string[], env: Record<string, string> = {}): Running {
  const child = spawn(command, args, { cwd: REPO_ROOT, env: childEnv(env) });
  child.stdin.end();
  let stdout = '';
  let stderr = '';
  let exitCode: number | null | undefined;
  const exited = new Promise<number | null>((resolve) => child.on('exit', (code) => resolve((exitCode = code))));
  child.stdout.on('data', (chunk: Buffer) => (stdout += chunk.toString()));
  child.stderr.on('data', (chunk: Buffer) => (stderr += chunk.toString()));
  return {
    child,
    stdout: () => stdout,
    stderr: () => stderr,
    waitFor(pattern, ms = 20_000) {
      return new Promise((resolve, reject) => {
        const deadline = Date.now() + ms;
        const poll = () => {
          const match = stdout.match(pattern);
          if (match !== null) return resolve(match);
          if (exitCode !== undefined) return reject(new Error(`exited with ${exitCode} before printing ${pattern}\nstdout: ${stdout}\nstderr: ${stderr}`));
          if (Date.now() > deadline) return reject(new Error(`no ${pattern} within ${ms} ms\nstdout: ${stdout}\nstderr: ${stderr}`));
          setTimeout(poll, 25);
        };
        poll();
      });
    },
    async stop() {
      if (exitCode === undefined) child.kill('SIGTERM');
      return exited;
    },
  };
}
