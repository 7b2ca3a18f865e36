/**
 * Debian's PgBouncer in `pool_mode = transaction` in front of a PostgreSQL server (the
 * tests'): a generated ini and userlist (trust auth, every database), on a free port,
 * stopped with the process.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { chmodSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import net from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { freePort, locate, PGBOUNCER } from './tools.js';

export interface PgBouncer {
  readonly port: number;
  /** `url` (a database on the test server) as reached through PgBouncer, with `?pooling=transaction`. */
  through(url: string): string;
  stop(): Promise<void>;
}

/** Starts PgBouncer in front of the server of `upstreamUrl` (its user is trusted); resolves once it accepts connections. */
export async function startPgBouncer(upstreamUrl: string): Promise<PgBouncer> {
  const command = locate(PGBOUNCER.command);
  if (command === null) throw new Error(`pgbouncer not found (apt-get install -y ${PGBOUNCER.debianPackage})`);
  const upstream = new URL(upstreamUrl);
  const user = decodeURIComponent(upstream.username || 'postgres');
  const dir = mkdtempSync(join(tmpdir(), 'taskcenter-pgbouncer-'));
  const port = await freePort();
  writeFileSync(join(dir, 'userlist.txt'), `"${user}" ""\n`);
  writeFileSync(
    join(dir, 'pgbouncer.ini'),
    [
      '[databases]',
      `* = host=${upstream.hostname} port=${upstream.port || '5432'}`,
      '',
      '[pgbouncer]',
      'listen_addr = 127.0.0.1',
      `listen_port = ${port}`,
      'unix_socket_dir =',
      'auth_type = trust',
      `auth_file = ${join(dir, 'userlist.txt')}`,
      'pool_mode = transaction',
      'max_client_conn = 1000',
      'default_pool_size = 20',
      '',
    ].join('\n'),
  );
  // PgBouncer refuses to run as root; as root it is told to switch to nobody, who must read its files.
  const asRoot = process.getuid?.() === 0;
  if (asRoot) {
    chmodSync(dir, 0o755);
    for (const file of ['userlist.txt', 'pgbouncer.ini']) chmodSync(join(dir, file), 0o644);
  }
  const child: ChildProcess = spawn(command, [...(asRoot ? ['-u', 'nobody'] : []), join(dir, 'pgbouncer.ini')], { stdio: ['ignore', 'ignore', 'pipe'] });
  let output = '';
  child.stderr?.on('data', (chunk: Buffer) => (output += chunk.toString()));
  // Neither the process nor its output keeps the test process alive.
  child.unref();
  (child.stderr as net.Socket | null)?.unref();
  const exited = new Promise<void>((resolve) => child.once('exit', () => resolve()));
  const stop = async () => {
    if (child.exitCode === null && child.signalCode === null) {
      child.kill('SIGINT');
      await exited;
    }
    rmSync(dir, { recursive: true, force: true });
  };
  // Stopped with the test process, however it ends.
  process.once('exit', () => child.kill('SIGKILL'));
  const deadline = Date.now() + 10_000;
  for (;;) {
    if (child.exitCode !== null) {
      await stop();
      throw new Error(`pgbouncer exited ${child.exitCode}: ${output}`);
    }
    const open = await new Promise<boolean>((resolve) => {
      const socket = net.connect(port, '127.0.0.1', () => {
        socket.end();
        resolve(true);
      });
      socket.once('error', () => resolve(false));
    });
    if (open) break;
    if (Date.now() > deadline) {
      await stop();
      throw new Error(`pgbouncer did not listen on ${port} within 10 s: ${output}`);
    }
    await new Promise((resolve) => setTimeout(resolve, 50));
  }
  return {
    port,
    through(url) {
      const target = new URL(url);
      target.hostname = '127.0.0.1';
      target.port = String(port);
      target.searchParams.set('pooling', 'transaction');
      return target.toString();
    },
    stop,
  };
}
