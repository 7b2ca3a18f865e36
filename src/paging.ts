/** The offset paging both Huawei dialects share: `limit` 0..1000 (default 1000), `offset` >= 0. */
import { Type } from '@sinclair/typebox';

export const MAX_LIMIT = 1000;

export const Limit = Type.Integer({ minimum: 0, maximum: MAX_LIMIT, default: MAX_LIMIT, description: 'Page size, 0 to 1000 (default 1000)' });
export const Offset = Type.Integer({ minimum: 0, default: 0, description: 'Number of items to skip (default 0)' });

/** A validated page request. */
export interface Page {
  readonly limit: number;
  readonly offset: number;
}

/** Fills in the defaults of a validated query's paging fields. */
export function pageOf(query: { limit?: number | undefined; offset?: number | undefined }): Page {
  return { limit: query.limit ?? MAX_LIMIT, offset: query.offset ?? 0 };
}
