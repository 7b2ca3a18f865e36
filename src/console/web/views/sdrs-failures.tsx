/**
 * SDRS failed tasks (ListFailureJobs): every filter of the API, the total and paging;
 * each row opens its job; clear one, all protection-group-level failures, or all inside
 * a group, each after saying how many will go. Refreshes by itself, asking with the
 * list's ETag so an unchanged list costs a 304.
 */
import { useState } from 'preact/hooks';
import { getJson, query, request, seg } from '../api.js';
import { ClearOneButton, ConfirmDialog, Empty, ErrorBox, Notice, PageTitle, Pager, Time } from '../components.js';
import { POLL_MS, useAction, useRead } from '../hooks.js';
import { useI18n, type MessageKey } from '../i18n.js';
import { jobPath, navigate, projectPath } from '../router.js';
import { useSession } from '../session.js';
import { FAILURE_STATUSES, RESOURCE_TYPES, type FailureJob, type FailureJobList, type ResourceType } from '../types.js';

const PAGE_SIZES = [20, 50, 100];

/** What a clear will take away, once its count is known. */
type Clearing =
  | { readonly kind: 'one'; readonly job: FailureJob }
  | { readonly kind: 'group-level'; readonly count: number }
  | { readonly kind: 'in-group'; readonly group: string; readonly count: number };

export function resourceTypeKey(type: ResourceType): MessageKey {
  return `resourceType.${type}`;
}

export function SdrsFailures({ project, params }: { project: string; params: URLSearchParams }) {
  const { t } = useI18n();
  const session = useSession();
  const filters = {
    failure_status: params.get('failure_status') ?? '',
    resource_type: params.get('resource_type') ?? '',
    server_group_id: params.get('server_group_id') ?? '',
    resource_name: params.get('resource_name') ?? '',
  };
  const limit = PAGE_SIZES.includes(Number(params.get('limit'))) ? Number(params.get('limit')) : PAGE_SIZES[0]!;
  const offset = Math.max(0, Math.floor(Number(params.get('offset')) || 0));
  const base = `/v1/${seg(project)}/task-center`;
  const list = useRead<FailureJobList>(`${base}/failure-jobs${query({ ...filters, limit, offset })}`, { everyMs: POLL_MS, conditional: true });
  const [clearing, setClearing] = useState<Clearing | null>(null);
  const [notice, setNotice] = useState('');
  const action = useAction();
  const mayClear = session.can('sdrs:failureJobs:delete');

  const show = (changes: Record<string, string | number | undefined>) => {
    const next = { ...filters, limit: limit === PAGE_SIZES[0] ? undefined : limit, offset: offset || undefined, ...changes };
    navigate(projectPath(project, 'sdrs-failures', query(next)));
  };
  const filter = (name: keyof typeof filters, value: string) => show({ [name]: value, offset: undefined });

  /** Counts what a batch clear will take (the whole scope, whatever narrows the view), then asks. */
  const askBatch = async (kind: 'group-level' | 'in-group') => {
    setNotice('');
    const group = filters.server_group_id;
    const scope = kind === 'group-level' ? query({ limit: 0 }) : query({ server_group_id: group, limit: 0 });
    const counted = await action.run(() => getJson<FailureJobList>(`${base}/failure-jobs${scope}`));
    if (counted === undefined) return;
    setClearing(kind === 'group-level' ? { kind, count: counted.count } : { kind, group, count: counted.count });
  };

  const clear = async (what: Clearing) => {
    const path =
      what.kind === 'one'
        ? `${base}/failure-jobs/${seg(what.job.job_id)}`
        : what.kind === 'group-level'
          ? `${base}/failure-jobs/batch`
          : `${base}/${seg(what.group)}/failure-jobs/batch`;
    const done = await action.run(() => request(path, { method: 'DELETE' }));
    if (done === undefined) return;
    setClearing(null);
    setNotice(what.kind === 'one' ? t('sdrs.cleared.one', { id: what.job.job_id }) : t('sdrs.cleared.many', { n: what.count }));
    list.refresh();
  };

  const scope = filters.resource_type
    ? filters.server_group_id
      ? t('sdrs.scope.typeInGroup', { type: t(resourceTypeKey(filters.resource_type as ResourceType)), group: filters.server_group_id })
      : t('sdrs.scope.type', { type: t(resourceTypeKey(filters.resource_type as ResourceType)) })
    : filters.server_group_id
      ? t('sdrs.scope.inGroup', { group: filters.server_group_id })
      : t('sdrs.scope.groupLevel');

  return (
    <section>
      <PageTitle title={t('sdrs.title')}>{t('sdrs.title')}</PageTitle>
      <form
        key={params.toString()}
        class="filters"
        aria-label={t('filters.label')}
        onSubmit={(event) => {
          event.preventDefault();
          const form = new FormData(event.currentTarget);
          show({
            server_group_id: String(form.get('server_group_id') ?? '').trim(),
            resource_name: String(form.get('resource_name') ?? ''),
            offset: undefined,
          });
        }}
      >
        <label>
          {t('field.failureStatus')}
          <select
            name="failure_status"
            value={filters.failure_status}
            onChange={(event) => filter('failure_status', (event.target as HTMLSelectElement).value)}
          >
            <option value="">{t('filters.any')}</option>
            {FAILURE_STATUSES.map((status) => (
              <option value={status}>{t(`failureStatus.${status}`)}</option>
            ))}
          </select>
        </label>
        <label>
          {t('field.resourceType')}
          <select name="resource_type" value={filters.resource_type} onChange={(event) => filter('resource_type', (event.target as HTMLSelectElement).value)}>
            <option value="">{t('filters.defaultScope')}</option>
            {RESOURCE_TYPES.map((type) => (
              <option value={type}>{t(resourceTypeKey(type))}</option>
            ))}
          </select>
        </label>
        <label>
          {t('field.serverGroupId')}
          <input name="server_group_id" defaultValue={filters.server_group_id} autoComplete="off" spellcheck={false} />
        </label>
        <label>
          {t('field.resourceName')}
          <input name="resource_name" defaultValue={filters.resource_name} autoComplete="off" />
        </label>
        <div class="filter-buttons">
          <button type="submit">{t('filters.apply')}</button>
          <button type="button" onClick={() => navigate(projectPath(project, 'sdrs-failures'))}>
            {t('filters.reset')}
          </button>
        </div>
      </form>
      <p class="scope">{scope}</p>

      {mayClear && (
        <div class="batch-actions">
          <button type="button" class="danger-outline" disabled={action.busy} onClick={() => void askBatch('group-level')}>
            {t('sdrs.clearGroupLevel')}
          </button>
          {filters.server_group_id !== '' && (
            <button type="button" class="danger-outline" disabled={action.busy} onClick={() => void askBatch('in-group')}>
              {t('sdrs.clearInGroup', { group: filters.server_group_id })}
            </button>
          )}
        </div>
      )}
      {notice && <Notice text={notice} />}
      {action.error && clearing === null && <ErrorBox error={action.error} onDismiss={action.clearError} />}
      {list.error && <ErrorBox error={list.error} />}

      {list.data && (
        <>
          <p class="total">
            <strong>{t('sdrs.total', { n: list.data.count })}</strong>
          </p>
          {list.data.failure_jobs.length === 0 ? (
            <Empty title={list.data.count === 0 ? t('sdrs.empty') : t('list.pastEnd')}>
              <p>{t('sdrs.emptyHelp')}</p>
            </Empty>
          ) : (
            <div class="table-wrap">
              <table>
                <caption class="visually-hidden">{scope}</caption>
                <thead>
                  <tr>
                    <th scope="col">{t('field.task')}</th>
                    <th scope="col">{t('field.resource')}</th>
                    <th scope="col">{t('field.failureStatus')}</th>
                    <th scope="col">{t('field.error')}</th>
                    <th scope="col">{t('field.beginTime')}</th>
                    <th scope="col">
                      <span class="visually-hidden">{t('field.actions')}</span>
                    </th>
                  </tr>
                </thead>
                <tbody>
                  {list.data.failure_jobs.map((job) => (
                    <tr key={job.job_id}>
                      <td>
                        <a href={jobPath(project, job.job_id)}>{job.job_type}</a>
                        <div class="sub mono">{job.job_id}</div>
                      </td>
                      <td>
                        <span class="wrap">{job.resource_name}</span>
                        <div class="sub">
                          {t(resourceTypeKey(job.resource_type))} · <span class="mono">{job.resource_id}</span>
                        </div>
                        {job.resource_type === 'server_groups' && (
                          <a class="more" href={projectPath(project, 'sdrs-failures', query({ server_group_id: job.resource_id }))}>
                            {t('sdrs.failuresInside')}
                          </a>
                        )}
                      </td>
                      <td>{t(`failureStatus.${job.failure_status}`)}</td>
                      <td class="error-cell">
                        <code>{job.error_code}</code>
                        <div class="reason" title={job.fail_reason}>
                          {job.fail_reason}
                        </div>
                      </td>
                      <td>
                        <Time iso={job.begin_time} />
                      </td>
                      <td>
                        {mayClear && (
                          <ClearOneButton
                            label={t('sdrs.clearOneLabel', { id: job.job_id })}
                            onClick={() => {
                              setNotice('');
                              action.clearError();
                              setClearing({ kind: 'one', job });
                            }}
                          />
                        )}
                      </td>
                    </tr>
                  ))}
                </tbody>
              </table>
            </div>
          )}
          <Pager
            offset={offset}
            limit={limit}
            total={list.data.count}
            onPage={(next) => show({ offset: next || undefined })}
            onLimit={(next) => show({ limit: next, offset: undefined })}
          />
        </>
      )}
      {list.loading && !list.data && <p class="muted">{t('state.loading')}</p>}

      {clearing && (
        <ConfirmDialog
          title={t('confirm.title')}
          message={
            clearing.kind === 'one'
              ? t('sdrs.confirm.one', { id: clearing.job.job_id, name: clearing.job.resource_name })
              : clearing.kind === 'group-level'
                ? t('sdrs.confirm.groupLevel', { n: clearing.count })
                : t('sdrs.confirm.inGroup', { n: clearing.count, group: clearing.group })
          }
          confirmLabel={clearing.kind === 'one' ? t('action.clear') : t('sdrs.confirm.clearN', { n: clearing.count })}
          busy={action.busy}
          error={action.error}
          onConfirm={() => void clear(clearing)}
          onCancel={() => {
            action.clearError();
            setClearing(null);
          }}
        />
      )}
    </section>
  );
}
