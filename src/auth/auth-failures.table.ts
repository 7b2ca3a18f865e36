/** Row types of the AK/SK lockout's table (migration 0004; queries in src/auth/lockout.store.ts). */

/** A row of `auth_failures`. */
export interface AuthFailuresTable {
  access_key: string;
  address: string;
  /** Bad signatures since the last good one (or since the last lock ran out). */
  failures: number;
  /** Epoch ms until which the pair is refused; 0 when it is not locked. */
  locked_until: number;
  /** Epoch ms of the last failure counted. */
  updated_at: number;
}
