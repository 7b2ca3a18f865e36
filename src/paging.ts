/** The offset paging both Huawei dialects share: `limit` 0..1000 (default 1000), `offset` 0..2^31-1 (default 0). */
import { Type } from '@sinclair/typebox';

export const MAX_LIMIT = 1000;
/**
 * The largest offset: the SDKs' models declare `offset` a 32-bit integer (Java's Integer),
 * so no SDK can ask for more, and a page that far is empty anyway.
 */
export const MAX_OFFSET = 2_147_483_647;

export const Limit = Type.Integer({ minimum: 0, maximum: MAX_LIMIT, default: MAX_LIMIT, description: 'Page size, 0 to 1000 (default 1000)' });
export const Offset = Type.Integer({ minimum: 0, maximum: MAX_OFFSET, default: 0, description: `Number of items to skip, 0 to ${MAX_OFFSET} (default 0)` });

/** A validated page request. */
export interface Page {
  readonly limit: number;
  readonly offset: number;
}

/** Fills in the defaults of a validated query's paging fields. */
export function pageOf(query: { limit?: number | undefined; offset?: number | undefined }): Page {
  return { limit: query.limit ?? MAX_LIMIT, offset: query.offset ?? 0 };
}
