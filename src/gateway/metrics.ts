/**
 * Prometheus metrics at `GET /metrics`: requests by route, method and status with a
 * latency histogram, jobs ingested by result, and store errors. Kept in process: each
 * server process exposes its own, as Prometheus expects.
 */
import type { FastifyInstance } from 'fastify';
import { PUBLIC } from './ops.routes.js';

const BUCKETS = [0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5];

/** The requests of one route and method: how many got each status, and how long they took. */
interface Series {
  /** The Prometheus labels of the route and method, escaped once. */
  readonly labels: string;
  readonly statuses: Map<number, number>;
  readonly counts: number[];
  sum: number;
  count: number;
}

/** The process's counters; methods are cheap enough for every request. */
export class Metrics {
  readonly #series = new Map<string, Series>();
  readonly #ingested = new Map<string, number>();
  #storeErrors = 0;
  readonly #faults = new Map<string, number>();

  /** Counts one answered request; `route` is the route pattern, never the raw URL. */
  observeRequest(route: string, method: string, status: number, seconds: number): void {
    const key = `${method} ${route}`;
    let series = this.#series.get(key);
    if (series === undefined) {
      series = { labels: `route="${escape(route)}",method="${method}"`, statuses: new Map(), counts: BUCKETS.map(() => 0), sum: 0, count: 0 };
      this.#series.set(key, series);
    }
    series.statuses.set(status, (series.statuses.get(status) ?? 0) + 1);
    for (let i = 0; i < BUCKETS.length; i++) if (seconds <= (BUCKETS[i] as number)) series.counts[i] = (series.counts[i] ?? 0) + 1;
    series.sum += seconds;
    series.count += 1;
  }

  /** Counts reported jobs by outcome (created, updated, unchanged, rejected). */
  observeIngest(result: string, n = 1): void {
    this.#ingested.set(result, (this.#ingested.get(result) ?? 0) + n);
  }

  observeStoreError(): void {
    this.#storeErrors += 1;
  }

  /** Counts a request the emulator faulted on purpose (src/emulator/faults.ts), by operationId. */
  observeFault(operation: string): void {
    this.#faults.set(operation, (this.#faults.get(operation) ?? 0) + 1);
  }

  /** The Prometheus text exposition format, version 0.0.4. */
  render(): string {
    const lines: string[] = [];
    lines.push('# HELP taskcenter_http_requests_total Requests answered, by route pattern, method and status.');
    lines.push('# TYPE taskcenter_http_requests_total counter');
    for (const { labels, statuses } of this.#series.values()) {
      for (const [status, n] of statuses) lines.push(`taskcenter_http_requests_total{${labels},status="${status}"} ${n}`);
    }
    lines.push('# HELP taskcenter_http_request_duration_seconds Time to answer a request.');
    lines.push('# TYPE taskcenter_http_request_duration_seconds histogram');
    for (const { labels, counts, sum, count } of this.#series.values()) {
      BUCKETS.forEach((le, i) => lines.push(`taskcenter_http_request_duration_seconds_bucket{${labels},le="${le}"} ${counts[i]}`));
      lines.push(`taskcenter_http_request_duration_seconds_bucket{${labels},le="+Inf"} ${count}`);
      lines.push(`taskcenter_http_request_duration_seconds_sum{${labels}} ${sum}`);
      lines.push(`taskcenter_http_request_duration_seconds_count{${labels}} ${count}`);
    }
    lines.push('# HELP taskcenter_jobs_ingested_total Job reports processed, by result.');
    lines.push('# TYPE taskcenter_jobs_ingested_total counter');
    for (const [result, n] of this.#ingested) lines.push(`taskcenter_jobs_ingested_total{result="${result}"} ${n}`);
    lines.push('# HELP taskcenter_store_errors_total Requests that failed because the store was unavailable.');
    lines.push('# TYPE taskcenter_store_errors_total counter');
    lines.push(`taskcenter_store_errors_total ${this.#storeErrors}`);
    lines.push('# HELP taskcenter_emulator_faults_fired_total Requests the emulator faulted on purpose, by operationId.');
    lines.push('# TYPE taskcenter_emulator_faults_fired_total counter');
    for (const [operation, n] of this.#faults) lines.push(`taskcenter_emulator_faults_fired_total{operation="${escape(operation)}"} ${n}`);
    return lines.join('\n') + '\n';
  }
}

function escape(value: string): string {
  return value.replace(/\\/g, '\\\\').replace(/"/g, '\\"');
}

declare module 'fastify' {
  interface FastifyInstance {
    metrics: Metrics;
  }
}

/** Decorates the app with a Metrics and counts every response; {@link metricsRoutes} serves them. */
export function installMetrics(app: FastifyInstance): Metrics {
  const metrics = new Metrics();
  app.decorate('metrics', metrics);
  // Hooks that finish at once take a callback: an async one costs a promise per request.
  app.addHook('onResponse', (request, reply, done) => {
    metrics.observeRequest(request.routeOptions.url ?? 'unmatched', request.method, reply.statusCode, reply.elapsedTime / 1000);
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
    async (_request, reply) => reply.type('text/plain; version=0.0.4').send(metrics.render() + more.map((render) => render()).join('')),
  );
}
