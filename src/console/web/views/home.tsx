/**
 * Where the console opens: the projects the caller may look at. A principal with named
 * projects sees them; one with every project (`*`) sees those that have jobs, paged,
 * and can open any project by its id.
 */
import { useEffect, useRef, useState } from 'preact/hooks';
import { getJson, query } from '../api.js';
import { Empty, ErrorBox, PageTitle } from '../components.js';
import { useAction } from '../hooks.js';
import { useI18n } from '../i18n.js';
import { navigate, projectPath } from '../router.js';
import { useSession } from '../session.js';
import type { ProjectList } from '../types.js';

export function Home({ projects }: { projects: ProjectsState }) {
  const { t } = useI18n();
  const session = useSession();
  const everyProject = session.me.projects.includes('*');
  const title = t('home.title');
  return (
    <section>
      <PageTitle title={title}>{title}</PageTitle>
      {projects.error && <ErrorBox error={projects.error} />}
      {projects.ids.length > 0 ? (
        <ul class="project-list">
          {projects.ids.map((id) => (
            <li key={id}>
              <a class="mono" href={projectPath(id, 'overview')}>
                {id}
              </a>
            </li>
          ))}
        </ul>
      ) : (
        projects.loaded && (
          <Empty title={t('home.empty')}>
            <p>{t('home.emptyHelp')}</p>
          </Empty>
        )
      )}
      {projects.more && (
        <button type="button" disabled={projects.busy} onClick={projects.loadMore}>
          {t('home.more')}
        </button>
      )}
      {everyProject && (
        <form
          class="lookup"
          onSubmit={(event) => {
            event.preventDefault();
            const id = String(new FormData(event.currentTarget).get('project') ?? '').trim();
            if (id !== '') navigate(projectPath(id, 'overview'));
          }}
        >
          <label>
            {t('home.openById')}
            <input name="project" autoComplete="off" spellcheck={false} />
          </label>
          <button type="submit">{t('home.open')}</button>
        </form>
      )}
    </section>
  );
}

/** The projects a caller can pick from, for the home view and the switcher. */
export interface ProjectsState {
  readonly ids: readonly string[];
  readonly loaded: boolean;
  readonly busy: boolean;
  readonly more: boolean;
  readonly error: ReturnType<typeof useAction>['error'];
  loadMore(): void;
}

/**
 * A principal's named projects as they are; for `*`, the projects that have jobs, a
 * page of 100 at a time (GET /taskcenter/v1/projects).
 */
export function useProjects(): ProjectsState {
  const session = useSession();
  const everyProject = session.me.projects.includes('*');
  const [pages, setPages] = useState<{ ids: string[]; loaded: boolean }>({ ids: [], loaded: false });
  const next = useRef<string | null>('');
  const action = useAction();
  const load = async () => {
    if (next.current === null) return;
    const page = await action.run(() => getJson<ProjectList>(`/taskcenter/v1/projects${query({ limit: 100, marker: next.current })}`));
    if (page === undefined) return;
    next.current = page.next_marker;
    setPages((p) => ({ ids: [...p.ids, ...page.projects.map((x) => x.project_id)], loaded: true }));
  };
  useEffect(() => {
    if (everyProject) void load();
  }, [everyProject]);
  if (!everyProject) return { ids: session.me.projects, loaded: true, busy: false, more: false, error: null, loadMore: () => {} };
  return {
    ids: pages.ids,
    loaded: pages.loaded,
    busy: action.busy,
    more: pages.loaded && next.current !== null,
    error: action.error,
    loadMore: () => void load(),
  };
}
