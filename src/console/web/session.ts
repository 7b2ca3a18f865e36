/** Who is signed in, what they may do, and what every view shares about it. */
import { createContext } from 'preact';
import { useContext } from 'preact/hooks';
import type { RequestFailed } from './api.js';
import type { Action, Me } from './types.js';

export interface Session {
  readonly me: Me;
  /** True when the server has authentication off: there is nobody to sign in as. */
  readonly open: boolean;
  /** Actions allowed to the caller (in each of its projects). */
  can(action: Action): boolean;
  /** True when the caller's grants cover the project. */
  mayOpen(project: string): boolean;
  /** Tells the session a request failed: a 401 means the token no longer works, so sign in again. */
  failed(error: RequestFailed): void;
  signOut(): void;
}

export const SessionContext = createContext<Session | null>(null);

export function useSession(): Session {
  const session = useContext(SessionContext);
  if (session === null) throw new Error('useSession outside a signed-in view');
  return session;
}
