import type { Kysely } from 'kysely';
import type { Engine } from '../database.js';
import * as jobs from './0001-jobs.js';
import * as listVersions from './0002-list-versions.js';
import * as listingStamp from './0003-listing-stamp.js';
import * as authFailures from './0004-auth-failures.js';
import * as notifications from './0005-notifications.js';
import * as emulatorSteps from './0006-emulator-steps.js';
import * as retention from './0007-retention.js';
import * as resourceNameTrigrams from './0008-resource-name-trigrams.js';
import * as listItemsInIndexes from './0009-list-items-in-indexes.js';

/** A migration; it is told the engine for the few things SQL spells differently. */
export interface EngineMigration {
  up(db: Kysely<unknown>, engine: Engine): Promise<void>;
}

/** Every migration, in order. A new migration is a new numbered file added here. */
export const migrations: Readonly<Record<string, EngineMigration>> = Object.freeze({
  '0001-jobs': jobs,
  '0002-list-versions': listVersions,
  '0003-listing-stamp': listingStamp,
  '0004-auth-failures': authFailures,
  '0005-notifications': notifications,
  '0006-emulator-steps': emulatorSteps,
  '0007-retention': retention,
  '0008-resource-name-trigrams': resourceNameTrigrams,
  '0009-list-items-in-indexes': listItemsInIndexes,
});
