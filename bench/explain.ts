/**
 * The query plans and page latencies of the public lists, on a real database:
 *
 *   node dist/bench/explain.js --db <url> [--runs 300]
 *
 * Runs each list through its real route (app.inject, --auth none), records the exact SQL
 * each one sends (by watching the driver), prints that SQL with its plan (EXPLAIN QUERY
 * PLAN on SQLite; EXPLAIN (ANALYZE, BUFFERS, COSTS OFF) on PostgreSQL), then times the
 * route: median and p95 over --runs requests, with no list pages kept (--list-cache-mb 0),
 * so every request reads the store. The project is the one with the most
 * protection-group-level failures; the KPS project the one with the most failed tasks.
 */
import { parseArgs } from 'node:util';
import SQLite from 'better-sqlite3';
import pg from 'pg';
import { sql } from 'kysely';
import { buildApp } from '../src/app.js';
import { loadConfig } from '../src/config.js';
import { createContext } from '../src/context.js';

const { values: flags } = parseArgs({ options: { db: { type: 'string' }, runs: { type: 'string', default: '300' } } });
if (flags.db === undefined) throw new Error('usage: node dist/bench/explain.js --db <url> [--runs N]');
const runs = Number(flags.runs);

interface Captured {
  text: string;
  values: unknown[];
}
let captured: Captured[] = [];

// Watch the drivers: every statement the lists send, exactly as sent.
const sqlitePrepare = SQLite.prototype.prepare;
SQLite.prototype.prepare = function (this: SQLite.Database, source: string) {
  const statement = sqlitePrepare.call(this, source) as SQLite.Statement;
  for (const method of ['all', 'get', 'run', 'iterate', 'raw'] as const) {
    const original = statement[method] as (...args: unknown[]) => unknown;
    (statement as unknown as Record<string, unknown>)[method] = function (this: unknown, ...args: unknown[]) {
      if (method !== 'raw') captured.push({ text: source, values: args });
      return original.apply(this, args);
    };
  }
  return statement;
} as typeof SQLite.prototype.prepare;
const pgQuery = pg.Client.prototype.query;
pg.Client.prototype.query = function (this: pg.Client, ...args: unknown[]) {
  const [config, values] = args as [string | { text: string; values?: unknown[] }, unknown[] | undefined];
  const text = typeof config === 'string' ? config : config.text;
  captured.push({ text, values: (typeof config === 'string' ? values : config.values) ?? [] });
  return (pgQuery as (...a: unknown[]) => unknown).apply(this, args);
} as typeof pgQuery;

const config = loadConfig({ db: flags.db, auth: 'none', logLevel: 'silent', listCacheMb: '0' }, {});
const ctx = await createContext(config);
const app = await buildApp(ctx);
await app.ready();

const top = async (list: string) =>
  (
    await sql<{ project_id: string; n: number | string }>`
      select project_id, count(*) as n from jobs where list = ${list} and (${list} <> 'sdrs' or resource_type = 'server_groups')
      group by project_id order by n desc limit 1`.execute(ctx.db.kysely)
  ).rows[0];
const sdrs = await top('sdrs');
const kps = await top('kps_failed');
const group = (
  await sql<{ server_group_id: string; n: number | string }>`
    select server_group_id, count(*) as n from jobs where list = 'sdrs' and project_id = ${sdrs?.project_id ?? ''} and resource_type <> 'server_groups'
    group by server_group_id order by n desc limit 1`.execute(ctx.db.kysely)
).rows[0];
// The newest group-level failure's name, `erp-prod-pg137` as the seed generator names groups:
// its last five characters match that group (`pg137`), its first eight its application and environment.
const newest =
  (
    await sql<{ resource_name: string | null }>`
    select resource_name from jobs where list = 'sdrs' and project_id = ${sdrs?.project_id ?? ''} and resource_type = 'server_groups'
    order by begin_time desc, job_id desc limit 1`.execute(ctx.db.kysely)
  ).rows[0]?.resource_name ?? 'none';
const one = newest.slice(-5);
const pair = newest.slice(0, 8);
const matching = async (text: string) =>
  Number(
    (
      await sql<{ n: number | string }>`
        select count(*) as n from jobs where list = 'sdrs' and project_id = ${sdrs?.project_id ?? ''} and resource_type = 'server_groups'
        and ${ctx.db.engine === 'sqlite' ? sql`instr` : sql`strpos`}(resource_name, ${text}) > 0`.execute(ctx.db.kysely)
    ).rows[0]?.n,
  );
const total = (await sql<{ n: number | string }>`select count(*) as n from jobs`.execute(ctx.db.kysely)).rows[0]?.n;
console.log(`# ${ctx.db.engine}, ${Number(total).toLocaleString('en-US')} jobs`);
console.log(`SDRS project ${sdrs?.project_id}: ${sdrs?.n} protection-group-level failures; group ${group?.server_group_id}: ${group?.n} failures inside it`);
console.log(`KPS project ${kps?.project_id}: ${kps?.n} failed tasks\n`);

const p = sdrs?.project_id ?? 'none';
const names = { one: await matching(one), pair: await matching(pair), short: await matching('pg') };
const k = kps?.project_id ?? 'none';
const routes = [
  ['SDRS default scope, limit 100, offset 0', `/v1/${p}/task-center/failure-jobs?limit=100`],
  ['SDRS default scope, limit 100, offset 10000', `/v1/${p}/task-center/failure-jobs?limit=100&offset=10000`],
  ['SDRS one group, limit 100, offset 0', `/v1/${p}/task-center/failure-jobs?server_group_id=${group?.server_group_id}&limit=100`],
  ['SDRS failure_status filter, limit 100', `/v1/${p}/task-center/failure-jobs?failure_status=createFail&limit=100`],
  // A name filter counts its rows: from the trigram index with three letters or digits in a row, else over the scope.
  [
    `SDRS resource_name=${one} (one group's name, ${names.one} failures), limit 100`,
    `/v1/${p}/task-center/failure-jobs?resource_name=${encodeURIComponent(one)}&limit=100`,
  ],
  [`SDRS resource_name=${pair} (${names.pair} failures), limit 100`, `/v1/${p}/task-center/failure-jobs?resource_name=${encodeURIComponent(pair)}&limit=100`],
  [
    `SDRS resource_name=pg (no trigram: read over the scope, ${names.short} failures), limit 100`,
    `/v1/${p}/task-center/failure-jobs?resource_name=pg&limit=100`,
  ],
  ['KPS failed-tasks, limit 100, offset 0', `/v3/${k}/failed-tasks?limit=100`],
  ['KPS failed-tasks, limit 100, offset 10000', `/v3/${k}/failed-tasks?limit=100&offset=10000`],
  ['KPS running-tasks, limit 100, offset 0', `/v3/${k}/running-tasks?limit=100`],
] as const;

async function explain(query: Captured): Promise<string> {
  if (ctx.db.engine === 'sqlite') {
    const file = new SQLite(flags.db!.slice('sqlite:'.length), { readonly: true });
    try {
      const rows = file.prepare(`explain query plan ${query.text}`).all(...(query.values as unknown[][]).flat()) as {
        id: number;
        parent: number;
        detail: string;
      }[];
      const depth = new Map<number, number>([[0, 0]]);
      return rows
        .map((r) => {
          const d = (depth.get(r.parent) ?? 0) + 1;
          depth.set(r.id, d);
          return '  '.repeat(d - 1) + r.detail;
        })
        .join('\n');
    } finally {
      file.close();
    }
  }
  const client = new pg.Client({ connectionString: flags.db });
  await client.connect();
  try {
    const run = pgQuery as unknown as (this: pg.Client, text: string, values: unknown[]) => Promise<pg.QueryResult<{ 'QUERY PLAN': string }>>;
    const result = await run.call(client, `explain (analyze, buffers, costs off) ${query.text}`, query.values);
    return result.rows.map((r) => r['QUERY PLAN']).join('\n');
  } finally {
    await client.end();
  }
}

const timings: string[] = [];
for (const [name, url] of routes) {
  captured = [];
  const response = await app.inject({ url });
  const statements = captured.filter((q) => !/^(begin|commit|rollback|select 1)/i.test(q.text.trim()));
  console.log(`## ${name}\nGET ${url} -> ${response.statusCode}, ${response.body.length} bytes\n`);
  for (const statement of statements) {
    console.log('```sql\n' + statement.text + '\n-- values ' + JSON.stringify(statement.values) + '\n```');
    console.log('```\n' + (await explain(statement)) + '\n```\n');
  }
  const samples: number[] = [];
  for (let i = 0; i < runs; i++) {
    const started = process.hrtime.bigint();
    await app.inject({ url });
    samples.push(Number(process.hrtime.bigint() - started) / 1e6);
  }
  samples.sort((a, b) => a - b);
  const at = (q: number) => samples[Math.min(samples.length - 1, Math.floor(q * samples.length))]?.toFixed(2);
  timings.push(`| ${name} | ${at(0.5)} | ${at(0.95)} |`);
}
console.log(`## Latency through the route (app.inject, ${runs} requests each, ms)\n\n| request | median | p95 |\n|---|---|---|\n${timings.join('\n')}`);
await app.close();
await ctx.close();
