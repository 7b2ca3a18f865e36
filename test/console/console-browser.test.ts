/**
 * The console in a real browser: Debian's Chromium driven by playwright-core, against a
 * listening server over each engine, filled with the demo's jobs. Signs in, filters and
 * pages, opens a job, clears, checks what a read-only principal sees, switches language,
 * watches a list update by itself over 304s. On SQLite it also saves a screenshot of
 * every view in both languages (test-output/console/) and runs axe-core on each.
 */
import assert from 'node:assert/strict';
import { mkdirSync } from 'node:fs';
import { createRequire } from 'node:module';
import { join } from 'node:path';
import { after, before, it } from 'node:test';
import { chromium, type Browser, type Page } from 'playwright-core';
import { demoJobs, type DemoHighlights } from '../../src/cli/demo-jobs.js';
import { REPO_ROOT } from '../cli-helpers.js';
import { createTestServer, engines, PROJECT_A, PROJECT_B, sdrsJob, timeAt, TOKENS, type TestServer } from '../helpers.js';
import { CHROMIUM, describeWithTools } from '../tools.js';

const SHOTS = join(REPO_ROOT, 'test-output', 'console');
const AXE = createRequire(import.meta.url).resolve('axe-core/axe.min.js');
/** How long a list may take to show a change: its polling period (3 s) and then some. */
const POLL_WAIT = 10_000;
/** Group-level failures added to the demo's in project B, so its SDRS list has more than one page of 20. */
const EXTRA_FAILURES = 25;

/** Debian's Chromium, headless, as every browser suite launches it. */
function launchChromium(): Promise<Browser> {
  return chromium.launch({ executablePath: CHROMIUM.command, args: ['--headless', '--no-sandbox', '--disable-gpu', '--disable-background-networking'] });
}

/** Asserts the list's total line says `n` failed tasks. */
async function total(page: Page, n: number): Promise<void> {
  await eventually(async () => assert.equal(await page.locator('.total').textContent(), `${n} failed task${n === 1 ? '' : 's'}`));
}

/** Resolves once `check` passes, retrying until `ms` have passed; rejects with its last error. */
async function eventually(check: () => Promise<void> | void, ms = 5000): Promise<void> {
  const deadline = Date.now() + ms;
  for (;;) {
    try {
      await check();
      return;
    } catch (error) {
      if (Date.now() > deadline) throw error;
      await new Promise((resolve) => setTimeout(resolve, 100));
    }
  }
}

for (const engine of engines) {
  describeWithTools(`Console in Chromium [${engine}]`, [CHROMIUM], () => {
    let server: TestServer;
    let browser: Browser;
    let base: string;
    let highlights: DemoHighlights;

    before(async () => {
      server = await createTestServer(engine);
      const demo = demoJobs(Date.now());
      highlights = { ...demo.highlights, projectId: PROJECT_A };
      // The demo's two projects become the test principals' projects.
      const rename = (project: string) => (project === demo.highlights.projectId ? PROJECT_A : PROJECT_B);
      const extra = Array.from({ length: EXTRA_FAILURES }, (_, i) =>
        sdrsJob({
          project_id: PROJECT_B,
          job_id: `extra-${String(i).padStart(2, '0')}`,
          job_type: 'createServerGroup',
          begin_time: timeAt(i),
          end_time: timeAt(i + 1),
          resource: { id: `extra-group-${i}`, name: `extra-pg-${i}`, type: 'server_groups' },
          server_group_id: undefined,
          entities: {},
        }),
      );
      const items = [...demo.items.map((item) => ({ ...item, project_id: rename(item.project_id) })), ...extra];
      for (let i = 0; i < items.length; i += 1000) {
        const outcomes = await server.ctx.jobs.reportBatch({ name: 'test', projects: ['*'], actions: ['*'] }, items.slice(i, i + 1000));
        assert.deepEqual(
          outcomes.filter((o) => o.result !== 'created'),
          [],
        );
      }
      base = await server.app.listen({ host: '127.0.0.1', port: 0 });
      browser = await launchChromium();
    });

    after(async () => {
      await browser?.close();
      await server?.close();
    });

    /** A fresh browser context (its own session storage), signed in with `token` unless null. */
    async function open(path: string, token: string | null = TOKENS.admin, options: { lang?: 'en' | 'zh'; bypassCSP?: boolean } = {}) {
      const context = await browser.newContext({ viewport: { width: 1366, height: 900 }, locale: 'en-US', bypassCSP: options.bypassCSP ?? false });
      await context.addInitScript(
        ([stored, lang]) => {
          const { sessionStorage, localStorage } = globalThis as any;
          if (stored !== null && sessionStorage.getItem('taskcenter.token') === null) sessionStorage.setItem('taskcenter.token', stored);
          if (localStorage.getItem('taskcenter.lang') === null) localStorage.setItem('taskcenter.lang', lang);
        },
        [token, options.lang ?? 'en'] as const,
      );
      const page = await context.newPage();
      const errors: string[] = [];
      page.on('pageerror', (error) => errors.push(error.message));
      await page.goto(base + path);
      return { context, page, errors };
    }

    async function api(url: string, token: string = TOKENS.admin) {
      const response = await server.app.inject({ method: 'GET', url, headers: { 'x-auth-token': token } });
      assert.equal(response.statusCode, 200, response.body);
      return response.json();
    }

    const sdrsPath = `/console/projects/${PROJECT_A}/sdrs-failures`;

    // First, while project A holds the demo's data as it comes.
    if (engine === 'sqlite') screenshotsAndAxe();

    it('signs in with a pasted token, kept in the tab and out of the URL', async () => {
      const { context, page, errors } = await open('/console/', null);
      try {
        await page.getByLabel('Token (X-Auth-Token)').fill('not-a-token');
        await page.getByRole('button', { name: 'Sign in' }).click();
        await page.getByText('APIGW.0301').waitFor();
        await page.getByLabel('Token (X-Auth-Token)').fill(TOKENS.admin);
        await page.getByRole('button', { name: 'Sign in' }).click();
        await page.getByRole('heading', { name: 'Projects' }).waitFor();
        await page.getByRole('link', { name: PROJECT_A }).waitFor();
        assert.ok(!page.url().includes(TOKENS.admin));
        assert.equal(await page.evaluate(() => (globalThis as any).sessionStorage.getItem('taskcenter.token')), TOKENS.admin);
        await page.getByText('Signed in as admin').waitFor();
        // A principal with one project goes straight to it.
        const alice = await open('/console/', TOKENS.alice);
        await alice.page.getByRole('heading', { name: 'Overview' }).waitFor();
        assert.equal(new URL(alice.page.url()).pathname, `/console/projects/${PROJECT_A}/overview`);
        await alice.context.close();
        assert.deepEqual(errors, []);
      } finally {
        await context.close();
      }
    });

    it('filters and pages the SDRS failures, each view opening from its URL', async () => {
      const { context, page, errors } = await open(`/console/projects/${PROJECT_B}/sdrs-failures`);
      try {
        const all = await api(`/v1/${PROJECT_B}/task-center/failure-jobs?limit=0`);
        assert.ok(all.count > 20, `${all.count} group-level failures`);
        await total(page, all.count);
        assert.equal(await page.locator('tbody tr').count(), 20);
        await page.getByText(`1–20 of ${all.count}`).waitFor();
        await page.getByRole('button', { name: 'Next' }).click();
        await page.getByText(`21–${Math.min(40, all.count)} of ${all.count}`).waitFor();
        assert.equal(new URL(page.url()).searchParams.get('offset'), '20');
        const second = await api(`/v1/${PROJECT_B}/task-center/failure-jobs?limit=20&offset=20`);
        assert.equal(await page.locator('tbody tr').first().locator('td').first().locator('.mono').textContent(), second.failure_jobs[0].job_id);

        // The rest filters project A, whose demo data has a group with failures inside.
        await page.goto(base + sdrsPath);

        await page.getByLabel('Resource type').selectOption('replications');
        const replications = await api(`/v1/${PROJECT_A}/task-center/failure-jobs?resource_type=replications&limit=0`);
        await total(page, replications.count);
        assert.equal(new URL(page.url()).searchParams.get('resource_type'), 'replications');
        assert.equal(new URL(page.url()).searchParams.get('offset'), null, 'a new filter starts at the first page');

        await page.getByLabel('Resource type').selectOption('');
        await page.getByLabel('Protection group ID').fill(highlights.groupWithFailures);
        await page.getByRole('button', { name: 'Apply' }).click();
        const inGroup = await api(`/v1/${PROJECT_A}/task-center/failure-jobs?server_group_id=${highlights.groupWithFailures}&limit=0`);
        assert.ok(inGroup.count > 0);
        await eventually(async () =>
          assert.match((await page.locator('.scope').textContent()) ?? '', new RegExp(`inside protection group ${highlights.groupWithFailures}`)),
        );
        await eventually(async () => assert.equal(await page.locator('tbody tr').count(), Math.min(20, inGroup.count)));

        await page.getByLabel('Failure status').selectOption('createFail');
        const created = await api(
          `/v1/${PROJECT_A}/task-center/failure-jobs?server_group_id=${highlights.groupWithFailures}&failure_status=createFail&limit=0`,
        );
        await eventually(async () => assert.equal(await page.locator('tbody tr').count(), created.count));

        // The URL reproduces the view: opened afresh, it shows the same.
        const again = await open(new URL(page.url()).pathname + new URL(page.url()).search);
        await eventually(async () => assert.equal(await again.page.locator('tbody tr').count(), created.count));
        await again.context.close();
        assert.deepEqual(errors, []);
      } finally {
        await context.close();
      }
    });

    it('opens a job from the list and shows its sub-jobs as a timeline', async () => {
      const { context, page, errors } = await open(sdrsPath + '?limit=100');
      try {
        await page.locator(`a[href$="/jobs/${highlights.failedJobWithSubJobs}"]`).click();
        await page.getByRole('heading', { name: `Job ${highlights.failedJobWithSubJobs}` }).waitFor();
        const job = await api(`/v1/${PROJECT_A}/jobs/${highlights.failedJobWithSubJobs}`);
        const subJobs = job.entities.sub_jobs as { job_id: string; status: string }[];
        assert.ok(subJobs.length > 0);
        await page.getByRole('heading', { name: `${subJobs.length} sub-job` }).waitFor();
        assert.equal(await page.locator('.timeline-row').count(), subJobs.length);
        for (const sub of subJobs) {
          assert.equal(await page.locator(`.timeline-row:has-text("${sub.job_id}") .bar-${sub.status.toLowerCase()}`).count(), 1, sub.job_id);
        }
        await page.getByText(job.error_code).first().waitFor();
        await page.getByText(job.fail_reason).first().waitFor();
        // The time is the viewer's; the UTC time is on hover.
        assert.equal(await page.locator('time').first().getAttribute('title'), job.begin_time);
        assert.deepEqual(errors, []);
      } finally {
        await context.close();
      }
    });

    it('clears one failure, then a group’s failures, saying how many first, and the lists and totals follow', async () => {
      const { context, page, errors } = await open(sdrsPath);
      try {
        const before = await api(`/v1/${PROJECT_A}/task-center/failure-jobs?limit=1`);
        const target = before.failure_jobs[0].job_id as string;
        await total(page, before.count);
        await page.getByRole('button', { name: `Clear failed task ${target}` }).click();
        const dialog = page.getByRole('dialog');
        await dialog.getByText(target).waitFor();
        await dialog.getByRole('button', { name: 'Clear' }).click();
        await page.getByText(`Cleared failed task ${target}.`).waitFor();
        await total(page, before.count - 1);
        assert.equal(await page.locator(`tbody >> text=${target}`).count(), 0);
        assert.equal((await api(`/v1/${PROJECT_A}/task-center/failure-jobs?limit=0`)).count, before.count - 1);

        const group = highlights.groupWithFailures;
        const inGroup = (await api(`/v1/${PROJECT_A}/task-center/failure-jobs?server_group_id=${group}&limit=0`)).count as number;
        await page.goto(`${base}${sdrsPath}?server_group_id=${group}&failure_status=createFail`);
        await page.getByRole('button', { name: `Clear all failures inside group ${group}` }).click();
        // The whole group's failures go, not only those the filter shows: the dialog counts them all.
        await dialog.getByText(`${inGroup} failure${inGroup === 1 ? '' : 's'} inside protection group ${group} will be cleared.`).waitFor();
        await dialog.getByRole('button', { name: `Clear ${inGroup}` }).click();
        await page.getByText(`Cleared ${inGroup} failed task`).waitFor();
        await page.getByText('No failed tasks here').waitFor();
        assert.equal((await api(`/v1/${PROJECT_A}/task-center/failure-jobs?server_group_id=${group}&limit=0`)).count, 0);
        assert.deepEqual(errors, []);
      } finally {
        await context.close();
      }
    });

    it('shows a read-only principal no clear buttons, and a clear forced anyway gets the 403 as the API gave it', async () => {
      const { context, page, errors } = await open(sdrsPath, TOKENS.reader);
      try {
        await page.locator('tbody tr').first().waitFor();
        assert.equal(await page.getByRole('button', { name: /^Clear/ }).count(), 0);
        await page.goto(`${base}/console/projects/${PROJECT_A}/kps-failed`);
        await page.locator('tbody tr').first().waitFor();
        assert.equal(await page.getByRole('button', { name: /^Clear/ }).count(), 0);

        // A console that believes the reader may delete (its rights changed since it looked):
        // the server still decides, and its answer is shown as it came.
        await context.route('**/taskcenter/v1/me', async (route) => {
          const response = await route.fetch();
          const me = await response.json();
          await route.fulfill({ response, json: { ...me, actions: [...me.actions, 'sdrs:failureJobs:delete'] } });
        });
        await page.goto(base + sdrsPath);
        const row = page.locator('tbody tr').first();
        const id = (await row.locator('td .mono').first().textContent()) ?? '';
        await row.getByRole('button', { name: 'Clear' }).click();
        await page.getByRole('dialog').getByRole('button', { name: 'Clear' }).click();
        const alert = page.getByRole('dialog').getByRole('alert');
        await alert.getByText('SDRS.0005').waitFor();
        await alert.getByText("principal 'reader' is not allowed to perform sdrs:failureJobs:delete").waitFor();
        assert.match((await alert.locator('.error-request code').textContent()) ?? '', /^[0-9a-f]{32}$/);
        await alert.getByText('The server answered 403').waitFor();
        await page.getByRole('dialog').getByRole('button', { name: 'Cancel' }).click();
        assert.equal(await page.locator(`tbody >> text=${id}`).count(), 1, 'the failure is still listed');
        assert.deepEqual(errors, []);
      } finally {
        await context.close();
      }
    });

    it('switches language, keeping the choice', async () => {
      const { context, page, errors } = await open(sdrsPath);
      try {
        await page.getByRole('heading', { name: 'SDRS failed tasks' }).waitFor();
        await page.getByLabel('Language').selectOption('zh');
        await page.getByRole('heading', { name: 'SDRS 失败任务' }).waitFor();
        await page.getByRole('link', { name: 'KPS 运行中任务' }).waitFor();
        await eventually(async () => assert.match((await page.locator('.scope').textContent()) ?? '', /^当前显示保护组层级的失败任务/));
        assert.equal(await page.evaluate(() => (globalThis as any).document.documentElement.lang), 'zh-CN');
        await page.reload();
        await page.getByRole('heading', { name: 'SDRS 失败任务' }).waitFor();
        assert.deepEqual(errors, []);
      } finally {
        await context.close();
      }
    });

    it('shows a failure reported through the producer API without a reload, asking with If-None-Match in between', async () => {
      const { context, page, errors } = await open(sdrsPath);
      try {
        const statuses: number[] = [];
        page.on('response', (response) => {
          if (response.url().includes('/task-center/failure-jobs')) statuses.push(response.status());
        });
        await page.locator('tbody tr').first().waitFor();
        await page.evaluate(() => ((globalThis as any).marker = 'same page'));
        // The list has not changed: the next poll is answered 304 and nothing moves.
        await eventually(() => assert.ok(statuses.includes(304), JSON.stringify(statuses)), POLL_WAIT);

        const id = `live-${engine}`;
        const reported = await server.app.inject({
          method: 'PUT',
          url: `/taskcenter/v1/projects/${PROJECT_A}/jobs/${id}`,
          headers: { 'x-auth-token': TOKENS.admin },
          payload: sdrsJob({
            job_id: id,
            job_type: 'createServerGroup',
            begin_time: new Date().toISOString(),
            end_time: new Date().toISOString(),
            resource: { id: 'live-group', name: 'live-pg', type: 'server_groups' },
            server_group_id: undefined,
            entities: {},
          }),
        });
        assert.equal(reported.statusCode, 201, reported.body);
        await page.locator(`tbody >> text=${id}`).waitFor({ timeout: POLL_WAIT });
        assert.equal(await page.evaluate(() => (globalThis as any).marker), 'same page', 'no reload');
        assert.ok(statuses.slice(statuses.indexOf(304)).includes(200), `a 200 after the 304s: ${JSON.stringify(statuses)}`);
        assert.deepEqual(errors, []);
      } finally {
        await context.close();
      }
    });

    it('says plainly when the server cannot be reached, and recovers by itself', async () => {
      const { context, page, errors } = await open(`/console/projects/${PROJECT_A}/kps-running`);
      try {
        await page.locator('tbody tr').first().waitFor();
        await context.route('**/v3/**', (route) => route.abort('connectionrefused'));
        await page.getByText('Cannot reach Task Center').waitFor({ timeout: POLL_WAIT });
        await context.unroute('**/v3/**');
        await page.getByText('Cannot reach Task Center').waitFor({ state: 'detached', timeout: POLL_WAIT });
        assert.deepEqual(errors, []);
      } finally {
        await context.close();
      }
    });

    it('can be used by keyboard: tab to a clear button, open it with Enter, leave with Escape', async () => {
      const { context, page } = await open(`/console/projects/${PROJECT_A}/kps-failed`);
      try {
        await page.locator('tbody tr').first().waitFor();
        let onClear = false;
        for (let i = 0; i < 60 && !onClear; i++) {
          await page.keyboard.press('Tab');
          onClear = await page.evaluate(() => (globalThis as any).document.activeElement?.getAttribute('aria-label')?.startsWith('Clear failed task') ?? false);
        }
        assert.ok(onClear, 'a clear button is reachable with Tab');
        await page.keyboard.press('Enter');
        await page.getByRole('dialog').waitFor();
        assert.equal(await page.evaluate(() => (globalThis as any).document.activeElement?.closest('dialog') != null), true, 'focus moves into the dialog');
        await page.keyboard.press('Escape');
        await page.getByRole('dialog').waitFor({ state: 'detached' });
      } finally {
        await context.close();
      }
    });

    /**
     * Every view in both languages: a screenshot each, and no serious or critical axe-core
     * finding (checked in English; the Chinese pages have the same structure and colours).
     */
    function screenshotsAndAxe(): void {
      it('saves a screenshot of every view in both languages, and axe-core finds nothing serious', async () => {
        mkdirSync(SHOTS, { recursive: true });
        const views: [name: string, path: string, ready: string][] = [
          ['projects', '/console/', '.project-list'],
          ['overview', `/console/projects/${PROJECT_A}/overview`, '.chart'],
          ['sdrs-failures', sdrsPath, 'tbody tr'],
          ['job', `/console/projects/${PROJECT_A}/jobs/${highlights.failedJobWithSubJobs}`, '.timeline-row'],
          ['kps-failed', `/console/projects/${PROJECT_A}/kps-failed`, 'tbody tr'],
          ['kps-running', `/console/projects/${PROJECT_A}/kps-running`, 'tbody tr'],
          ['jobs', `/console/projects/${PROJECT_A}/jobs`, 'tbody tr'],
        ];
        const findings: string[] = [];
        for (const lang of ['en', 'zh'] as const) {
          const signedOut = await open('/console/', null, { lang, bypassCSP: true });
          const signedIn = await open('/console/', TOKENS.admin, { lang, bypassCSP: true });
          try {
            const shoot = async (name: string, page: Page, ready: string) => {
              await page.locator(ready).first().waitFor();
              await page.screenshot({ path: join(SHOTS, `${name}.${lang}.png`), fullPage: true });
              if (lang === 'en') findings.push(...(await axeFindings(page)).map((finding) => `${name}: ${finding}`));
            };
            await shoot('sign-in', signedOut.page, '#token');
            for (const [name, path, ready] of views) {
              await signedIn.page.goto(base + path);
              await shoot(name, signedIn.page, ready);
            }
            assert.deepEqual([...signedOut.errors, ...signedIn.errors], [], lang);
          } finally {
            await signedOut.context.close();
            await signedIn.context.close();
          }
        }
        assert.deepEqual(findings, []);
      });
    }
  });
}

/** axe-core's serious and critical violations on the page, one line each. */
async function axeFindings(page: Page): Promise<string[]> {
  await page.addScriptTag({ path: AXE });
  const violations = await page.evaluate(async () => {
    const axe = (globalThis as unknown as { axe: { run(): Promise<{ violations: { id: string; impact: string; nodes: { target: string[] }[] }[] }> } }).axe;
    const { violations } = await axe.run();
    return violations.map((v) => ({ id: v.id, impact: v.impact, targets: v.nodes.map((n) => n.target.join(' ')).slice(0, 3) }));
  });
  return violations.filter((v) => v.impact === 'serious' || v.impact === 'critical').map((v) => `${v.impact} ${v.id} at ${v.targets.join(', ')}`);
}

describeWithTools('Console in Chromium, authentication off', [CHROMIUM], () => {
  it('needs no sign-in under --auth none, and says authentication is off', async () => {
    const server = await createTestServer('sqlite', { auth: 'none' });
    const browser = await launchChromium();
    try {
      await server.app.inject({
        method: 'PUT',
        url: `/taskcenter/v1/projects/${PROJECT_A}/jobs/open-1`,
        payload: sdrsJob({ job_id: 'open-1' }),
      });
      const base = await server.app.listen({ host: '127.0.0.1', port: 0 });
      const page = await browser.newPage();
      await page.goto(`${base}/console/`);
      await page.getByRole('link', { name: PROJECT_A }).waitFor();
      await page.getByText('Authentication is off on this server (--auth none)').waitFor();
      assert.equal(await page.locator('#token').count(), 0, 'no sign-in form');
      assert.equal(await page.getByRole('button', { name: 'Sign out' }).count(), 0);
    } finally {
      await browser.close();
      await server.close();
    }
  });
});
