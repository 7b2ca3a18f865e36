/**
 * One job (ShowJobStatus): status, begin and end, duration, error, entities, and its
 * sub-jobs as a timeline. The producer read adds the resource, and is what shows a KPS
 * task (ShowJobStatus speaks SDRS only), with its ListKeypairTask state. A job that has
 * not finished is read again every few seconds.
 */
import { Fragment } from 'preact';
import { seg, type RequestFailed } from '../api.js';
import { ErrorBox, PageTitle, StatusBadge, Time } from '../components.js';
import { duration } from '../format.js';
import { POLL_MS, useRead } from '../hooks.js';
import { useI18n, type MessageKey } from '../i18n.js';
import { projectPath } from '../router.js';
import { useSession } from '../session.js';
import type { Entities, JobStatusView, KeypairTask, StoredJob, SubJob } from '../types.js';

const ENTITY_KEYS: readonly (keyof Entities)[] = [
  'server_group_id',
  'protected_instance_id',
  'replication_pair_id',
  'volume_ids',
  'native_server_id',
  'nic_id',
];

/** Milliseconds from begin to end, or to now while running. */
function elapsed(begin: string, end: string | null): number {
  return (end === null ? Date.now() : Date.parse(end)) - Date.parse(begin);
}

export function Job({ project, jobId }: { project: string; jobId: string }) {
  const { t, locale } = useI18n();
  const session = useSession();
  const readsSdrs = session.can('sdrs:jobs:get');
  const readsStored = session.can('taskcenter:jobs:read');
  const sdrs = useRead<JobStatusView>(readsSdrs ? `/v1/${seg(project)}/jobs/${seg(jobId)}` : null, { everyMs: POLL_MS });
  const stored = useRead<StoredJob>(readsStored ? `/taskcenter/v1/projects/${seg(project)}/jobs/${seg(jobId)}` : null, { everyMs: POLL_MS });
  const isKps = stored.data?.service === 'kps';
  const task = useRead<KeypairTask>(isKps && session.can('kps::getTask') ? `/v3/${seg(project)}/tasks/${seg(jobId)}` : null, { everyMs: POLL_MS });

  const job: SubJob | undefined = sdrs.data ?? stored.data;
  // ShowJobStatus answers 404 for a KPS task; the producer read shows it instead.
  const sdrsMissing = sdrs.error?.error?.status === 404;
  const error: RequestFailed | null = job === undefined ? ((sdrsMissing ? stored.error : sdrs.error) ?? stored.error ?? sdrs.error) : null;
  const title = t('job.title', { id: jobId });
  const subJobs = sdrs.data?.entities.sub_jobs ?? [];
  const entities = { ...(stored.data?.entities ?? {}), ...(sdrs.data?.entities ?? {}) };

  return (
    <section>
      <PageTitle title={title}>
        {t('job.heading')} <span class="mono">{jobId}</span>
      </PageTitle>
      {!readsSdrs && !readsStored && <p>{t('job.noAccess')}</p>}
      {error && <ErrorBox error={error} />}
      {job === undefined && error === null && (readsSdrs || readsStored) && <p class="muted">{t('state.loading')}</p>}
      {job !== undefined && (
        <>
          <dl class="facts">
            <dt>{t('field.jobType')}</dt>
            <dd>{job.job_type}</dd>
            <dt>{t('field.status')}</dt>
            <dd>
              <StatusBadge status={job.status} />
              {stored.data?.failure_cleared && <span class="sub"> {t('job.cleared')}</span>}
            </dd>
            {stored.data && (
              <>
                <dt>{t('field.service')}</dt>
                <dd>{stored.data.service === 'sdrs' ? t('service.sdrs') : t('service.kps')}</dd>
              </>
            )}
            <dt>{t('field.beginTime')}</dt>
            <dd>
              <Time iso={job.begin_time} />
            </dd>
            <dt>{t('field.endTime')}</dt>
            <dd>
              <Time iso={job.end_time} />
            </dd>
            <dt>{t('field.duration')}</dt>
            <dd>
              {duration(elapsed(job.begin_time, job.end_time), locale)}
              {job.end_time === null && <span class="sub"> {t('job.stillRunning')}</span>}
            </dd>
            {job.status === 'FAIL' && (
              <>
                <dt>{t('field.errorCode')}</dt>
                <dd>
                  <code>{job.error_code ?? '—'}</code>
                </dd>
                <dt>{t('field.failReason')}</dt>
                <dd class="wrap">{job.fail_reason ?? '—'}</dd>
              </>
            )}
            {stored.data?.resource && (
              <>
                <dt>{t('field.resource')}</dt>
                <dd>
                  <span class="wrap">{stored.data.resource.name}</span>{' '}
                  <span class="sub">
                    {stored.data.resource.type in RESOURCE_TYPE_KEYS ? t(RESOURCE_TYPE_KEYS[stored.data.resource.type]!) : stored.data.resource.type} ·{' '}
                    <span class="mono">{stored.data.resource.id}</span>
                  </span>
                </dd>
              </>
            )}
            {stored.data?.server && (
              <>
                <dt>{t('field.server')}</dt>
                <dd>
                  <span class="wrap">{stored.data.server.name}</span> <span class="sub mono">{stored.data.server.id}</span>
                </dd>
                <dt>{t('field.keypairName')}</dt>
                <dd class="wrap">{stored.data.keypair_name ?? '—'}</dd>
              </>
            )}
            {task.data && (
              <>
                <dt>{t('field.taskStatus')}</dt>
                <dd class="mono">{task.data.task_status}</dd>
              </>
            )}
            {stored.data?.parent_job_id && (
              <>
                <dt>{t('field.parentJob')}</dt>
                <dd>
                  <a class="mono" href={projectPath(project, `jobs/${encodeURIComponent(stored.data.parent_job_id)}`)}>
                    {stored.data.parent_job_id}
                  </a>
                </dd>
              </>
            )}
          </dl>

          <h2>{t('job.entities')}</h2>
          {ENTITY_KEYS.some((key) => entities[key] !== undefined) ? (
            <dl class="facts">
              {ENTITY_KEYS.filter((key) => entities[key] !== undefined).map((key) => (
                <Fragment key={key}>
                  <dt class="mono">{key}</dt>
                  <dd class="mono wrap">{entities[key]}</dd>
                </Fragment>
              ))}
            </dl>
          ) : (
            <p class="muted">{t('job.noEntities')}</p>
          )}

          {sdrs.data && (
            <>
              <h2>{t('job.subJobs', { n: subJobs.length })}</h2>
              {subJobs.length === 0 ? <p class="muted">{t('job.noSubJobs')}</p> : <Timeline parent={sdrs.data} subJobs={subJobs} project={project} />}
            </>
          )}
        </>
      )}
    </section>
  );
}

const RESOURCE_TYPE_KEYS: Readonly<Record<string, MessageKey>> = {
  server_groups: 'resourceType.server_groups',
  protected_instances: 'resourceType.protected_instances',
  replications: 'resourceType.replications',
  disaster_recovery_drills: 'resourceType.disaster_recovery_drills',
};

/** Sub-jobs as bars from begin to end on the parent's time axis, coloured and labelled by status. */
function Timeline({ parent, subJobs, project }: { parent: SubJob; subJobs: readonly SubJob[]; project: string }) {
  const { t, locale } = useI18n();
  const start = Math.min(Date.parse(parent.begin_time), ...subJobs.map((job) => Date.parse(job.begin_time)));
  const ends = [parent, ...subJobs].map((job) => (job.end_time === null ? Date.now() : Date.parse(job.end_time)));
  const span = Math.max(1, Math.max(...ends) - start);
  return (
    <ol class="timeline" aria-label={t('job.timeline')}>
      {subJobs.map((job) => {
        const left = ((Date.parse(job.begin_time) - start) / span) * 100;
        const width = Math.max(0.8, (elapsed(job.begin_time, job.end_time) / span) * 100);
        return (
          <li key={job.job_id} class="timeline-row">
            <div class="timeline-label">
              <a href={projectPath(project, `jobs/${encodeURIComponent(job.job_id)}`)}>{job.job_type}</a> <span class="sub mono">{job.job_id}</span>
              <div class="sub">
                <StatusBadge status={job.status} /> {duration(elapsed(job.begin_time, job.end_time), locale)}
                {job.error_code && (
                  <>
                    {' '}
                    · <code>{job.error_code}</code>
                  </>
                )}
              </div>
            </div>
            <div class="timeline-track">
              <div
                class={`timeline-bar bar-${job.status.toLowerCase()}`}
                style={{ left: `${Math.min(left, 99.2)}%`, width: `${Math.min(width, 100 - Math.min(left, 99.2))}%` }}
                title={`${job.begin_time} → ${job.end_time ?? '…'}`}
              />
            </div>
          </li>
        );
      })}
    </ol>
  );
}
