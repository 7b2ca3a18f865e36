/**
 * Prometheus metrics at `GET /metrics`: requests by route, method and status with a
 * latency histogram, jobs ingested by result, and store errors. Kept in process: each
 * server process exposes its own, as Prometheus expects.
 */
import type { FastifyInstance } from 'fastify';

const BUCKETS = [0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5];

interface Histogram {
  readonly counts: number[];
  sum: number;
  count: number;
}

/** The process's counters; methods are cheap enough for every request. */
export class Metrics {
  readonly #requests = new Map<string, number>();
  readonly #latency = new Map<string, Histogram>();
  readonly #ingested = new Map<string, number>();
  #storeErrors = 0;

  /** Counts one answered request; `route` is the route pattern, never the raw URL. */
  observeRequest(route: string, method: string, status: number, seconds: number): void {
    const key = `route="${escape(route)}",method="${method}",status="${status}"`;
    this.#requests.set(key, (this.#requests.get(key) ?? 0) + 1);
    const latencyKey = `route="${escape(route)}",method="${method}"`;
    let histogram = this.#latency.get(latencyKey);
    if (histogram === undefined) {
      histogram = { counts: BUCKETS.map(() => 0), sum: 0, count: 0 };
      this.#latency.set(latencyKey, histogram);
    }
    for (let i = 0; i < BUCKETS.length; i++) if (seconds <= (BUCKETS[i] as number)) histogram.counts[i] = (histogram.counts[i] ?? 0) + 1;
    histogram.sum += seconds;
    histogram.count += 1;
  }

  /** Counts reported jobs by outcome (created, updated, unchanged, rejected). */
  observeIngest(result: string, n = 1): void {
    this.#ingested.set(result, (this.#ingested.get(result) ?? 0) + n);
  }

  observeStoreError(): void {
    this.#storeErrors += 1;
  }

  /** The Prometheus text exposition format, version 0.0.4. */
  render(): string {
    const lines: string[] = [];
    lines.push('# HELP taskcenter_http_requests_total Requests answered, by route pattern, method and status.');
    lines.push('# TYPE taskcenter_http_requests_total counter');
    for (const [labels, n] of this.#requests) lines.push(`taskcenter_http_requests_total{${labels}} ${n}`);
    lines.push('# HELP taskcenter_http_request_duration_seconds Time to answer a request.');
    lines.push('# TYPE taskcenter_http_request_duration_seconds histogram');
    for (const [labels, h] of this.#latency) {
      BUCKETS.forEach((le, i) => lines.push(`taskcenter_http_request_duration_seconds_bucket{${labels},le="${le}"} ${h.counts[i]}`));
      lines.push(`taskcenter_http_request_duration_seconds_bucket{${labels},le="+Inf"} ${h.count}`);
      lines.push(`taskcenter_http_request_duration_seconds_sum{${labels}} ${h.sum}`);
      lines.push(`taskcenter_http_request_duration_seconds_count{${labels}} ${h.count}`);
    }
    lines.push('# HELP taskcenter_jobs_ingested_total Job reports processed, by result.');
    lines.push('# TYPE taskcenter_jobs_ingested_total counter');
    for (const [result, n] of this.#ingested) lines.push(`taskcenter_jobs_ingested_total{result="${result}"} ${n}`);
    lines.push('# HELP taskcenter_store_errors_total Requests that failed because the store was unavailable.');
    lines.push('# TYPE taskcenter_store_errors_total counter');
    lines.push(`taskcenter_store_errors_total ${this.#storeErrors}`);
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

/** Decorates the app with a Metrics, counts every response, and serves `GET /metrics`. */
export function installMetrics(app: FastifyInstance): Metrics {
  const metrics = new Metrics();
  app.decorate('metrics', metrics);
  app.addHook('onResponse', async (request, reply) => {
    metrics.observeRequest(request.routeOptions.url ?? 'unmatched', request.method, reply.statusCode, reply.elapsedTime / 1000);
  });
  app.get('/metrics', { schema: { tags: ['Operations'], summary: 'Prometheus metrics', hide: true } }, async (_request, reply) =>
    reply.type('text/plain; version=0.0.4').send(metrics.render()),
  );
  return metrics;
}
