/**
 * The console: finds out who the caller is (GET /taskcenter/v1/me; a server without
 * authentication needs no sign-in), then shows the view the URL names inside a shell
 * with the project switcher, the views of the project, and the language switch.
 */
import type { ComponentChildren } from 'preact';
import { useEffect, useMemo, useState } from 'preact/hooks';
import { getJson, RequestFailed, storedToken, storeToken } from './api.js';
import { ErrorBox, PageTitle } from './components.js';
import { I18nContext, initialLang, LANGUAGES, makeI18n, rememberLang, useI18n, type Lang } from './i18n.js';
import { BASE, followLink, navigate, parseRoute, projectPath, useLocation, type Route } from './router.js';
import { SessionContext, useSession, type Session } from './session.js';
import type { Action, Me } from './types.js';
import { Home, useProjects, type ProjectsState } from './views/home.js';
import { Job } from './views/job.js';
import { Jobs } from './views/jobs.js';
import { KpsTasks } from './views/kps-tasks.js';
import { Overview } from './views/overview.js';
import { SdrsFailures } from './views/sdrs-failures.js';
import { SignIn } from './views/sign-in.js';

type Boot =
  | { readonly state: 'checking' }
  | { readonly state: 'signed-out'; readonly expired: boolean }
  | { readonly state: 'signed-in'; readonly me: Me; readonly open: boolean }
  | { readonly state: 'failed'; readonly error: RequestFailed };

export function App() {
  const [lang, setLang] = useState<Lang>(initialLang);
  const i18n = useMemo(() => makeI18n(lang), [lang]);
  const [boot, setBoot] = useState<Boot>({ state: 'checking' });

  const check = async () => {
    const token = storedToken();
    try {
      setBoot({ state: 'signed-in', me: await getJson<Me>('/taskcenter/v1/me'), open: token === null });
    } catch (caught) {
      const error = caught instanceof RequestFailed ? caught : new RequestFailed(null);
      if (error.error?.status === 401) {
        storeToken(null);
        setBoot({ state: 'signed-out', expired: token !== null });
      } else {
        setBoot({ state: 'failed', error });
      }
    }
  };
  useEffect(() => {
    rememberLang(lang);
  }, [lang]);
  useEffect(() => {
    void check();
  }, []);

  const session = useMemo<Session | null>(() => {
    if (boot.state !== 'signed-in') return null;
    const { me, open } = boot;
    const actions = new Set<Action>(me.actions);
    return {
      me,
      open,
      can: (action) => actions.has(action),
      mayOpen: (project) => me.projects.includes('*') || me.projects.includes(project),
      failed: (error) => {
        if (error.error?.status === 401) {
          storeToken(null);
          setBoot({ state: 'signed-out', expired: true });
        }
      },
      signOut: () => {
        storeToken(null);
        setBoot({ state: 'signed-out', expired: false });
        navigate(BASE);
      },
    };
  }, [boot]);

  return (
    <I18nContext.Provider value={i18n}>
      <div class="app" onClick={(event) => followLink(event as unknown as MouseEvent)}>
        <a class="skip" href="#main">
          {i18n.t('nav.skip')}
        </a>
        {session ? (
          <SessionContext.Provider value={session}>
            <SignedIn lang={lang} setLang={setLang} />
          </SessionContext.Provider>
        ) : (
          <>
            <TopBar lang={lang} setLang={setLang} />
            <main id="main">
              {boot.state === 'checking' && <p class="muted">{i18n.t('state.loading')}</p>}
              {boot.state === 'failed' && <Unavailable error={boot.error} retry={() => void check()} />}
              {boot.state === 'signed-out' && (
                <SignIn
                  expired={boot.expired}
                  onSignedIn={(token, me) => {
                    storeToken(token);
                    setBoot({ state: 'signed-in', me, open: false });
                  }}
                />
              )}
            </main>
          </>
        )}
      </div>
    </I18nContext.Provider>
  );
}

function Unavailable({ error, retry }: { error: RequestFailed; retry: () => void }) {
  const { t } = useI18n();
  return (
    <section>
      <PageTitle title={t('error.startTitle')}>{t('error.startTitle')}</PageTitle>
      <ErrorBox error={error} />
      <button type="button" onClick={retry}>
        {t('action.retry')}
      </button>
    </section>
  );
}

/** The bar on every page: the name, what the caller sees, the language, who is signed in. */
function TopBar({ lang, setLang, children }: { lang: Lang; setLang: (lang: Lang) => void; children?: ComponentChildren }) {
  const { t } = useI18n();
  return (
    <header class="topbar">
      <a class="brand" href={BASE}>
        {t('app.name')}
      </a>
      {children}
      <span class="spacer" />
      <label class="language">
        <span class="visually-hidden">{t('nav.language')}</span>
        <select value={lang} onChange={(event) => setLang((event.target as HTMLSelectElement).value as Lang)}>
          {LANGUAGES.map((l) => (
            <option value={l} lang={l === 'zh' ? 'zh-CN' : 'en'}>
              {l === 'zh' ? '中文' : 'English'}
            </option>
          ))}
        </select>
      </label>
    </header>
  );
}

const TABS = [
  { view: 'overview', key: 'nav.overview', needs: null },
  { view: 'sdrs-failures', key: 'nav.sdrsFailures', needs: 'sdrs:failureJobs:list' },
  { view: 'kps-failed', key: 'nav.kpsFailed', needs: 'kps::getFailedTask' },
  { view: 'kps-running', key: 'nav.kpsRunning', needs: 'kps::getRunningTask' },
  { view: 'jobs', key: 'nav.jobs', needs: 'taskcenter:jobs:read' },
] as const;

function SignedIn({ lang, setLang }: { lang: Lang; setLang: (lang: Lang) => void }) {
  const { t } = useI18n();
  const session = useSession();
  const where = useLocation();
  const route = parseRoute(where.pathname, where.search);
  const projects = useProjects();
  const project = 'project' in route ? route.project : null;
  const single = !session.me.projects.includes('*') && session.me.projects.length === 1 ? session.me.projects[0] : undefined;

  useEffect(() => {
    // One project and nothing else to choose: open it.
    if (route.view === 'home' && single !== undefined) navigate(projectPath(single, 'overview'), true);
  }, [route.view, single]);

  return (
    <>
      <TopBar lang={lang} setLang={setLang}>
        {project !== null && <ProjectSwitcher project={project} route={route} projects={projects} />}
      </TopBar>
      <div class="who">
        <span>{session.open ? t('nav.authOff') : t('nav.signedInAs', { name: session.me.name })}</span>
        {!session.open && (
          <button type="button" class="link-button" onClick={session.signOut}>
            {t('nav.signOut')}
          </button>
        )}
      </div>
      {project !== null && (
        <nav class="tabs" aria-label={t('nav.views')}>
          {TABS.filter((tab) => tab.needs === null || session.can(tab.needs)).map((tab) => {
            const current = route.view === tab.view || (tab.view === 'jobs' && route.view === 'job');
            return (
              <a href={projectPath(project, tab.view)} aria-current={current ? 'page' : undefined} class={current ? 'current' : undefined}>
                {t(tab.key)}
              </a>
            );
          })}
        </nav>
      )}
      <main id="main">
        <View route={route} projects={projects} />
      </main>
    </>
  );
}

/** Another project, on the same kind of page (a job's page goes to the overview). */
function ProjectSwitcher({ project, route, projects }: { project: string; route: Route; projects: ProjectsState }) {
  const { t } = useI18n();
  const ids = projects.ids.includes(project) ? projects.ids : [project, ...projects.ids];
  const page = route.view === 'job' || route.view === 'not-found' || route.view === 'home' ? 'overview' : route.view;
  return (
    <label class="project-switcher">
      <span>{t('nav.project')}</span>
      <select value={project} onChange={(event) => navigate(projectPath((event.target as HTMLSelectElement).value, page))}>
        {ids.map((id) => (
          <option value={id}>{id}</option>
        ))}
      </select>
    </label>
  );
}

function View({ route, projects }: { route: Route; projects: ProjectsState }) {
  const { t } = useI18n();
  const session = useSession();
  if (route.view === 'home') return <Home projects={projects} />;
  if (route.view === 'not-found') {
    return (
      <section>
        <PageTitle title={t('notFound.title')}>{t('notFound.title')}</PageTitle>
        <p>
          <a href={BASE}>{t('notFound.home')}</a>
        </p>
      </section>
    );
  }
  if (!session.mayOpen(route.project)) return <NotAllowed text={t('access.project', { project: route.project })} />;
  const needs: Action | null =
    route.view === 'sdrs-failures'
      ? 'sdrs:failureJobs:list'
      : route.view === 'kps-failed'
        ? 'kps::getFailedTask'
        : route.view === 'kps-running'
          ? 'kps::getRunningTask'
          : route.view === 'jobs'
            ? 'taskcenter:jobs:read'
            : null;
  if (needs !== null && !session.can(needs)) return <NotAllowed text={t('access.action', { action: needs })} />;
  switch (route.view) {
    case 'overview':
      return <Overview project={route.project} />;
    case 'sdrs-failures':
      return <SdrsFailures project={route.project} params={route.query} />;
    case 'job':
      return <Job key={route.jobId} project={route.project} jobId={route.jobId} />;
    case 'kps-failed':
      return <KpsTasks key="failed" project={route.project} kind="failed" params={route.query} />;
    case 'kps-running':
      return <KpsTasks key="running" project={route.project} kind="running" params={route.query} />;
    case 'jobs':
      return <Jobs project={route.project} params={route.query} />;
  }
}

function NotAllowed({ text }: { text: string }) {
  const { t } = useI18n();
  return (
    <section>
      <PageTitle title={t('access.title')}>{t('access.title')}</PageTitle>
      <p>{text}</p>
    </section>
  );
}
