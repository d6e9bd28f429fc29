import type { Counter, Histogram } from 'prom-client';
import type { Metrics } from './metrics';

/** One API operation's totals since the gateway started. */
export interface OperationTraffic {
  operation: string;
  requests: number;
  client_errors: number;
  server_errors: number;
  /** Clients that went away before any answer. */
  dropped: number;
  mean_ms: number | null;
  /** The upper bound of the latency bucket holding the 99th percentile (null above the last). */
  p99_at_most_ms: number | null;
}

export interface TrafficView {
  apis: Array<{ api: 'files' | 's3'; operations: OperationTraffic[] }>;
}

type TrafficMetrics = Pick<Metrics, 'httpRequests' | 'httpRequestDuration' | 's3Requests' | 's3RequestDuration'>;

/** Routes that are the operator's own (the dashboard polls them), not clients' traffic. */
const OPERATOR_ROUTES = /^\/(admin|metrics)(\/|$)/;

/**
 * What clients asked of this gateway, per API and operation, read from the Prometheus
 * instruments (so the dashboard and /metrics always agree): the file API by method and route
 * pattern, S3 by operation.
 */
export async function trafficView(metrics: TrafficMetrics): Promise<TrafficView> {
  const files = await operations(
    metrics.httpRequests,
    metrics.httpRequestDuration,
    (labels) => (OPERATOR_ROUTES.test(String(labels.route)) ? undefined : `${labels.method} ${labels.route}`),
  );
  const s3 = await operations(metrics.s3Requests, metrics.s3RequestDuration, (labels) => String(labels.operation));
  return { apis: [{ api: 'files', operations: files }, { api: 's3', operations: s3 }] };
}

type Labels = Record<string, string | number | undefined>;

async function operations(
  requests: Counter<string>,
  durations: Histogram<string>,
  /** The operation a label set belongs to, or undefined to leave it out. */
  operationOf: (labels: Labels) => string | undefined,
): Promise<OperationTraffic[]> {
  const byOperation = new Map<string, OperationTraffic>();
  const entry = (operation: string) => {
    let found = byOperation.get(operation);
    if (!found) {
      found = { operation, requests: 0, client_errors: 0, server_errors: 0, dropped: 0, mean_ms: null, p99_at_most_ms: null };
      byOperation.set(operation, found);
    }
    return found;
  };
  for (const { labels, value } of (await requests.get()).values) {
    const operation = operationOf(labels);
    if (operation === undefined) continue;
    const found = entry(operation);
    const status = Number(labels.status);
    found.requests += value;
    if (status >= 400 && status < 500) found.client_errors += value;
    if (status >= 500) found.server_errors += value;
    if (status === 0) found.dropped += value;
  }
  // One histogram series per operation: its sum and count give the mean, its buckets the p99.
  const latency = new Map<string, { sum: number; count: number; buckets: Array<[number, number]> }>();
  for (const { labels, value, metricName } of (await durations.get()).values) {
    const operation = operationOf(labels);
    if (operation === undefined || !byOperation.has(operation)) continue;
    let series = latency.get(operation);
    if (!series) latency.set(operation, (series = { sum: 0, count: 0, buckets: [] }));
    if (metricName?.endsWith('_sum')) series.sum += value;
    else if (metricName?.endsWith('_count')) series.count += value;
    else if (metricName?.endsWith('_bucket') && labels.le !== '+Inf') series.buckets.push([Number(labels.le), value]);
  }
  for (const [operation, { sum, count, buckets }] of latency) {
    if (count === 0) continue;
    const found = byOperation.get(operation)!;
    found.mean_ms = round((sum / count) * 1000);
    const p99 = buckets.sort((a, b) => a[0] - b[0]).find(([, below]) => below >= count * 0.99);
    found.p99_at_most_ms = p99 ? round(p99[0] * 1000) : null;
  }
  return [...byOperation.values()].sort((a, b) => b.requests - a.requests || a.operation.localeCompare(b.operation));
}

function round(ms: number): number {
  return Math.round(ms * 10) / 10;
}
