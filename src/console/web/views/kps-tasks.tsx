/**
 * KPS key-pair tasks: the failed list (clear one, clear all) or the running list, both
 * refreshing by themselves with the list's ETag, and a lookup of one task's state
 * (ListKeypairTask).
 */
import { useState } from 'preact/hooks';
import { getJson, query, request, seg } from '../api.js';
import { ClearOneButton, ConfirmDialog, Empty, ErrorBox, Notice, PageTitle, Pager, Time } from '../components.js';
import { isoOfMillis } from '../format.js';
import { POLL_MS, useAction, useRead } from '../hooks.js';
import { useI18n, type I18n } from '../i18n.js';
import { navigate, projectPath } from '../router.js';
import { useSession } from '../session.js';
import type { KeypairTask, KpsTask, KpsTaskList } from '../types.js';

const PAGE_SIZES = [20, 50, 100];

type Clearing = { readonly kind: 'one'; readonly task: KpsTask } | { readonly kind: 'all'; readonly count: number };

/** `FAILED_RESET`, `RUNNING_REPLACE`, `SUCCESS_UNBIND`: the state (if any) and the operation, in words. */
function operateType(value: string, { t }: I18n): string {
  const [state, operation] = value.includes('_') ? (value.split('_', 2) as [string, string]) : ['', value];
  const op = { RESET: t('kps.op.reset'), REPLACE: t('kps.op.replace'), UNBIND: t('kps.op.unbind') }[operation] ?? operation;
  const stateWord = { FAILED: t('kps.state.failed'), RUNNING: t('kps.state.running'), READY: t('kps.state.ready'), SUCCESS: t('kps.state.success') }[state];
  return stateWord === undefined ? op : t('kps.stateOp', { state: stateWord, op });
}

export function KpsTasks({ project, kind, params }: { project: string; kind: 'failed' | 'running'; params: URLSearchParams }) {
  const i18n = useI18n();
  const { t } = i18n;
  const session = useSession();
  const limit = PAGE_SIZES.includes(Number(params.get('limit'))) ? Number(params.get('limit')) : PAGE_SIZES[0]!;
  const offset = Math.max(0, Math.floor(Number(params.get('offset')) || 0));
  const base = `/v3/${seg(project)}`;
  const listPath = `${base}/${kind === 'failed' ? 'failed-tasks' : 'running-tasks'}`;
  const list = useRead<KpsTaskList>(`${listPath}${query({ limit, offset })}`, { everyMs: POLL_MS, conditional: true });
  const [clearing, setClearing] = useState<Clearing | null>(null);
  const [notice, setNotice] = useState('');
  const action = useAction();
  const mayClear = kind === 'failed' && session.can('kps::deleteFailedTask');
  const view = kind === 'failed' ? 'kps-failed' : 'kps-running';
  const title = kind === 'failed' ? t('kps.failed.title') : t('kps.running.title');

  const show = (changes: Record<string, number | undefined>) =>
    navigate(projectPath(project, view, query({ limit: limit === PAGE_SIZES[0] ? undefined : limit, offset: offset || undefined, ...changes })));

  const askAll = async () => {
    setNotice('');
    const counted = await action.run(() => getJson<KpsTaskList>(`${base}/failed-tasks${query({ limit: 0 })}`));
    if (counted !== undefined) setClearing({ kind: 'all', count: counted.total });
  };

  const clear = async (what: Clearing) => {
    const path = what.kind === 'one' ? `${base}/failed-tasks/${seg(what.task.task_id)}` : `${base}/failed-tasks`;
    if ((await action.run(() => request(path, { method: 'DELETE' }))) === undefined) return;
    setClearing(null);
    setNotice(what.kind === 'one' ? t('kps.cleared.one', { id: what.task.task_id }) : t('kps.cleared.many', { n: what.count }));
    list.refresh();
  };

  return (
    <section>
      <PageTitle title={title}>{title}</PageTitle>
      {session.can('kps::getTask') && <TaskLookup project={project} />}
      {mayClear && (
        <div class="batch-actions">
          <button type="button" class="danger-outline" disabled={action.busy} onClick={() => void askAll()}>
            {t('kps.clearAll')}
          </button>
        </div>
      )}
      {notice && <Notice text={notice} />}
      {action.error && clearing === null && <ErrorBox error={action.error} onDismiss={action.clearError} />}
      {list.error && <ErrorBox error={list.error} />}
      {list.data && (
        <>
          <p class="total">
            <strong>{kind === 'failed' ? t('kps.failed.total', { n: list.data.total }) : t('kps.running.total', { n: list.data.total })}</strong>
          </p>
          {list.data.tasks.length === 0 ? (
            <Empty title={list.data.total > 0 ? t('list.pastEnd') : kind === 'failed' ? t('kps.failed.empty') : t('kps.running.empty')}>
              <p>{t('kps.emptyHelp')}</p>
            </Empty>
          ) : (
            <div class="table-wrap">
              <table>
                <caption class="visually-hidden">{title}</caption>
                <thead>
                  <tr>
                    <th scope="col">{t('field.taskId')}</th>
                    <th scope="col">{t('field.operateType')}</th>
                    <th scope="col">{t('field.server')}</th>
                    <th scope="col">{t('field.keypairName')}</th>
                    {kind === 'failed' && <th scope="col">{t('field.error')}</th>}
                    <th scope="col">{t('field.taskTime')}</th>
                    {mayClear && (
                      <th scope="col">
                        <span class="visually-hidden">{t('field.actions')}</span>
                      </th>
                    )}
                  </tr>
                </thead>
                <tbody>
                  {list.data.tasks.map((task) => (
                    <tr key={task.task_id}>
                      <td class="mono">{task.task_id}</td>
                      <td>{operateType(task.operate_type, i18n)}</td>
                      <td>
                        <span class="wrap">{task.server_name}</span>
                        <div class="sub mono">{task.server_id}</div>
                      </td>
                      <td class="nowrap">{task.keypair_name}</td>
                      {kind === 'failed' && (
                        <td class="error-cell">
                          {task.task_error_code && <code>{task.task_error_code}</code>}
                          <div class="reason" title={task.task_error_msg}>
                            {task.task_error_msg}
                          </div>
                        </td>
                      )}
                      <td>
                        <Time iso={isoOfMillis(task.task_time)} />
                      </td>
                      {mayClear && (
                        <td>
                          <ClearOneButton
                            label={t('kps.clearOneLabel', { id: task.task_id })}
                            onClick={() => {
                              setNotice('');
                              action.clearError();
                              setClearing({ kind: 'one', task });
                            }}
                          />
                        </td>
                      )}
                    </tr>
                  ))}
                </tbody>
              </table>
            </div>
          )}
          <Pager
            offset={offset}
            limit={limit}
            total={list.data.total}
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
              ? t('kps.confirm.one', { id: clearing.task.task_id, server: clearing.task.server_name })
              : t('kps.confirm.all', { n: clearing.count })
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

/** ListKeypairTask: one task's state by its id. */
function TaskLookup({ project }: { project: string }) {
  const i18n = useI18n();
  const { t } = i18n;
  const action = useAction();
  const [found, setFound] = useState<KeypairTask | null>(null);
  return (
    <form
      class="lookup"
      onSubmit={async (event) => {
        event.preventDefault();
        const id = String(new FormData(event.currentTarget).get('task_id') ?? '').trim();
        if (id === '') return;
        setFound(null);
        const task = await action.run(() => getJson<KeypairTask>(`/v3/${seg(project)}/tasks/${seg(id)}`));
        if (task !== undefined) setFound(task);
      }}
    >
      <label>
        {t('kps.lookup.label')}
        <input name="task_id" autoComplete="off" spellcheck={false} />
      </label>
      <button type="submit" disabled={action.busy}>
        {t('kps.lookup.submit')}
      </button>
      <div aria-live="polite">
        {found && (
          <p class="lookup-result">
            <span class="mono">{found.task_id}</span>: <strong>{operateType(found.task_status, i18n)}</strong> · {t('field.serverId')}{' '}
            <span class="mono">{found.server_id}</span>
          </p>
        )}
      </div>
      {action.error && <ErrorBox error={action.error} onDismiss={action.clearError} />}
    </form>
  );
}
