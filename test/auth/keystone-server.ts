/**
 * A real OpenStack Keystone for integration tests: Debian's `keystone` package served by
 * uWSGI on a free loopback port, over a SQLite database and fernet keys in a temporary
 * folder, bootstrapped once per test file. Where Keystone is not installed the suites
 * are skipped with one line saying why, unless TASKCENTER_REQUIRE_KEYSTONE=1 (set by
 * .ci/run), which makes that a failure (see ../tools.ts).
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { chmodSync, closeSync, existsSync, mkdirSync, mkdtempSync, openSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before } from 'node:test';
import Sqlite from 'better-sqlite3';
import { loadConfig } from '../../src/config.js';
import type { Engine } from '../../src/db/database.js';
import { createTestApp, writeTestCredentials, type TestApp } from '../helpers.js';
import { describeRequiring, locate } from '../tools.js';

const KEYSTONE_MANAGE = '/usr/bin/keystone-manage';
const KEYSTONE_WSGI = '/usr/bin/keystone-wsgi-public';
const UWSGI_PLUGIN = '/usr/lib/uwsgi/plugins/python3_plugin.so';
/** Debian's packages that provide all of the above. */
export const KEYSTONE_PACKAGES = 'keystone uwsgi uwsgi-plugin-python3';
const START_TIMEOUT_MS = 90_000;

/** Null when a Keystone can be run here, else what is missing. */
export function keystoneProblem(): string | null {
  const missing = [KEYSTONE_MANAGE, KEYSTONE_WSGI, UWSGI_PLUGIN].filter((path) => !existsSync(path));
  if (locate('uwsgi') === null) missing.push('uwsgi');
  return missing.length === 0 ? null : `${missing.join(', ')} not found (apt-get install -y ${KEYSTONE_PACKAGES})`;
}

/** The bootstrap administrator: roles admin, member and reader on project `admin`. */
export interface KeystoneAdmin {
  readonly user: string;
  readonly password: string;
  readonly project: string;
  readonly projectId: string;
  readonly userId: string;
  readonly domain: string;
}

/** A token Keystone issued. */
export interface IssuedToken {
  readonly token: string;
  readonly expiresAt: number;
  readonly projectId: string;
}

/** Another uWSGI over the same database and keys, with its own token lifetime. */
export interface KeystoneInstance {
  /** The endpoint, `http://127.0.0.1:<port>/v3`. */
  readonly url: string;
  stop(): Promise<void>;
}

export interface KeystoneServer extends KeystoneInstance {
  readonly admin: KeystoneAdmin;
  /** Milliseconds each start-up step took, for the notes. */
  readonly timings: Readonly<Record<string, number>>;
  /** Issues a token for `user` scoped to project `projectId`, from `instance` (default this one). */
  issue(user: string, password: string, projectId: string, instance?: KeystoneInstance): Promise<IssuedToken>;
  /** Revokes a token (DELETE /v3/auth/tokens). */
  revoke(token: string): Promise<void>;
  /** Creates a project in the default domain and returns its id. */
  createProject(name: string): Promise<string>;
  /** Creates a user in the default domain and returns its id. */
  createUser(name: string, password: string): Promise<string>;
  /** Gives `userId` the role named `role` on project `projectId`. */
  grant(userId: string, projectId: string, role: string): Promise<void>;
  /** Starts another server over the same data whose tokens live `expirationSeconds`. */
  startInstance(options?: { expirationSeconds?: number }): Promise<KeystoneInstance>;
}

/** A TCP port on 127.0.0.1 that nothing listens on (at the time of asking). */
export async function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const server = createServer();
    server.once('error', reject);
    server.listen(0, '127.0.0.1', () => {
      const address = server.address();
      const port = typeof address === 'object' && address !== null ? address.port : 0;
      server.close(() => resolve(port));
    });
  });
}

function run(command: string, args: string[], logFile: string): Promise<void> {
  return new Promise((resolve, reject) => {
    const log = openSync(logFile, 'a');
    const child = spawn(command, args, { stdio: ['ignore', log, log] });
    child.once('error', (error) => {
      closeSync(log);
      reject(error);
    });
    child.once('exit', (code) => {
      closeSync(log);
      if (code === 0) resolve();
      else reject(new Error(`${command} ${args.slice(0, 3).join(' ')} exited ${code}:\n${tail(logFile)}`));
    });
  });
}

function tail(path: string): string {
  try {
    return readFileSync(path, 'utf8').split('\n').slice(-25).join('\n');
  } catch {
    return '(no log)';
  }
}

/** A fernet key repository holding a primary (1) and a staged (0) key, as `fernet_setup` makes it. */
function writeKeyRepository(dir: string): void {
  mkdirSync(dir, { mode: 0o700 });
  for (const name of ['0', '1']) writeFileSync(join(dir, name), randomBytes(32).toString('base64url') + '=', { mode: 0o600 });
}

function writeConfig(path: string, dir: string, expirationSeconds: number): void {
  writeFileSync(
    path,
    [
      '[DEFAULT]',
      'use_stderr = true',
      '[database]',
      `connection = sqlite:///${join(dir, 'keystone.db')}`,
      '[fernet_tokens]',
      `key_repository = ${join(dir, 'fernet')}`,
      // Bootstrap checks this one too; its default, /etc/keystone/fernet-keys/, exists only
      // where someone ran `keystone-manage fernet_setup` for the system's own Keystone.
      '[fernet_receipts]',
      `key_repository = ${join(dir, 'fernet')}`,
      '[credential]',
      `key_repository = ${join(dir, 'credential')}`,
      '[token]',
      `expiration = ${expirationSeconds}`,
      // Test passwords need no brute-force resistance; the default 12 rounds cost ~250 ms a login.
      '[identity]',
      'password_hash_rounds = 4',
      '',
    ].join('\n'),
  );
}

/** Serves `conf` with uWSGI on `port` (default a free one); resolves once Keystone answers. */
async function serve(dir: string, conf: string, name: string, port?: number): Promise<KeystoneInstance> {
  port ??= await freePort();
  const ini = join(dir, `${name}.ini`);
  writeFileSync(
    ini,
    [
      '[uwsgi]',
      `http-socket = 127.0.0.1:${port}`,
      'plugins = python3',
      `wsgi-file = ${KEYSTONE_WSGI}`,
      'master = true',
      // Keystone's SQLite connections must stay on the thread that opened them: processes, not threads.
      'processes = 2',
      'threads = 1',
      'need-app = true',
      'no-orphans = true',
      'buffer-size = 65535',
      // uWSGI's http-socket closes every connection after one answer; saying so keeps clients from reusing it.
      'add-header = Connection: close',
      '',
    ].join('\n'),
  );
  const logFile = join(dir, `${name}.log`);
  const log = openSync(logFile, 'a');
  const child = spawn('uwsgi', ['--ini', ini], { stdio: ['ignore', log, log], env: { ...process.env, OS_KEYSTONE_CONFIG_FILES: conf } });
  closeSync(log);
  const exited = new Promise<number | null>((resolve) => child.once('exit', (code) => resolve(code)));
  const kill = () => child.kill('SIGKILL');
  process.once('exit', kill);
  const url = `http://127.0.0.1:${port}/v3`;
  const deadline = Date.now() + START_TIMEOUT_MS;
  for (;;) {
    if (child.exitCode !== null || child.signalCode !== null) throw new Error(`uwsgi exited while starting Keystone:\n${tail(logFile)}`);
    const up = await fetch(url).then(
      (r) => r.status === 200,
      () => false,
    );
    if (up) break;
    if (Date.now() > deadline) {
      await stopChild(child, exited);
      throw new Error(`Keystone did not answer on ${url} within ${START_TIMEOUT_MS / 1000} s:\n${tail(logFile)}`);
    }
    await new Promise((resolve) => setTimeout(resolve, 100));
  }
  return {
    url,
    async stop() {
      process.off('exit', kill);
      await stopChild(child, exited);
    },
  };
}

/** SIGINT stops uWSGI (SIGTERM makes it reload); SIGKILL if it lingers. */
async function stopChild(child: ChildProcess, exited: Promise<unknown>): Promise<void> {
  if (child.exitCode !== null || child.signalCode !== null) return;
  child.kill('SIGINT');
  const timer = setTimeout(() => child.kill('SIGKILL'), 10_000);
  await exited;
  clearTimeout(timer);
}

/**
 * Creates, bootstraps and serves a Keystone. Tokens live `expirationSeconds` (an hour by
 * default). `stop()` ends every instance started from it and removes its files.
 */
export async function startKeystone(options: { expirationSeconds?: number } = {}): Promise<KeystoneServer> {
  const timings: Record<string, number> = {};
  const timed = async <T>(step: string, fn: () => Promise<T>): Promise<T> => {
    const start = performance.now();
    try {
      return await fn();
    } finally {
      timings[step] = Math.round(performance.now() - start);
    }
  };
  const dir = mkdtempSync(join(tmpdir(), 'taskcenter-keystone-'));
  chmodSync(dir, 0o700);
  const conf = join(dir, 'keystone.conf');
  const setupLog = join(dir, 'setup.log');
  const instances: KeystoneInstance[] = [];
  try {
    writeKeyRepository(join(dir, 'fernet'));
    writeKeyRepository(join(dir, 'credential'));
    writeConfig(conf, dir, options.expirationSeconds ?? 3600);
    const password = randomBytes(12).toString('hex');
    const port = await freePort();
    await timed('db_sync', () => run(KEYSTONE_MANAGE, ['--config-file', conf, 'db_sync'], setupLog));
    // WAL lets one instance read while another writes (a revocation, a new user).
    const db = new Sqlite(join(dir, 'keystone.db'));
    db.pragma('journal_mode = WAL');
    db.close();
    await timed('bootstrap', () =>
      run(
        KEYSTONE_MANAGE,
        ['--config-file', conf, 'bootstrap', '--bootstrap-password', password, '--bootstrap-public-url', `http://127.0.0.1:${port}/v3/`],
        setupLog,
      ),
    );
    const main = await timed('uwsgi start', () => serve(dir, conf, 'keystone', port));
    instances.push(main);
    const adminToken = await issueToken(main.url, 'admin', password, { name: 'admin', domain: { name: 'Default' } });
    const admin: KeystoneAdmin = {
      user: 'admin',
      password,
      project: 'admin',
      projectId: adminToken.projectId,
      userId: adminToken.userId,
      domain: 'Default',
    };
    const api = async (method: string, path: string, body?: unknown, headers: Record<string, string> = {}): Promise<{ status: number; json: any }> => {
      const response = await fetch(main.url + path, {
        method,
        headers: { 'x-auth-token': adminToken.token, ...(body === undefined ? {} : { 'content-type': 'application/json' }), ...headers },
        ...(body === undefined ? {} : { body: JSON.stringify(body) }),
      });
      const text = await response.text();
      return { status: response.status, json: text === '' ? null : JSON.parse(text) };
    };
    const expect = (what: string, result: { status: number; json: any }, status: number) => {
      if (result.status !== status) throw new Error(`Keystone: ${what} answered ${result.status}: ${JSON.stringify(result.json)}`);
    };
    let instanceCount = 0;
    return {
      url: main.url,
      admin,
      timings,
      async issue(user, userPassword, projectId, instance = main) {
        return issueToken(instance.url, user, userPassword, { id: projectId });
      },
      async revoke(token) {
        expect('token revocation', await api('DELETE', '/auth/tokens', undefined, { 'x-subject-token': token }), 204);
      },
      async createProject(name) {
        const result = await api('POST', '/projects', { project: { name, domain_id: 'default' } });
        expect(`creating project ${name}`, result, 201);
        return result.json.project.id as string;
      },
      async createUser(name, userPassword) {
        const result = await api('POST', '/users', { user: { name, password: userPassword, domain_id: 'default' } });
        expect(`creating user ${name}`, result, 201);
        return result.json.user.id as string;
      },
      async grant(userId, projectId, role) {
        const roles = await api('GET', `/roles?name=${encodeURIComponent(role)}`);
        expect(`finding role ${role}`, roles, 200);
        const roleId = roles.json.roles[0]?.id as string | undefined;
        if (roleId === undefined) throw new Error(`Keystone has no role ${role}`);
        expect(`granting ${role}`, await api('PUT', `/projects/${projectId}/users/${userId}/roles/${roleId}`), 204);
      },
      async startInstance(instanceOptions = {}) {
        instanceCount += 1;
        const name = `instance-${instanceCount}`;
        const instanceConf = join(dir, `${name}.conf`);
        writeConfig(instanceConf, dir, instanceOptions.expirationSeconds ?? 3600);
        const instance = await serve(dir, instanceConf, name);
        instances.push(instance);
        return instance;
      },
      async stop() {
        for (const instance of instances.splice(0)) await instance.stop();
        rmSync(dir, { recursive: true, force: true });
      },
    };
  } catch (error) {
    for (const instance of instances) await instance.stop();
    rmSync(dir, { recursive: true, force: true });
    throw error;
  }
}

async function issueToken(
  url: string,
  user: string,
  password: string,
  project: { id: string } | { name: string; domain: { name: string } },
): Promise<IssuedToken & { userId: string }> {
  const response = await fetch(`${url}/auth/tokens?nocatalog`, {
    method: 'POST',
    headers: { 'content-type': 'application/json' },
    body: JSON.stringify({
      auth: {
        identity: { methods: ['password'], password: { user: { name: user, domain: { name: 'Default' }, password } } },
        scope: { project },
      },
    }),
  });
  const body = (await response.json()) as { token: { expires_at: string; project: { id: string }; user: { id: string } } };
  const token = response.headers.get('x-subject-token');
  if (response.status !== 201 || token === null) throw new Error(`Keystone refused a token to ${user}: ${response.status} ${JSON.stringify(body)}`);
  return { token, expiresAt: Date.parse(body.token.expires_at), projectId: body.token.project.id, userId: body.token.user.id };
}

/**
 * Declares `suite` with a Keystone started before it (once) and stopped after. Where
 * Keystone cannot run, prints why and skips — or fails when TASKCENTER_REQUIRE_KEYSTONE=1.
 */
export function describeWithKeystone(name: string, suite: (keystone: () => KeystoneServer) => void): void {
  describeRequiring(name, keystoneProblem(), 'TASKCENTER_REQUIRE_KEYSTONE', () => {
    let keystone: KeystoneServer | undefined;
    before(
      async () => {
        keystone = await startKeystone();
      },
      { timeout: 2 * START_TIMEOUT_MS },
    );
    after(async () => {
      await keystone?.stop();
    });
    suite(() => {
      if (keystone === undefined) throw new Error('Keystone not started');
      return keystone;
    });
  });
}

/** A context and app with `--auth keystone` over a fresh database on `engine`. */
export type KeystoneTestServer = TestApp;

/**
 * Builds a server that validates tokens with the Keystone at `url` as its bootstrap admin,
 * with the test credentials file for AK/SK. `cacheTtl` in seconds (default 300).
 */
export async function createKeystoneTestServer(
  engine: Engine,
  url: string,
  admin: Pick<KeystoneAdmin, 'user' | 'password' | 'project'>,
  options: { cacheTtl?: number } = {},
): Promise<KeystoneTestServer> {
  return createTestApp(engine, (db, dir) =>
    loadConfig(
      {
        db,
        auth: 'keystone',
        keystoneUrl: url,
        keystoneUser: admin.user,
        keystoneProject: admin.project,
        keystoneCacheTtl: String(options.cacheTtl ?? 300),
        credentials: writeTestCredentials(dir),
        logLevel: 'silent',
        port: '0',
      },
      { TASKCENTER_KEYSTONE_PASSWORD: admin.password },
    ),
  );
}
