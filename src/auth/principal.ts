/** Who a request acts as, once authenticated, and what it may do. */
export interface Principal {
  readonly name: string;
  /** Project ids this principal may touch; `*` grants every project. */
  readonly projects: readonly string[];
  /** IAM-style actions (`sdrs:failureJobs:list`); `*` in a grant matches any run of characters. */
  readonly actions: readonly string[];
}

/** Every action the service checks, by the route that needs it. */
export const ACTIONS = [
  'sdrs:failureJobs:list',
  'sdrs:failureJobs:delete',
  'sdrs:jobs:get',
  'kps::getFailedTask',
  'kps::deleteFailedTask',
  'kps::getRunningTask',
  'kps::getTask',
  'taskcenter:jobs:write',
  'taskcenter:jobs:read',
  // The emulator's controls (src/emulator/), served only with --emulator; grants say `taskcenter:emulator:*`.
  'taskcenter:emulator:reset',
  'taskcenter:emulator:export',
  'taskcenter:emulator:import',
  'taskcenter:emulator:faults',
  'taskcenter:emulator:jobs',
  'taskcenter:emulator:requests',
  'taskcenter:subscriptions:write',
  'taskcenter:subscriptions:read',
] as const;
export type Action = (typeof ACTIONS)[number];

const patterns = new Map<string, RegExp>();

function grantMatches(grant: string, value: string): boolean {
  if (grant === '*' || grant === value) return true;
  if (!grant.includes('*')) return false;
  let pattern = patterns.get(grant);
  if (pattern === undefined) {
    pattern = new RegExp(
      '^' +
        grant
          .split('*')
          .map((part) => part.replace(/[.+?^${}()|[\]\\]/g, '\\$&'))
          .join('.*') +
        '$',
    );
    patterns.set(grant, pattern);
  }
  return pattern.test(value);
}

/** True when the principal may perform `action`, in `projectId` when one is given. */
export function allows(principal: Principal, action: Action, projectId?: string): boolean {
  if (!principal.actions.some((grant) => grantMatches(grant, action))) return false;
  return projectId === undefined || mayTouch(principal, projectId);
}

/** True when the principal's grants cover `projectId`, whatever the action. */
export function mayTouch(principal: Principal, projectId: string): boolean {
  return principal.projects.some((p) => p === '*' || p === projectId);
}

/** The principal of `--auth none`: everything, everywhere. */
export const ANONYMOUS: Principal = Object.freeze({ name: 'anonymous', projects: ['*'], actions: ['*'] });

/** An access key's secret and who it acts as. */
export interface AccessKeyEntry {
  readonly sk: string;
  readonly principal: Principal;
  /**
   * For a temporary key: `sha256:<hex>` of the security token issued with it and when it
   * expires (epoch ms). A permanent key has neither.
   */
  readonly temporary?: { readonly securityTokenHash: string; readonly expiresAt: number };
}
