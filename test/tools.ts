/**
 * Suites that drive a real program from Debian (Chromium, HAProxy, PgBouncer, promtool).
 * Where the program is not installed, the suite is skipped with one line saying why and
 * which package provides it, unless TASKCENTER_REQUIRE_TOOLS=1 (set by .ci/run), which
 * makes that a failure.
 */
import { existsSync } from 'node:fs';
import net from 'node:net';
import { delimiter, join } from 'node:path';
import { describe, it } from 'node:test';

/** A program a suite needs: its path or command name, and the Debian package with it. */
export interface Tool {
  readonly command: string;
  readonly debianPackage: string;
}

export const CHROMIUM: Tool = { command: '/usr/bin/chromium', debianPackage: 'chromium' };
export const HAPROXY: Tool = { command: 'haproxy', debianPackage: 'haproxy' };
export const PGBOUNCER: Tool = { command: 'pgbouncer', debianPackage: 'pgbouncer' };
export const PROMTOOL: Tool = { command: 'promtool', debianPackage: 'prometheus' };

/** Where `command` is found: itself when it is a path, else the first match on PATH (or /usr/sbin). */
export function locate(command: string): string | null {
  if (command.includes('/')) return existsSync(command) ? command : null;
  const dirs = [...(process.env.PATH ?? '').split(delimiter), '/usr/sbin', '/sbin'];
  for (const dir of dirs) {
    if (dir !== '' && existsSync(join(dir, command))) return join(dir, command);
  }
  return null;
}

/** Why `tools` cannot run here, or null when every one is installed. */
export function toolsProblem(tools: readonly Tool[]): string | null {
  const missing = tools.filter((tool) => locate(tool.command) === null);
  if (missing.length === 0) return null;
  return `${missing.map((t) => t.command).join(', ')} not found (apt-get install -y ${missing.map((t) => t.debianPackage).join(' ')})`;
}

/**
 * Declares `suite` when `problem` is null. Otherwise prints why and skips it, or, when the
 * environment variable `requiredBy` is `1`, declares a failing test that says why.
 */
export function describeRequiring(name: string, problem: string | null, requiredBy: string, suite: () => void): void {
  if (problem === null) {
    describe(name, suite);
    return;
  }
  if (process.env[requiredBy] === '1') {
    describe(name, () => {
      it('has what it needs installed', () => {
        throw new Error(`${name} is required (${requiredBy}=1) but ${problem}`);
      });
    });
    return;
  }
  console.log(`${name} skipped: ${problem}. Set ${requiredBy}=1 to make this a failure.`);
  describe(name, () => {
    it('runs against the real program', { skip: problem }, () => {});
  });
}

/** `describeRequiring` for suites that need `tools` installed (TASKCENTER_REQUIRE_TOOLS). */
export function describeWithTools(name: string, tools: readonly Tool[], suite: () => void): void {
  describeRequiring(name, toolsProblem(tools), 'TASKCENTER_REQUIRE_TOOLS', suite);
}

/** A free TCP port on 127.0.0.1, for a program's listener (free now; nothing holds it). */
export function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const server = net.createServer();
    server.once('error', reject);
    server.listen(0, '127.0.0.1', () => {
      const address = server.address();
      server.close(() => resolve(typeof address === 'object' && address !== null ? address.port : 0));
    });
  });
}
