import type { Database } from '../db/database.js';

/** The SDRS task center over the jobs store (to be written). */
export class SdrsService {
  constructor(readonly db: Database) {}
}
