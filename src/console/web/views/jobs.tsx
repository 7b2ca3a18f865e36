/**
 * Every job of a project through the producer read API, filtered by service and status,
 * paged by marker (forward; "first page" goes back), refreshing by itself.
 */
import { query, seg } from '../api.js';
import { Empty, ErrorBox, PageTitle, StatusBadge, Time } from '../components.js';
import { POLL_MS, useRead } from '../hooks.js';
import { useI18n } from '../i18n.js';
import { jobPath, navigate, projectPath } from '../router.js';
import { JOB_STATUSES, type JobList } from '../types.js';

const LIMIT = 50;

export function Jobs({ project, params }: { project: string; params: URLSearchParams }) {
  const { t } = useI18n();
  const service = params.get('service') ?? '';
  const status = params.get('status') ?? '';
  const marker = params.get('marker') ?? '';
  const list = useRead<JobList>(`/taskcenter/v1/projects/${seg(project)}/jobs${query({ service, status, marker, limit: LIMIT })}`, { everyMs: POLL_MS });
  const show = (changes: Record<string, string | undefined>) => navigate(projectPath(project, 'jobs', query({ service, status, marker, ...changes })));
  const title = t('jobs.title');
  return (
    <section>
      <PageTitle title={title}>{title}</PageTitle>
      <form class="filters" aria-label={t('filters.label')} onSubmit={(event) => event.preventDefault()}>
        <label>
          {t('field.service')}
          <select value={service} onChange={(event) => show({ service: (event.target as HTMLSelectElement).value, marker: undefined })}>
            <option value="">{t('filters.any')}</option>
            <option value="sdrs">{t('service.sdrs')}</option>
            <option value="kps">{t('service.kps')}</option>
          </select>
        </label>
        <label>
          {t('field.status')}
          <select value={status} onChange={(event) => show({ status: (event.target as HTMLSelectElement).value, marker: undefined })}>
            <option value="">{t('filters.any')}</option>
            {JOB_STATUSES.map((s) => (
              <option value={s}>{t(`status.${s}`)}</option>
            ))}
          </select>
        </label>
      </form>
      <p class="scope">{t('jobs.order')}</p>
      {list.error && <ErrorBox error={list.error} />}
      {list.loading && !list.data && <p class="muted">{t('state.loading')}</p>}
      {list.data && list.data.jobs.length === 0 && (
        <Empty title={t('jobs.empty')}>
          <p>{t('jobs.emptyHelp', { project })}</p>
        </Empty>
      )}
      {list.data && list.data.jobs.length > 0 && (
        <div class="table-wrap">
          <table>
            <caption class="visually-hidden">{title}</caption>
            <thead>
              <tr>
                <th scope="col">{t('field.jobId')}</th>
                <th scope="col">{t('field.service')}</th>
                <th scope="col">{t('field.jobType')}</th>
                <th scope="col">{t('field.status')}</th>
                <th scope="col">{t('field.subject')}</th>
                <th scope="col">{t('field.beginTime')}</th>
                <th scope="col">{t('field.endTime')}</th>
              </tr>
            </thead>
            <tbody>
              {list.data.jobs.map((job) => (
                <tr key={job.job_id}>
                  <td>
                    <a class="mono" href={jobPath(project, job.job_id)}>
                      {job.job_id}
                    </a>
                    {job.parent_job_id && <div class="sub">{t('jobs.subJobOf', { id: job.parent_job_id })}</div>}
                  </td>
                  <td>{job.service === 'sdrs' ? t('service.sdrs') : t('service.kps')}</td>
                  <td>{job.job_type}</td>
                  <td>
                    <StatusBadge status={job.status} />
                    {job.failure_cleared && <div class="sub">{t('job.cleared')}</div>}
                  </td>
                  <td class="wrap">{job.resource?.name ?? job.server?.name ?? '—'}</td>
                  <td>
                    <Time iso={job.begin_time} />
                  </td>
                  <td>
                    <Time iso={job.end_time} />
                  </td>
                </tr>
              ))}
            </tbody>
          </table>
        </div>
      )}
      {list.data && (
        <nav class="pager" aria-label={t('pager.label')}>
          <button type="button" disabled={marker === ''} onClick={() => show({ marker: undefined })}>
            {t('pager.first')}
          </button>
          <button type="button" disabled={list.data.next_marker === null} onClick={() => show({ marker: list.data?.next_marker ?? undefined })}>
            {t('pager.next')}
          </button>
        </nav>
      )}
    </section>
  );
}
