/**
 * The one object shared by the server, the command line and the tests: configuration,
 * the open store, the services over it, authentication and the logger.
 */
import { pino, type DestinationStream, type Logger } from 'pino';
import { OpenAuthenticator, StaticAuthenticator, type Authenticator } from './auth/authenticator.js';
import type { AkskVerifierOptions } from './auth/aksk.js';
import { startKeystoneAuthenticator } from './auth/keystone.js';
import { StoreLockout } from './auth/lockout.store.js';
import type { Config } from './config.js';
import type { Database, StoreLimits } from './db/database.js';
import { openDatabase } from './db/open.js';
import { migrate } from './db/migrate.js';
import { JobWriter } from './jobs/job-writer.js';
import { Metrics } from './gateway/metrics.js';
import { Readiness } from './gateway/readiness.js';
import { JobService } from './jobs/jobs.service.js';
import { ListCache } from './jobs/list-cache.js';
import { RetentionService } from './jobs/retention.service.js';
import { Listings } from './jobs/listing.js';
import { rebuildIfStale } from './jobs/listing-rebuild.js';
import { listVersions } from './jobs/listing.store.js';
import { kpsListing } from './kps/kps.listing.js';
import { KpsService } from './kps/kps.service.js';
import { deleteDelivered } from './notify/deliveries.store.js';
import { DeliveryWorker } from './notify/delivery.js';
import { NotifyMetrics } from './notify/notify.metrics.js';
import { NotifyService } from './notify/notify.service.js';
import { Outbox } from './notify/outbox.js';
import { SecretBox } from './notify/secrets.js';
import { ProjectsService } from './projects/projects.service.js';
import { sdrsListing } from './sdrs/sdrs.listing.js';
import { SdrsService } from './sdrs/sdrs.service.js';

export interface Context {
  readonly config: Config;
  readonly logger: Logger;
  readonly db: Database;
  /** The one writer of jobs and their lists: every write goes through it (src/jobs/job-writer.ts). */
  readonly writer: JobWriter;
  readonly jobs: JobService;
  readonly sdrs: SdrsService;
  readonly kps: KpsService;
  readonly projects: ProjectsService;
  readonly auth: Authenticator;
  /** Webhook subscriptions and deliveries (the producer API's side). */
  readonly notify: NotifyService;
  /** The outbox the one writer adds events to, in the transaction of each change. */
  readonly outbox: Outbox;
  /** Sends due webhook deliveries once started (`serve` starts it; tests may). */
  readonly delivery: DeliveryWorker;
  readonly notifyMetrics: NotifyMetrics;
  /** The process's Prometheus metrics, fed by the app, the store, the page cache and authentication. */
  readonly metrics: Metrics;
  /** Whether `/readyz` may say ready: `serve` drains it on SIGTERM before it stops. */
  readonly readiness: Readiness;
  /** Deletes old finished jobs and delivered deliveries once started (`serve` starts it); null without `--retain-days`. */
  readonly retention: RetentionService | null;
  /** Stops the delivery worker and retention and closes the store; the context is unusable afterwards. */
  close(): Promise<void>;
}

/** Headers and fields that carry secrets; pino replaces them wherever they appear in a log line. */
const REDACT = [
  'req.headers.authorization',
  'req.headers["x-auth-token"]',
  'req.headers["x-subject-token"]',
  'req.headers["x-security-token"]',
  'headers.authorization',
  'headers["x-auth-token"]',
  'headers["x-subject-token"]',
  'headers["x-security-token"]',
  'security_token',
  'token',
  'sk',
  'secret',
  'keystonePassword',
  'config.keystonePassword',
];

/** A JSON logger at the configured level that never writes a secret; to stdout unless given a destination. */
export function createLogger(config: Pick<Config, 'logLevel'>, destination?: DestinationStream): Logger {
  const options = { level: config.logLevel, redact: { paths: REDACT, censor: '[redacted]' } };
  return destination === undefined ? pino(options) : pino(options, destination);
}

/** Every service's listing (src/jobs/listing.ts): what the writer derives each job's lists with. */
export function createListings(): Listings {
  return new Listings([sdrsListing, kpsListing]);
}

/**
 * The store's limits under `config`: no statement outlives a request's deadline, a wait
 * for a connection or a SQLite write lock ends after 5 s, or at the deadline of the
 * request that waits (src/db/cancellation.ts), whichever comes first, and SQLite's page
 * cache holds `--sqlite-cache-mb`.
 */
export function storeLimits(config: Pick<Config, 'requestTimeout' | 'sqliteCacheMb'>): StoreLimits {
  return { statementTimeoutMs: Math.round(config.requestTimeout * 1000), connectTimeoutMs: 5000, busyTimeoutMs: 5000, sqliteCacheMb: config.sqliteCacheMb };
}

export interface ContextOptions {
  readonly logger?: Logger;
  /**
   * Run migrations on open, then rebuild the lists if their stamp is not this code's
   * (default true): the server and the CLI always do.
   */
  readonly migrate?: boolean;
}

/**
 * Opens the store named by `config.db`, brings its schema up to date, rebuilds the
 * stored lists when another version of the listing code rendered them
 * (src/jobs/listing-rebuild.ts; a server is not ready before that ends) and builds the
 * services. With static auth the credentials file must exist (the CLI creates it).
 */
export async function createContext(config: Config, options: ContextOptions = {}): Promise<Context> {
  const logger = options.logger ?? createLogger(config);
  const db = openDatabase(config.db, storeLimits(config));
  try {
    const writer = new JobWriter(createListings());
    if (options.migrate !== false) {
      const { applied } = await migrate(db);
      if (applied.length > 0) logger.info({ applied }, 'migrations applied');
      await rebuildIfStale(db, writer, logger);
    }
    const metrics = new Metrics();
    metrics.watchStore(() => db.connections());
    // AK/SK failures are counted in the store, so every process agrees on a lockout.
    const signatures: AkskVerifierOptions = {
      lockout: new StoreLockout(db),
      onLockout: ({ accessKey, address, failures, lockedUntil }) => {
        metrics.observeLockout();
        logger.warn({ access_key: accessKey, address, failures, locked_until: new Date(lockedUntil).toISOString() }, 'access key locked after bad signatures');
      },
    };
    const auth: Authenticator =
      config.auth === 'none'
        ? new OpenAuthenticator()
        : config.auth === 'keystone'
          ? await startKeystoneAuthenticator(config, logger, signatures)
          : new StaticAuthenticator(config.credentials, (message) => logger.warn(message), signatures);
    // One budget for the pages of both APIs.
    const pages = new ListCache(config.listCacheMb * 1024 * 1024, (projectIds) => listVersions(db.kysely, projectIds));
    const secrets = new SecretBox(config.webhookKey);
    const notifyMetrics = new NotifyMetrics();
    const delivery = new DeliveryWorker(db, secrets, notifyMetrics, logger, {
      allowPrivate: config.webhookAllowPrivate,
      retryWindowMs: config.webhookRetryWindow * 1000,
      retryDelayMs: config.webhookRetryDelay * 1000,
      leaseMs: config.webhookLease * 1000,
    });
    // A local write that queued deliveries wakes the local worker; other nodes find them at their next poll.
    const outbox = new Outbox(notifyMetrics, () => setImmediate(() => delivery.nudge()));
    // Events are written with the change that raises them; a deleted job raises none, so a
    // reset deletes without reading the rows (on PostgreSQL, reading them in batches would
    // pass over every row already deleted in the transaction: quadratic).
    writer.observe(
      async (tx, changes) => {
        await outbox.record(
          tx,
          changes.flatMap(({ before, after }) => (after === undefined ? [] : [{ before, after }])),
        );
      },
      { deletions: false },
    );
    metrics.watchListCache(() => pages.stats);
    const retention =
      config.retainDays === null
        ? null
        : new RetentionService(db, writer, logger, {
            days: config.retainDays,
            more: [{ name: 'deliveries', deleteBatch: deleteDelivered }],
            onDeleted: (n) => metrics.observeRetentionDeleted(n),
          });
    return {
      config,
      logger,
      db,
      writer,
      jobs: new JobService(db, writer),
      sdrs: new SdrsService(db, writer, pages),
      kps: new KpsService(db, writer, pages),
      projects: new ProjectsService(db),
      auth,
      metrics,
      readiness: new Readiness(),
      notify: new NotifyService(db, secrets, logger, { allowPrivate: config.webhookAllowPrivate }, () => delivery.nudge()),
      outbox,
      delivery,
      notifyMetrics,
      retention,
      async close() {
        await retention?.stop();
        await delivery.stop();
        await db.close();
      },
    };
  } catch (error) {
    await db.close();
    throw error;
  }
}
