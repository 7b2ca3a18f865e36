/**
 * The long-running commands as a user runs them: `serve` with a credentials file made by
 * `credentials add`, and `demo`, whose printed curl lines must work when pasted. Both
 * stop cleanly (exit 0) on SIGTERM.
 */
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { after, before, describe, it } from 'node:test';
import { REPO_ROOT, startCommand, startTaskcenter, taskcenter } from '../cli-helpers.js';
import { engines, freshDatabase, postgresProblem, sdrsJob } from '../helpers.js';

const exec = promisify(execFile);

let dir: string;
before(() => {
  dir = mkdtempSync(join(tmpdir(), 'taskcenter-cli-server-'));
});
after(() => rmSync(dir, { recursive: true, force: true }));

/** Runs a printed curl line through bash as pasted, plus a status code on the last line. */
async function paste(line: string): Promise<{ status: number; body: string }> {
  const { stdout } = await exec('bash', ['-c', `${line} -w '%{http_code}'`]);
  const status = Number(stdout.slice(-3));
  return { status, body: stdout.slice(0, -3).trim() };
}

async function hasCurl(): Promise<boolean> {
  return exec('curl', ['--version']).then(
    () => true,
    () => false,
  );
}

describe('taskcenter serve', () => {
  it('accepts the token credentials add printed, for its projects only, and exits 0 on SIGTERM', async () => {
    const file = join(dir, 'credentials.json');
    const added = await taskcenter([
      'credentials',
      'add',
      '--file',
      file,
      '--name',
      'ci',
      '--project',
      'proj-a',
      '--action',
      'taskcenter:jobs:*',
      '--token',
      '--json',
    ]);
    assert.equal(added.code, 0, added.stderr);
    const { token } = JSON.parse(added.stdout) as { token: string };

    const server = startTaskcenter([
      'serve',
      '--drain-seconds',
      '0',
      '--port',
      '0',
      '--db',
      `sqlite:${join(dir, 'serve.db')}`,
      '--credentials',
      file,
      '--log-level',
      'info',
    ]);
    try {
      const [, url] = await server.waitFor(/"url":"(http:\/\/[^"]+)"[^\n]*"msg":"listening"/);
      const put = (project: string, headers: Record<string, string>) => {
        const job = sdrsJob();
        return fetch(`${url}/taskcenter/v1/projects/${project}/jobs/${String(job.job_id)}`, {
          method: 'PUT',
          headers: { 'content-type': 'application/json', ...headers },
          body: JSON.stringify(job),
        });
      };
      assert.equal((await put('proj-a', { 'x-auth-token': token })).status, 201);
      assert.equal((await put('proj-b', { 'x-auth-token': token })).status, 403);
      assert.equal((await put('proj-a', { 'x-auth-token': 'not-the-token' })).status, 401);
      assert.equal((await put('proj-a', {})).status, 401);
    } finally {
      assert.equal(await server.stop(), 0, server.stderr());
    }
    assert.doesNotMatch(server.stdout() + server.stderr(), new RegExp(token), 'the token is never logged');
  });
});

describe('taskcenter demo', () => {
  it('serves fresh demo data; its printed curl lines work as pasted; exits 0 on SIGTERM', async (t) => {
    if (!(await hasCurl())) return t.skip('curl is not installed');
    const args = ['demo', '--port', '0', '--db', `sqlite:${join(dir, 'demo.db')}`, '--credentials', join(dir, 'demo-credentials.json')];
    for (const round of [1, 2]) {
      const demo = startTaskcenter(args);
      try {
        await demo.waitFor(/Ctrl-C stops it/);
        const out = demo.stdout();
        assert.match(out, /X-Auth-Token: \S+/);
        assert.match(out, /AK: [A-Z0-9]{20}\n\s+SK: \S+/);
        assert.match(out, /http:\/\/127\.0\.0\.1:\d+\/docs /);
        assert.match(out, /http:\/\/127\.0\.0\.1:\d+\/openapi\.json /);
        assert.match(out, /http:\/\/127\.0\.0\.1:\d+\/healthz /);
        const curls = out.split('\n').filter((l) => l.trim().startsWith('curl '));
        const putLine = curls.find((l) => l.includes('-X PUT') && l.includes('/taskcenter/v1/projects/'));
        const getLine = curls.find((l) => !l.includes(' -X ') && l.includes('/taskcenter/v1/projects/'));
        assert.ok(putLine !== undefined && getLine !== undefined, out);

        // The demo database is recreated at each start, so the PUT creates its job both times.
        const put = await paste(putLine);
        assert.equal(put.status, 201, `round ${round}: ${put.body}`);
        assert.equal((JSON.parse(put.body) as { job_id: string }).job_id, 'demo-put-1');
        assert.equal((await paste(putLine)).status, 200);
        const get = await paste(getLine);
        assert.equal(get.status, 200, get.body);
        const job = JSON.parse(get.body) as { job_id: string; status: string; service: string };
        assert.ok(getLine.includes(job.job_id));
        assert.equal(job.status, 'FAIL');

        // Every other line, in the order printed, answers 2xx as pasted.
        for (const line of curls.filter((l) => l !== putLine && l !== getLine && !l.includes('/jobs/batch'))) {
          const { stdout } = await exec('bash', ['-c', line]);
          const status = /HTTP (\d{3})\s*$/.exec(stdout)?.[1];
          if (status !== undefined) {
            assert.match(status, /^20[04]$/, `${line}\n${stdout}`);
          } else {
            const body = JSON.parse(stdout) as Record<string, unknown>;
            // Error bodies: {"error": {...}} (SDRS, producer) or {"error_code", "error_msg"} (KPS, gateway).
            assert.ok(typeof body.error !== 'object' && !('error_msg' in body), `${line}\n${stdout}`);
          }
        }
      } finally {
        assert.equal(await demo.stop(), 0, demo.stderr());
      }
    }
  });

  it('prints its process id and the credentials file it reads; off a terminal, logs each request as a JSON line', async () => {
    const credentials = join(dir, 'demo-json-credentials.json');
    const demo = startTaskcenter(['demo', '--port', '0', '--db', `sqlite:${join(dir, 'demo-json.db')}`, '--credentials', credentials]);
    try {
      await demo.waitFor(/Ctrl-C stops it/);
      const out = demo.stdout();
      assert.match(out, new RegExp(`^  process +${demo.child.pid}$`, 'm'));
      assert.ok(out.includes(`credentials add --file ${credentials} `), out);
      assert.ok(out.includes(`kill -HUP ${demo.child.pid} `), out);
      const base = /Task Center demo: (http:\/\/\S+)/.exec(out)?.[1] ?? '';
      const response = await fetch(`${base}/healthz`);
      const id = response.headers.get('x-request-id');
      const line = await demo.waitFor(new RegExp(`^\\{.*"reqId":"${id}".*"msg":"request completed".*$`, 'm'));
      assert.equal((JSON.parse(line[0]) as { res: { statusCode: number } }).res.statusCode, 200);
    } finally {
      assert.equal(await demo.stop(), 0, demo.stderr());
    }
  });

  it('on a terminal, prints one readable line per request', async (t) => {
    const script = await exec('script', ['--version']).then(
      () => true,
      () => false,
    );
    if (!script) return t.skip('script (util-linux) is not installed: no terminal to run the demo on');
    const command = [
      process.execPath,
      join(REPO_ROOT, 'bin/taskcenter.js'),
      'demo',
      '--port',
      '0',
      '--db',
      `sqlite:${join(dir, 'demo-tty.db')}`,
      '--credentials',
      join(dir, 'demo-tty.json'),
    ];
    const demo = startCommand('script', ['-qfec', command.map((a) => `'${a}'`).join(' '), '/dev/null']);
    let pid: number | undefined;
    try {
      pid = Number((await demo.waitFor(/^ {2}process +(\d+)/m))[1]);
      await demo.waitFor(/Requests:/);
      const base = /Task Center demo: (http:\/\/\S+)/.exec(demo.stdout())?.[1] ?? '';
      const id = (await fetch(`${base}/v3/p/failed-tasks?limit=1`)).headers.get('x-request-id');
      await demo.waitFor(new RegExp(`^\\d{2}:\\d{2}:\\d{2}  GET /v3/p/failed-tasks\\?limit=1  401  \\d+\\.\\d ms  ${id}\\r?$`, 'm'));
      assert.doesNotMatch(demo.stdout(), /"msg":"request completed"/, 'no JSON request lines on a terminal');
    } finally {
      // The demo runs under script, which would leave it behind: stop it by its own pid first.
      if (pid !== undefined) process.kill(pid, 'SIGTERM');
      await demo.stop();
    }
  });
});

for (const engine of engines) {
  describe(`taskcenter demo on a database of its own [${engine}]`, () => {
    // A demo that does not refuse serves forever: the timeout turns that into a failure.
    it('recreates its own data at every start, and refuses a database holding another project, changing nothing', { timeout: 120_000 }, async (t) => {
      if (engine === 'postgres') {
        const problem = await postgresProblem();
        if (problem !== null) return t.skip(problem);
      }
      const database = await freshDatabase(engine);
      const args = ['demo', '--port', '0', '--db', database.url, '--credentials', join(dir, `demo-own-${engine}.json`)];
      try {
        const counts: string[] = [];
        for (let round = 0; round < 2; round++) {
          const demo = startTaskcenter(args);
          try {
            counts.push((await demo.waitFor(/, (\d+) demo jobs/))[1] ?? '');
            await demo.waitFor(/Ctrl-C stops it/);
          } finally {
            assert.equal(await demo.stop(), 0, demo.stderr());
          }
        }
        assert.equal(counts[1], counts[0], 'the second start recreated the same demo jobs');

        const seeded = await taskcenter(['seed', '--db', database.url, '--projects', '1', '--jobs', '3']);
        assert.equal(seeded.code, 0, seeded.stderr);
        const refused = await taskcenter(args);
        assert.equal(refused.code, 1);
        assert.match(refused.stderr, /holds jobs of projects other than the demo's \(seed-000000\); the demo only recreates a database of its own/);
        const again = await taskcenter(['seed', '--db', database.url, '--projects', '1', '--jobs', '3']);
        assert.match(again.stdout, /0 jobs added, 3 already there/, 'the seeded jobs are still there');
      } finally {
        await database.drop();
      }
    });
  });
}
