/**
 * Prometheus metrics at `GET /metrics`, kept with prom-client in one registry per
 * process (each server process exposes its own, as Prometheus expects): requests by
 * operationId and status with a latency histogram, requests in flight, the store's
 * connections and errors, the list page cache, jobs reported by result, lockouts,
 * throttled requests, retention deletions and the process metrics of Node.js.
 * docs/grafana-dashboard.json charts them; test/gateway/metrics.test.ts runs promtool
 * on what is served.
 */
import type { FastifyInstance, FastifyReply } from 'fastify';
import { Counter, Gauge, Histogram, Registry, collectDefaultMetrics } from 'prom-client';
import { PUBLIC } from './ops.routes.js';

/** Seconds: from a cached list page (~0.1 ms) to a batch of a thousand jobs (~0.5 s), and a slow store. */
const BUCKETS = [0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5];

/** The label of requests that matched no route, and of routes without an operationId (the console's files, /docs). */
export const UNMATCHED = 'unmatched';
export const UNDOCUMENTED = 'other';

/** The store's connections at one moment: open, idle among them, and requests waiting for one. */
export interface ConnectionStats {
  readonly open: number;
  readonly idle: number;
  readonly waiting: number;
}

/** What the list page cache (src/jobs/list-cache.ts) has done so far. */
export interface ListCacheStats {
  readonly hits: number;
  readonly misses: number;
  readonly bytes: number;
}

/** The series of one operation: its histogram, and a counter per status seen. */
interface OperationSeries {
  readonly duration: Histogram.Internal<'operation'>;
  readonly statuses: Map<number, Counter.Internal>;
}

/** The process's metrics; the `observe` methods are cheap enough for every request. */
export class Metrics {
  readonly registry = new Registry();
  readonly #requests: Counter<'operation' | 'status'>;
  readonly #duration: Histogram<'operation'>;
  readonly #inFlight: Gauge;
  readonly #reported: Counter<'result'>;
  readonly #storeErrors: Counter;
  readonly #lockouts: Counter;
  readonly #throttled: Counter;
  readonly #retentionDeleted: Counter;
  readonly #faults: Counter<'operation'>;
  readonly #byOperation = new Map<string, OperationSeries>();
  #connections: () => ConnectionStats = () => ({ open: 0, idle: 0, waiting: 0 });
  #listCache: () => ListCacheStats = () => ({ hits: 0, misses: 0, bytes: 0 });
  /** Bound once: a listener per request, no closure per request. */
  readonly #finished = () => this.#inFlight.dec();

  constructor() {
    const registers = [this.registry];
    collectDefaultMetrics({ register: this.registry });
    // Gauges named like counters (promtool refuses them); the same numbers stay, by type, in nodejs_active_handles and the like.
    for (const name of ['nodejs_active_handles_total', 'nodejs_active_requests_total', 'nodejs_active_resources_total']) this.registry.removeSingleMetric(name);
    this.#requests = new Counter({
      name: 'taskcenter_http_requests_total',
      help: 'Requests answered, by operationId and status.',
      labelNames: ['operation', 'status'],
      registers,
    });
    this.#duration = new Histogram({
      name: 'taskcenter_http_request_duration_seconds',
      help: 'Time from a request arriving to its response sent, by operationId.',
      labelNames: ['operation'],
      buckets: BUCKETS,
      registers,
    });
    this.#inFlight = new Gauge({ name: 'taskcenter_http_requests_in_flight', help: 'Requests received and not yet answered.', registers });
    this.#reported = new Counter({
      name: 'taskcenter_jobs_reported_total',
      help: 'Job reports processed by the producer API, by result: created, updated, unchanged or rejected.',
      labelNames: ['result'],
      registers,
    });
    for (const result of ['created', 'updated', 'unchanged', 'rejected']) this.#reported.labels(result).inc(0);
    this.#storeErrors = new Counter({ name: 'taskcenter_store_errors_total', help: 'Requests answered 503 because the store was unavailable.', registers });
    this.#lockouts = new Counter({
      name: 'taskcenter_aksk_lockouts_total',
      help: 'Access keys locked after too many consecutive bad signatures.',
      registers,
    });
    this.#throttled = new Counter({ name: 'taskcenter_throttled_requests_total', help: 'Requests refused with 429 by the per-principal throttle.', registers });
    this.#retentionDeleted = new Counter({
      name: 'taskcenter_retention_deleted_jobs_total',
      help: 'Finished jobs deleted by retention (--retain-days).',
      registers,
    });
    this.#faults = new Counter({
      name: 'taskcenter_emulator_faults_fired_total',
      help: 'Requests the emulator faulted on purpose, by operationId.',
      labelNames: ['operation'],
      registers,
    });
    // collect() runs with the metric as `this`: the sources are reached through these.
    const connections = () => this.#connections();
    const listCache = () => this.#listCache();
    new Gauge({
      name: 'taskcenter_store_connections',
      help: 'Store connections open (PostgreSQL: in the pool; SQLite: its one connection).',
      registers,
      collect() {
        this.set(connections().open);
      },
    });
    new Gauge({
      name: 'taskcenter_store_connections_idle',
      help: 'Store connections open and not in use.',
      registers,
      collect() {
        this.set(connections().idle);
      },
    });
    new Gauge({
      name: 'taskcenter_store_connection_waiters',
      help: 'Queries waiting for a store connection.',
      registers,
      collect() {
        this.set(connections().waiting);
      },
    });
    // Counted by the cache itself and read at each scrape, so that a hit costs no more than before.
    new Counter({
      name: 'taskcenter_list_cache_hits_total',
      help: 'List pages answered without being read from the store: kept and current, or not modified.',
      registers,
      collect() {
        this.reset();
        this.inc(listCache().hits);
      },
    });
    new Counter({
      name: 'taskcenter_list_cache_misses_total',
      help: 'List pages read from the store.',
      registers,
      collect() {
        this.reset();
        this.inc(listCache().misses);
      },
    });
    new Gauge({
      name: 'taskcenter_list_cache_bytes',
      help: 'Bytes of rendered list pages kept in memory (bounded by --list-cache-mb).',
      registers,
      collect() {
        this.set(listCache().bytes);
      },
    });
  }

  /** Reads the store's connections at each scrape. */
  watchStore(connections: () => ConnectionStats): void {
    this.#connections = connections;
  }

  /** Reads the list page cache's counters at each scrape. */
  watchListCache(stats: () => ListCacheStats): void {
    this.#listCache = stats;
  }

  /** Counts a request in flight until its response closes (sent, or the connection gone). */
  requestStarted(reply: FastifyReply): void {
    this.#inFlight.inc();
    reply.raw.once('close', this.#finished);
  }

  /** Counts one answered request; `operation` is the route's operationId (or {@link UNMATCHED}, {@link UNDOCUMENTED}), never the raw URL. */
  observeRequest(operation: string, status: number, seconds: number): void {
    let series = this.#byOperation.get(operation);
    if (series === undefined) {
      series = { duration: this.#duration.labels(operation), statuses: new Map() };
      this.#byOperation.set(operation, series);
    }
    let counter = series.statuses.get(status);
    if (counter === undefined) {
      counter = this.#requests.labels(operation, String(status));
      series.statuses.set(status, counter);
    }
    counter.inc();
    series.duration.observe(seconds);
  }

  /** Counts reported jobs by outcome (created, updated, unchanged, rejected). */
  observeIngest(result: string, n = 1): void {
    this.#reported.labels(result).inc(n);
  }

  observeStoreError(): void {
    this.#storeErrors.inc();
  }

  /** Counts an access key locked after bad signatures. */
  observeLockout(): void {
    this.#lockouts.inc();
  }

  /** Counts a request refused by the throttle. */
  observeThrottled(): void {
    this.#throttled.inc();
  }

  /** Counts jobs deleted by retention. */
  observeRetentionDeleted(n: number): void {
    this.#retentionDeleted.inc(n);
  }

  /** Counts a request the emulator faulted on purpose (src/emulator/faults.ts), by operationId. */
  observeFault(operation: string): void {
    this.#faults.labels(operation).inc();
  }

  /** The Prometheus text exposition format, version 0.0.4. */
  render(): Promise<string> {
    return this.registry.metrics();
  }
}

declare module 'fastify' {
  interface FastifyInstance {
    metrics: Metrics;
  }
}

/** Decorates the app with `metrics` and counts every request; {@link metricsRoutes} serves them. */
export function installMetrics(app: FastifyInstance, metrics: Metrics): Metrics {
  app.decorate('metrics', metrics);
  // Hooks that finish at once take a callback: an async one costs a promise per request.
  app.addHook('onRequest', (_request, reply, done) => {
    metrics.requestStarted(reply);
    done();
  });
  app.addHook('onResponse', (request, reply, done) => {
    const operation = request.routeOptions.schema?.operationId ?? (request.routeOptions.url === undefined ? UNMATCHED : UNDOCUMENTED);
    metrics.observeRequest(operation, reply.statusCode, reply.elapsedTime / 1000);
    done();
  });
  return metrics;
}

/**
 * Serves `GET /metrics`, followed by the text of each of `more` (metrics kept elsewhere,
 * such as webhook delivery's, src/notify/notify.metrics.ts); registered after the
 * OpenAPI plugin, so that the document has it.
 */
export function metricsRoutes(app: FastifyInstance, more: readonly (() => string)[] = []): void {
  const metrics = app.metrics;
  app.get(
    '/metrics',
    {
      schema: {
        tags: ['Operations'],
        operationId: 'GetMetrics',
        summary: "This process's metrics in Prometheus' text format",
        security: PUBLIC,
        response: { 200: { description: 'Prometheus text exposition format 0.0.4', content: { 'text/plain': { schema: { type: 'string' } } } } },
      },
    },
    async (_request, reply) => reply.type(metrics.registry.contentType).send((await metrics.render()) + more.map((render) => render()).join('')),
  );
}
