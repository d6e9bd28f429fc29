import { createMetrics } from '../../src/observability/metrics';
import { trafficView } from '../../src/observability/traffic';

describe('trafficView: client requests per API and operation, from the Prometheus instruments', () => {
  it('sums statuses per operation into requests and errors, with mean and p99 bound, busiest first', async () => {
    const metrics = createMetrics();
    const file = (status: number, seconds: number) => {
      metrics.httpRequests.inc({ method: 'POST', route: '/files', status: String(status) });
      metrics.httpRequestDuration.observe({ method: 'POST', route: '/files' }, seconds);
    };
    for (let i = 0; i < 97; i++) file(201, 0.004);
    file(400, 0.002);
    file(503, 0.02);
    file(0, 0.2); // the client went away before any answer
    metrics.httpRequests.inc({ method: 'GET', route: '/files/:id', status: '200' });
    metrics.httpRequestDuration.observe({ method: 'GET', route: '/files/:id' }, 0.3);
    // The operator's own routes are not client traffic.
    metrics.httpRequests.inc({ method: 'GET', route: '/admin/connections', status: '200' });
    metrics.httpRequests.inc({ method: 'GET', route: '/metrics', status: '200' });
    metrics.s3Requests.inc({ operation: 'PutObject', status: '200' }, 3);
    metrics.s3Requests.inc({ operation: 'GetObject', status: '404' });

    const view = await trafficView(metrics);
    expect(view.apis.map((a) => a.api)).toEqual(['files', 's3']);
    expect(view.apis[0].operations).toEqual([
      // 97 x 4 ms, 2 ms, 20 ms, 200 ms: mean 6.1 ms; the 99th request is within the 25 ms bucket.
      { operation: 'POST /files', requests: 100, client_errors: 1, server_errors: 1, dropped: 1, mean_ms: 6.1, p99_at_most_ms: 25 },
      { operation: 'GET /files/:id', requests: 1, client_errors: 0, server_errors: 0, dropped: 0, mean_ms: 300, p99_at_most_ms: 500 },
    ]);
    // No durations recorded for S3 here: counts without latency.
    expect(view.apis[1].operations).toEqual([
      { operation: 'PutObject', requests: 3, client_errors: 0, server_errors: 0, dropped: 0, mean_ms: null, p99_at_most_ms: null },
      { operation: 'GetObject', requests: 1, client_errors: 1, server_errors: 0, dropped: 0, mean_ms: null, p99_at_most_ms: null },
    ]);
  });

  it('has no p99 bound when the 99th percentile is beyond the last bucket', async () => {
    const metrics = createMetrics();
    metrics.s3Requests.inc({ operation: 'PutObject', status: '200' });
    metrics.s3RequestDuration.observe({ operation: 'PutObject' }, 45);
    const [put] = (await trafficView(metrics)).apis[1].operations;
    expect(put).toMatchObject({ requests: 1, mean_ms: 45_000, p99_at_most_ms: null });
  });
});
