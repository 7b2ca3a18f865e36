/** Reads that views share: one GET, or a GET repeated every few seconds, cheaply. */
import { useCallback, useEffect, useRef, useState } from 'preact/hooks';
import { request, RequestFailed } from './api.js';
import { useSession } from './session.js';

/** How often list views ask again. */
export const POLL_MS = 3000;

export interface Read<T> {
  /** The last answer; kept while a newer one is asked for, dropped when the path changes. */
  readonly data: T | undefined;
  /** Why the last request failed, until one succeeds again. */
  readonly error: RequestFailed | null;
  readonly loading: boolean;
  /** Asks again now. */
  refresh(): void;
}

export interface ReadOptions {
  /** Ask again every so many milliseconds while the page is visible (0: once). */
  readonly everyMs?: number;
  /**
   * Send the last answer's ETag in If-None-Match: an unchanged list then answers 304
   * with no body, and the data shown stays as it is.
   */
  readonly conditional?: boolean;
}

/** GETs `path` (nothing while null), again every `everyMs` while the tab is visible. */
export function useRead<T>(path: string | null, { everyMs = 0, conditional = false }: ReadOptions = {}): Read<T> {
  const session = useSession();
  const [state, setState] = useState<{ path: string | null; data: T | undefined; error: RequestFailed | null; loading: boolean }>({
    path,
    data: undefined,
    error: null,
    loading: path !== null,
  });
  const again = useRef<() => void>(() => {});

  useEffect(() => {
    setState({ path, data: undefined, error: null, loading: path !== null });
    if (path === null) return;
    let stopped = false;
    let timer: ReturnType<typeof setTimeout> | undefined;
    let etag: string | null = null;
    let busy = false;
    let pending = false;

    const run = async (): Promise<void> => {
      clearTimeout(timer);
      if (busy) {
        pending = true;
        return;
      }
      busy = true;
      try {
        const answer = await request<T>(path, { etag: conditional ? etag : null });
        if (stopped) return;
        if (answer.status !== 304) {
          etag = answer.etag;
          setState({ path, data: answer.body, error: null, loading: false });
        } else {
          setState((s) => (s.error === null && !s.loading ? s : { ...s, error: null, loading: false }));
        }
      } catch (error) {
        if (stopped) return;
        const failure = error instanceof RequestFailed ? error : new RequestFailed(null);
        session.failed(failure);
        setState((s) => ({ ...s, error: failure, loading: false }));
      } finally {
        busy = false;
      }
      if (pending) {
        pending = false;
        void run();
      } else if (everyMs > 0 && !stopped) {
        timer = setTimeout(() => void (document.hidden ? null : run()), everyMs);
      }
    };
    again.current = () => void run();
    const onVisible = () => {
      if (!document.hidden) void run();
    };
    document.addEventListener('visibilitychange', onVisible);
    void run();
    return () => {
      stopped = true;
      clearTimeout(timer);
      document.removeEventListener('visibilitychange', onVisible);
    };
    // The session is stable for a signed-in view; a new path starts over.
  }, [path, everyMs, conditional]);

  const refresh = useCallback(() => again.current(), []);
  const current = state.path === path;
  return { data: current ? state.data : undefined, error: current ? state.error : null, loading: current ? state.loading : path !== null, refresh };
}

/** Runs `work` for an action (a clear), tracking whether it runs and how it failed. */
export function useAction(): {
  busy: boolean;
  error: RequestFailed | null;
  run<T>(work: () => Promise<T>): Promise<T | undefined>;
  clearError(): void;
} {
  const session = useSession();
  const [busy, setBusy] = useState(false);
  const [error, setError] = useState<RequestFailed | null>(null);
  const run = useCallback(async <T>(work: () => Promise<T>): Promise<T | undefined> => {
    setBusy(true);
    setError(null);
    try {
      return await work();
    } catch (caught) {
      const failure = caught instanceof RequestFailed ? caught : new RequestFailed(null);
      session.failed(failure);
      setError(failure);
      return undefined;
    } finally {
      setBusy(false);
    }
  }, []);
  return { busy, error, run, clearError: () => setError(null) };
}
