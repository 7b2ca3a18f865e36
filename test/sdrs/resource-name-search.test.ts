/**
 * The `resource_name` filter against an oracle, on both engines: every answer (items and
 * count) equals a plain substring search over the names in memory, whether the text is
 * looked up in the trigram index (three letters or digits in a row) or read from the
 * scope's rows (shorter text, or text of punctuation), with `%`, `_`, `\`, `"`, case and
 * characters beyond ASCII. The index follows every write: failures entering the list,
 * renamed, cleared one by one and by scope, and a project deleted; on SQLite its FTS5
 * table passes its integrity check against the rows after each.
 */
import assert from 'node:assert/strict';
import { it } from 'node:test';
import { Random } from '../../src/cli/random.js';
import { checkNameIndex, trigramSearchable } from '../../src/db/name-search.js';
import { inTransaction } from '../../src/db/database.js';
import { checkListings } from '../../src/jobs/listing-check.js';
import { describeEachEngine, reportJobs, sdrsJob, timeAt, TOKENS, uniqueId, type TestServer } from '../helpers.js';

/** Letters of both cases, digits, LIKE's wildcards and escape, a quote, and letters beyond ASCII (one outside the BMP). */
const ALPHABET = ['a', 'b', 'c', 'A', 'B', '1', '2', '%', '_', '\\', '"', ' ', '-', 'é', '数', '据', '😀'];

function groupFailure(id: string, name: string, n: number, extra: Record<string, unknown> = {}): Record<string, unknown> {
  return sdrsJob({
    job_id: id,
    job_type: 'createServerGroup',
    begin_time: timeAt(n),
    end_time: timeAt(n + 1),
    resource: { id: `g-${id}`, name, type: 'server_groups' },
    server_group_id: null,
    entities: {},
    ...extra,
  });
}

function randomName(rng: Random): string {
  // Mostly letters and digits, so that many names have trigram runs to look up.
  return Array.from({ length: rng.int(1, 9) }, () => (rng.chance(0.6) ? rng.pick(ALPHABET.slice(0, 7)) : rng.pick(ALPHABET))).join('');
}

interface Listed {
  id: string;
  name: string;
  n: number;
}

/** What the list must answer for `text`: the listed names that contain it, newest first. */
function expected(listed: Iterable<Listed>, text: string): string[] {
  return [...listed]
    .filter((job) => job.name.includes(text))
    .sort((a, b) => b.n - a.n)
    .map((job) => job.id);
}

async function search(server: TestServer, project: string, text: string, limit = 1000): Promise<{ ids: string[]; count: number }> {
  const response = await server.app.inject({
    url: `/v1/${project}/task-center/failure-jobs?resource_name=${encodeURIComponent(text)}&limit=${limit}`,
    headers: { 'x-auth-token': TOKENS.admin },
  });
  assert.equal(response.statusCode, 200, response.body);
  const body = response.json() as { failure_jobs: { job_id: string }[]; count: number };
  return { ids: body.failure_jobs.map((j) => j.job_id), count: body.count };
}

/** Texts to look for: substrings of the listed names (1 to 5 code points), and a few that match nothing. */
function probes(rng: Random, names: readonly string[]): string[] {
  const texts = new Set(['zzz', 'AAAA', '%%%', '\\\\', '数据数据', 'a%', '_b', '"a']);
  for (let i = 0; i < 80; i++) {
    const chars = [...rng.pick(names)];
    const start = rng.int(0, chars.length - 1);
    texts.add(chars.slice(start, start + rng.int(1, 5)).join(''));
  }
  return [...texts];
}

async function assertAnswers(server: TestServer, project: string, listed: Map<string, Listed>, texts: readonly string[]): Promise<void> {
  for (const text of texts) {
    const want = expected(listed.values(), text);
    const got = await search(server, project, text);
    assert.deepEqual(got, { ids: want, count: want.length }, `resource_name=${JSON.stringify(text)}`);
    // A page shorter than the matches still counts them all.
    const page = await search(server, project, text, 2);
    assert.deepEqual(page, { ids: want.slice(0, 2), count: want.length }, `resource_name=${JSON.stringify(text)}&limit=2`);
  }
}

describeEachEngine('SDRS ListFailureJobs: resource_name against an oracle', (server) => {
  const project = uniqueId('names');
  const other = uniqueId('names');
  const rng = new Random('resource-name-search');
  const listed = new Map<string, Listed>();
  /** The other project's failures: the first names, never changed. */
  const originals = new Map<string, Listed>();
  let texts: string[] = [];

  it('answers every substring exactly, indexed or read, on 150 failures among another project with the same names', async () => {
    const jobs: Record<string, unknown>[] = [];
    for (let n = 0; n < 150; n++) {
      const job = { id: `f-${String(n).padStart(3, '0')}`, name: randomName(rng), n };
      listed.set(job.id, job);
      originals.set(job.id, job);
      jobs.push(groupFailure(job.id, job.name, n));
    }
    await reportJobs(server().app, project, jobs);
    // The same names in another project: the index must keep projects apart.
    await reportJobs(server().app, other, jobs);
    texts = probes(
      rng,
      [...listed.values()].map((j) => j.name),
    );
    assert.ok(texts.some(trigramSearchable) && texts.some((t) => !trigramSearchable(t)), 'both ways of answering are exercised');
    await assertAnswers(server(), project, listed, texts);
    assert.equal(await checkNameIndex(server().ctx.db), true);
  });

  it('follows failures that enter the list, are renamed, or are cleared one by one', async () => {
    // Running jobs are not listed; then they fail under another name.
    const running = Array.from({ length: 10 }, (_, i) => ({ id: `r-${i}`, name: `run-${randomName(rng)}`, n: 200 + i }));
    await reportJobs(
      server().app,
      project,
      running.map((j) => groupFailure(j.id, j.name, j.n, { status: 'RUNNING', end_time: null, error_code: null, fail_reason: null })),
    );
    await assertAnswers(server(), project, listed, ['run', ...texts.slice(0, 10)]);
    for (const job of running) {
      const failed = { ...job, name: `fail-${randomName(rng)}` };
      const response = await server().app.inject({
        method: 'PUT',
        url: `/taskcenter/v1/projects/${project}/jobs/${job.id}`,
        headers: { 'x-auth-token': TOKENS.admin },
        payload: groupFailure(job.id, failed.name, job.n),
      });
      assert.equal(response.statusCode, 200, response.body);
      listed.set(job.id, failed);
    }
    for (const id of ['f-000', 'f-007', 'f-042', 'r-3']) {
      const response = await server().app.inject({
        method: 'DELETE',
        url: `/v1/${project}/task-center/failure-jobs/${id}`,
        headers: { 'x-auth-token': TOKENS.admin },
      });
      assert.equal(response.statusCode, 204, response.body);
      listed.delete(id);
    }
    await assertAnswers(server(), project, listed, ['run', 'fail', 'fail-', ...texts]);
    assert.equal(await checkNameIndex(server().ctx.db), true);
  });

  it('follows a scope cleared at once and a project deleted, leaving the other project answered', async () => {
    const response = await server().app.inject({
      method: 'DELETE',
      url: `/v1/${project}/task-center/failure-jobs/batch`,
      headers: { 'x-auth-token': TOKENS.admin },
    });
    assert.equal(response.statusCode, 204, response.body);
    await assertAnswers(server(), project, new Map(), texts.slice(0, 20));
    assert.equal(await checkNameIndex(server().ctx.db), true);

    await assertAnswers(server(), other, originals, texts);

    await inTransaction(server().ctx.db, (tx) => server().ctx.writer.delete(tx, { projectId: other }));
    await assertAnswers(server(), other, new Map(), texts.slice(0, 10));
    assert.equal(await checkNameIndex(server().ctx.db), true);
    const report = await checkListings(server().ctx.db, server().ctx.writer.listings);
    assert.equal(report.drifts, 0, JSON.stringify(report.first));
  });
});
