/**
 * The console's URLs: every view has its own, under /console/, so a view can be linked
 * from a ticket and opened directly (the server answers the page for every path).
 */
import { useEffect, useState } from 'preact/hooks';

export const BASE = '/console/';

export type Route =
  | { readonly view: 'home' }
  | { readonly view: 'overview'; readonly project: string }
  | { readonly view: 'sdrs-failures'; readonly project: string; readonly query: URLSearchParams }
  | { readonly view: 'job'; readonly project: string; readonly jobId: string }
  | { readonly view: 'kps-failed' | 'kps-running'; readonly project: string; readonly query: URLSearchParams }
  | { readonly view: 'jobs'; readonly project: string; readonly query: URLSearchParams }
  | { readonly view: 'not-found' };

/** The view a location shows. */
export function parseRoute(pathname: string, search: string): Route {
  if (!pathname.startsWith(BASE)) return { view: 'not-found' };
  const parts = pathname
    .slice(BASE.length)
    .split('/')
    .filter((part) => part !== '')
    .map((part) => {
      try {
        return decodeURIComponent(part);
      } catch {
        return part;
      }
    });
  const query = new URLSearchParams(search);
  if (parts.length === 0) return { view: 'home' };
  const [first, project, page, id] = parts;
  if (first !== 'projects' || project === undefined) return { view: 'not-found' };
  if (page === undefined || (page === 'overview' && id === undefined)) return { view: 'overview', project };
  if (page === 'jobs' && id !== undefined && parts.length === 4) return { view: 'job', project, jobId: id };
  if (id !== undefined) return { view: 'not-found' };
  if (page === 'sdrs-failures' || page === 'kps-failed' || page === 'kps-running' || page === 'jobs') return { view: page, project, query };
  return { view: 'not-found' };
}

/** The URL of a project's page (`overview`, `sdrs-failures`, `jobs/<id>`, ...), with a query. */
export function projectPath(project: string, page: string, search = ''): string {
  return `${BASE}projects/${encodeURIComponent(project)}/${page}${search}`;
}

/** The URL of one job's page. */
export function jobPath(project: string, jobId: string): string {
  return projectPath(project, `jobs/${encodeURIComponent(jobId)}`);
}

const CHANGE = 'taskcenter:navigate';

/** Shows `url` without reloading the page; `replace` keeps the history entry. */
export function navigate(url: string, replace = false): void {
  if (replace) history.replaceState(null, '', url);
  else history.pushState(null, '', url);
  window.dispatchEvent(new Event(CHANGE));
}

/** The current location, following links, Back and Forward. */
export function useLocation(): { pathname: string; search: string } {
  const read = () => ({ pathname: location.pathname, search: location.search });
  const [where, setWhere] = useState(read);
  useEffect(() => {
    const update = () => setWhere(read());
    window.addEventListener('popstate', update);
    window.addEventListener(CHANGE, update);
    return () => {
      window.removeEventListener('popstate', update);
      window.removeEventListener(CHANGE, update);
    };
  }, []);
  return where;
}

/**
 * Follows a click on a console link in place. Left as it is: a click with a modifier
 * (new tab, new window), another target, or a link out of the console.
 */
export function followLink(event: MouseEvent): void {
  if (event.defaultPrevented || event.button !== 0 || event.metaKey || event.ctrlKey || event.shiftKey || event.altKey) return;
  const anchor = (event.target as Element | null)?.closest?.('a');
  if (!anchor || anchor.target !== '' || anchor.hasAttribute('download')) return;
  const url = new URL(anchor.href, location.href);
  if (url.origin !== location.origin || !url.pathname.startsWith(BASE)) return;
  event.preventDefault();
  navigate(url.pathname + url.search);
}
