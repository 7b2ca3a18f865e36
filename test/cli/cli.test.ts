/**
 * The `taskcenter` command line as a user runs it: help, exit codes (0 ok, 2 bad usage
 * with a message saying what, 1 runtime error), `credentials add`, `migrate` and `seed`
 * on both engines.
 */
import assert from 'node:assert/strict';
import { mkdtempSync, readFileSync, rmSync, statSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { signRequest } from '../../src/auth/aksk.js';
import { StaticAuthenticator } from '../../src/auth/authenticator.js';
import { hashToken } from '../../src/auth/credentials.js';
import { main } from '../../src/cli/main.js';
import { loadConfig } from '../../src/config.js';
import { createContext } from '../../src/context.js';
import { engines, freshDatabase, postgresProblem } from '../helpers.js';
import { REPO_ROOT, taskcenter } from '../cli-helpers.js';

const COMMANDS = ['serve', 'demo', 'migrate', 'credentials', 'seed', 'check', 'rebuild-listings'];

let dir: string;
before(() => {
  dir = mkdtempSync(join(tmpdir(), 'taskcenter-cli-'));
});
after(() => rmSync(dir, { recursive: true, force: true }));

describe('taskcenter usage', () => {
  it('prints each command’s help and exits 0', async () => {
    const results = await Promise.all([['--help'], ...COMMANDS.map((c) => [c, '--help'])].map((args) => taskcenter(args)));
    assert.equal(results[0]?.code, 0);
    for (const command of COMMANDS) assert.match(results[0]?.stdout ?? '', new RegExp(`^  ${command} `, 'm'));
    COMMANDS.forEach((command, i) => {
      const result = results[i + 1];
      assert.equal(result?.code, 0, `${command} --help: ${result?.stderr}`);
      assert.match(result?.stdout ?? '', new RegExp(`^Usage: taskcenter ${command}`), command);
    });
  });

  it('exits 2 for an unknown command or flag or a bad --port, saying what is wrong', async () => {
    const cases: [string[], RegExp][] = [
      [[], /Usage: taskcenter <command>/],
      [['frobnicate'], /unknown command 'frobnicate'/],
      [['serve', '--bogus'], /Unknown option '--bogus'/],
      [['serve', '--port', '99999'], /--port must be an integer between 0 and 65535, got '99999'/],
    ];
    const results = await Promise.all(cases.map(([args]) => taskcenter(args)));
    cases.forEach(([args, message], i) => {
      const result = results[i];
      assert.equal(result?.code, 2, `${args.join(' ')}: ${result?.stderr}`);
      assert.match(result?.stderr ?? '', message, args.join(' '));
    });
  });

  // The same entry point in-process: spawning a process per case would take seconds each.
  it('refuses every bad flag value with exit code 2 and a message naming it', async () => {
    const cases: [string[], RegExp][] = [
      [['serve', '--port', 'abc'], /--port must be an integer between 0 and 65535, got 'abc'/],
      [['serve', '--retain-days', '1w'], /--retain-days must be a whole number of days between 1 and 36500 \(0 or off keeps every job\), got '1w'/],
      [['demo', '--port', '-1'], /--port/],
      [['demo', '--db', 'nowhere'], /--db must be sqlite:<path>/],
      [['migrate', '--db', 'mysql://x'], /--db must be sqlite:<path>/],
      [['seed', '--jobs', '10'], /--projects is required/],
      [['seed', '--projects', '0', '--jobs', '10'], /--projects must be an integer between 1 and/],
      [['seed', '--projects', '2', '--jobs', '1.5'], /--jobs must be an integer between 1 and .*got '1.5'/],
      [['seed', '--projects', '2', '--jobs', '5', '--end-time', 'yesterday'], /--end-time must be an ISO 8601 time/],
      [['seed', '--projects', '2', '--jobs', '5', '--interleave', '0'], /--interleave must be an integer between 1 and/],
      [['credentials'], /missing subcommand/],
      [['credentials', 'remove'], /unknown subcommand 'remove'/],
      [['credentials', 'add', '--name', 'x', '--project', 'p', '--action', '*'], /give --token, --aksk or both, or --temporary/],
      [['credentials', 'add', '--name', 'x', '--project', 'p', '--action', '*', '--temporary'], /--temporary needs --ttl SECONDS \(60 to 86400\)/],
      [
        ['credentials', 'add', '--name', 'x', '--project', 'p', '--action', '*', '--temporary', '--ttl', '1h'],
        /--ttl must be an integer between 60 and 86400 seconds, got '1h'/,
      ],
      [
        ['credentials', 'add', '--name', 'x', '--project', 'p', '--action', '*', '--temporary', '--ttl', '86401'],
        /--ttl must be an integer between 60 and 86400/,
      ],
      [['credentials', 'add', '--name', 'x', '--project', 'p', '--action', '*', '--token', '--ttl', '600'], /--ttl applies only to --temporary credentials/],
      [['credentials', 'add', '--name', 'x', '--project', 'p', '--action', '*', '--temporary', '--ttl', '600', '--token'], /without --token and --aksk/],
      [
        ['credentials', 'add', '--name', 'x', '--project', 'p', '--action', 'sdrs:failurejobs:list', '--token'],
        /--action 'sdrs:failurejobs:list' matches none of/,
      ],
      [['credentials', 'add', '--name', 'x', '--project', 'a/b', '--action', '*', '--token'], /--project must be \* or a project id/],
      [['credentials', 'add', '--token'], /--name is required\n--project is required[^\n]*\n--action is required/],
    ];
    for (const [args, message] of cases) {
      let stderr = '';
      const code = await main(args, { out: () => {}, err: (line) => (stderr += line + '\n') });
      assert.equal(code, 2, `${args.join(' ')}: ${stderr}`);
      assert.match(stderr, message, args.join(' '));
    }
  });

  it('prints the version package.json names, and ships the license it names', async () => {
    const pkg = JSON.parse(readFileSync(join(REPO_ROOT, 'package.json'), 'utf8')) as { version: string; license: string };
    for (const flag of ['--version', '-v']) {
      const result = await taskcenter([flag]);
      assert.equal(result.code, 0, result.stderr);
      assert.equal(result.stdout, `taskcenter ${pkg.version}\n`);
    }
    assert.equal(pkg.license, 'Apache-2.0');
    const license = readFileSync(join(REPO_ROOT, 'LICENSE'), 'utf8');
    assert.match(license, /^\s*Apache License\s+Version 2\.0, January 2004\s+http:\/\/www\.apache\.org\/licenses\//);
    assert.match(license, /END OF TERMS AND CONDITIONS/);
  });

  it('reads settings from TASKCENTER_* variables, naming the variable when one is bad', async () => {
    const result = await taskcenter(['migrate'], { TASKCENTER_DB: 'nope' });
    assert.equal(result.code, 2);
    assert.match(result.stderr, /TASKCENTER_DB must be sqlite:<path>/);
  });
});

describe('taskcenter credentials add', () => {
  it('writes a 0600 file, prints the secrets once, and refuses a second principal of the same name', async () => {
    const file = join(dir, 'creds', 'credentials.json');
    const args = [
      'credentials',
      'add',
      '--file',
      file,
      '--name',
      'ci',
      '--project',
      'proj-a',
      '--project',
      'proj-b',
      '--action',
      'taskcenter:jobs:*',
      '--token',
      '--aksk',
    ];
    const first = await taskcenter(args);
    assert.equal(first.code, 0, first.stderr);
    const token = first.stdout.match(/X-Auth-Token: (\S+)/)?.[1];
    assert.ok(token !== undefined && token.length >= 32, first.stdout);
    assert.match(first.stdout, /AK: [A-Z0-9]{20}\n/);
    assert.match(first.stdout, /SK: \S{40}\n/);
    assert.equal(statSync(file).mode & 0o777, 0o600);

    const again = await taskcenter(args);
    assert.equal(again.code, 1);
    assert.match(again.stderr, /principal 'ci' already exists/);

    const json = await taskcenter(['credentials', 'add', '--file', file, '--name', 'reader', '--project', '*', '--action', 'sdrs:*', '--token', '--json']);
    assert.equal(json.code, 0, json.stderr);
    const issued = JSON.parse(json.stdout) as { name: string; token?: string; ak?: string };
    assert.equal(issued.name, 'reader');
    assert.equal(typeof issued.token, 'string');
    assert.equal(issued.ak, undefined);
  });
});

describe('taskcenter credentials add --temporary', () => {
  it('issues an AK/SK with a security token that expires after --ttl, stores only its hash, and the key signs with it', async () => {
    const file = join(dir, 'temporary', 'credentials.json');
    const started = Date.now();
    const result = await taskcenter([
      'credentials',
      'add',
      '--file',
      file,
      '--name',
      'ci-temp',
      '--project',
      'proj-a',
      '--action',
      '*',
      '--temporary',
      '--ttl',
      '900',
      '--json',
    ]);
    assert.equal(result.code, 0, result.stderr);
    const issued = JSON.parse(result.stdout) as { ak: string; sk: string; security_token: string; expires_at: string; token?: string };
    assert.match(issued.ak, /^[A-Z0-9]{20}$/);
    assert.equal(issued.token, undefined);
    const expiresAt = Date.parse(issued.expires_at);
    assert.ok(expiresAt >= started + 900_000 && expiresAt <= Date.now() + 900_000, issued.expires_at);
    const stored = readFileSync(file, 'utf8');
    assert.ok(!stored.includes(issued.security_token), 'the security token is stored in clear');
    assert.ok(stored.includes(hashToken(issued.security_token)));
    assert.equal(statSync(file).mode & 0o777, 0o600);

    const auth = new StaticAuthenticator(file);
    const request = (headers: Record<string, string>, at = Date.now()) => {
      const url = '/v1/proj-a/task-center/failure-jobs';
      return { method: 'GET', url, headers: signRequest({ method: 'GET', url, host: 'h:1', headers }, issued, at), body: Buffer.alloc(0), projectId: 'proj-a' };
    };
    assert.equal((await auth.authenticate(request({ 'x-security-token': issued.security_token }))).name, 'ci-temp');
    await assert.rejects(auth.authenticate(request({})), /is temporary: the request must carry the X-Security-Token/);

    const human = await taskcenter([
      'credentials',
      'add',
      '--file',
      file,
      '--name',
      'ci-temp-2',
      '--project',
      'proj-a',
      '--action',
      '*',
      '--temporary',
      '--ttl',
      '60',
    ]);
    assert.equal(human.code, 0, human.stderr);
    assert.match(human.stdout, /X-Security-Token: \S{32,}\n/);
    assert.match(human.stdout, /expires at \d{4}-\d{2}-\d{2}T/);
  });
});

for (const engine of engines) {
  describe(`taskcenter migrate and seed [${engine}]`, () => {
    let skip: string | null = null;
    before(async () => {
      skip = engine === 'postgres' ? await postgresProblem() : null;
    });

    it('migrates an empty database, then finds it up to date', async (t) => {
      if (skip !== null) return t.skip(skip);
      const database = await freshDatabase(engine);
      try {
        const first = await taskcenter(['migrate', '--db', database.url]);
        assert.equal(first.code, 0, first.stderr);
        assert.match(first.stdout, /applied 0001-jobs/);
        const second = await taskcenter(['migrate', '--db', database.url]);
        assert.equal(second.code, 0, second.stderr);
        assert.match(second.stdout, /schema already up to date/);
      } finally {
        await database.drop();
      }
    });

    it('seeds readable jobs into predictable projects, the same ones on every run', async (t) => {
      if (skip !== null) return t.skip(skip);
      const database = await freshDatabase(engine);
      try {
        const args = ['seed', '--db', database.url, '--projects', '3', '--jobs', '250', '--seed', 'cli-test'];
        const first = await taskcenter(args);
        assert.equal(first.code, 0, first.stderr);
        assert.match(first.stdout, /250 jobs added, 0 already there, in projects seed-000000 \.\. seed-000002/);
        assert.match(first.stderr, /250\/250 jobs \(100%\)/);
        const second = await taskcenter(args);
        assert.equal(second.code, 0, second.stderr);
        assert.match(second.stdout, /0 jobs added, 250 already there/);

        const config = loadConfig({ db: database.url, auth: 'none', logLevel: 'silent' }, {});
        const ctx = await createContext(config);
        try {
          const sizes = [];
          const jobs = [];
          for (const project of ['seed-000000', 'seed-000001', 'seed-000002', 'seed-000003']) {
            const page = await ctx.jobs.list(project, { limit: 1000 });
            sizes.push(page.jobs.length);
            jobs.push(...page.jobs);
          }
          assert.deepEqual(sizes, [84, 83, 83, 0]);
          assert.deepEqual(new Set(jobs.map((j) => j.service)), new Set(['sdrs', 'kps']));
          assert.ok(jobs.some((j) => j.status === 'FAIL' && j.parent_job_id === null));
          assert.ok(
            jobs.some((j) => j.parent_job_id !== null),
            'some sub-jobs',
          );
          const one = jobs[0];
          assert.ok(one !== undefined);
          assert.deepEqual(await ctx.jobs.get(one.project_id, one.job_id), one);
          // Without --end-time the jobs end now: the unfinished ones began in the last half hour.
          const unfinished = jobs.filter((j) => j.status === 'INIT' || j.status === 'RUNNING');
          assert.ok(unfinished.length > 0);
          for (const job of unfinished) assert.ok(Date.parse(job.begin_time) > Date.now() - 3600_000, `${job.job_id} began at ${job.begin_time}`);
        } finally {
          await ctx.close();
        }
      } finally {
        await database.drop();
      }
    });

    it('seeds the same jobs with --interleave, only written in another order', async (t) => {
      if (skip !== null) return t.skip(skip);
      const databases = [await freshDatabase(engine), await freshDatabase(engine)];
      try {
        const jobs: unknown[][] = [[], []];
        for (const [i, database] of databases.entries()) {
          const args = ['seed', '--db', database.url, '--projects', '3', '--jobs', '250', '--end-time', '2026-01-01T00:00:00.000Z'];
          const seeded = await taskcenter(i === 0 ? args : [...args, '--interleave', '7']);
          assert.equal(seeded.code, 0, seeded.stderr);
          const ctx = await createContext(loadConfig({ db: database.url, auth: 'none', logLevel: 'silent' }, {}));
          try {
            for (const project of ['seed-000000', 'seed-000001', 'seed-000002']) {
              // Written at another moment: only what was reported must be the same.
              for (const { created_at: _c, updated_at: _u, ...job } of (await ctx.jobs.list(project, { limit: 1000 })).jobs) jobs[i]?.push(job);
            }
          } finally {
            await ctx.close();
          }
        }
        assert.equal(jobs[0]?.length, 250);
        assert.deepEqual(jobs[1], jobs[0]);
      } finally {
        for (const database of databases) await database.drop();
      }
    });
  });
}
