import type { Database } from '../db/database.js';

/** The KPS key-pair tasks over the jobs store (to be written). */
export class KpsService {
  constructor(readonly db: Database) {}
}
