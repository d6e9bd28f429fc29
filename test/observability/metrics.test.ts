import express from 'express';
import type { AddressInfo } from 'node:net';
import { waitFor } from '../helpers/wait';
import { httpMetrics } from '../../src/http/request-metrics';
import { bindConnectionMetrics, createMetrics, type Metrics } from '../../src/observability/metrics';
import { FakeSupervisor } from '../http/admin/fake-supervisor';

/** The value of one series, read back through the registry as Prometheus would see it. */
async function value(metrics: Metrics, name: string, labels: Record<string, string> = {}): Promise<number | undefined> {
  const metric = metrics.registry.getSingleMetric(name);
  if (!metric) throw new Error(`metric ${name} is not registered`);
  const { values } = await metric.get();
  const match = values.find((v) => Object.entries(labels).every(([k, l]) => String(v.labels[k]) === l)
    && Object.keys(v.labels).filter((k) => k !== 'le').length === Object.keys(labels).length);
  return match?.value;
}

describe('connection metrics', () => {
  let metrics: Metrics;
  let supervisor: FakeSupervisor;
  let unbind: () => void;

  beforeEach(() => {
    metrics = createMetrics();
    supervisor = new FakeSupervisor([{ serverId: 's1' }, { serverId: 's2' }, { serverId: 's3', state: 'Idle' }]);
    unbind = bindConnectionMetrics(metrics, supervisor);
  });
  afterEach(() => unbind());

  it('shows each server in exactly one connection and breaker state, read at scrape time', async () => {
    expect(await value(metrics, 'ringstore_connection_state', { server_id: 's1', state: 'Ready' })).toBe(1);
    expect(await value(metrics, 'ringstore_connection_state', { server_id: 's1', state: 'Idle' })).toBe(0);
    expect(await value(metrics, 'ringstore_connection_state', { server_id: 's3', state: 'Idle' })).toBe(1);
    expect(await value(metrics, 'ringstore_storage_servers_ready')).toBe(2);

    supervisor.move('s1', 'TransientFailure');
    supervisor.move('s1', 'open', { machine: 'breaker' });
    expect(await value(metrics, 'ringstore_connection_state', { server_id: 's1', state: 'Ready' })).toBe(0);
    expect(await value(metrics, 'ringstore_connection_state', { server_id: 's1', state: 'TransientFailure' })).toBe(1);
    expect(await value(metrics, 'ringstore_breaker_state', { server_id: 's1', state: 'open' })).toBe(1);
    expect(await value(metrics, 'ringstore_breaker_state', { server_id: 's1', state: 'closed' })).toBe(0);
    expect(await value(metrics, 'ringstore_breaker_opens_total', { server_id: 's1' })).toBe(1);
    expect(await value(metrics, 'ringstore_storage_servers_ready')).toBe(1);

    const text = await metrics.registry.getSingleMetricAsString('ringstore_connection_state');
    expect(text.split('\n').filter((line) => line.startsWith('ringstore_connection_state{'))).toHaveLength(15);
  });

  it('drops the series of a server retired from the ring', async () => {
    supervisor.remove('s2');
    expect(await value(metrics, 'ringstore_connection_state', { server_id: 's2', state: 'Ready' })).toBeUndefined();
    expect(await value(metrics, 'ringstore_connection_state', { server_id: 's1', state: 'Ready' })).toBe(1);
  });

  it('counts reconnect attempts and failures and times the way back to Ready', async () => {
    const t0 = 1_700_000_000_000;
    supervisor.move('s1', 'TransientFailure', { at: t0 });
    supervisor.move('s1', 'Connecting', { at: t0 + 1000 });
    supervisor.move('s1', 'TransientFailure', { at: t0 + 1500 });
    supervisor.move('s1', 'Connecting', { at: t0 + 2000 });
    supervisor.move('s1', 'Ready', { at: t0 + 2500 });

    expect(await value(metrics, 'ringstore_reconnect_attempts_total', { server_id: 's1' })).toBe(2);
    expect(await value(metrics, 'ringstore_reconnect_failures_total', { server_id: 's1' })).toBe(1);
    expect(await value(metrics, 'ringstore_connection_transitions_total', { server_id: 's1', from: 'TransientFailure', to: 'Connecting' })).toBe(2);
    const histogram = await metrics.registry.getSingleMetricAsString('ringstore_reconnect_duration_seconds');
    expect(histogram).toContain('ringstore_reconnect_duration_seconds_count{server_id="s1"} 1');
    expect(histogram).toContain('ringstore_reconnect_duration_seconds_sum{server_id="s1"} 2.5');
    expect(histogram).toContain('ringstore_reconnect_duration_seconds_bucket{le="2",server_id="s1"} 0');
    expect(histogram).toContain('ringstore_reconnect_duration_seconds_bucket{le="5",server_id="s1"} 1');
  });

  it('times every health probe per server, answered apart from failed', async () => {
    supervisor.probe('s1', 0.004);
    supervisor.probe('s1', 0.006);
    supervisor.probe('s1', 0.3, false);
    const histogram = await metrics.registry.getSingleMetricAsString('ringstore_health_probe_duration_seconds');
    expect(histogram).toContain('ringstore_health_probe_duration_seconds_count{server_id="s1",outcome="answered"} 2');
    expect(histogram).toContain('ringstore_health_probe_duration_seconds_sum{server_id="s1",outcome="answered"} 0.01');
    expect(histogram).toContain('ringstore_health_probe_duration_seconds_count{server_id="s1",outcome="failed"} 1');
    expect(histogram).toContain('ringstore_health_probe_duration_seconds_sum{server_id="s1",outcome="failed"} 0.3');
    expect(histogram).not.toContain('server_id="s2"');
  });

  it('counts every entry into Connecting (a first dial starts there, no transition), and a direct TransientFailure -> Ready', async () => {
    supervisor.move('s3', 'Connecting'); // an Idle channel (a dropped connection) kicked
    supervisor.move('s3', 'Ready');
    expect(await value(metrics, 'ringstore_reconnect_attempts_total', { server_id: 's3' })).toBe(1);
    // s3 was never seen Ready before: no reconnect duration.
    expect(await metrics.registry.getSingleMetricAsString('ringstore_reconnect_duration_seconds')).not.toContain('s3');

    supervisor.move('s2', 'TransientFailure');
    supervisor.move('s2', 'Ready');
    expect(await value(metrics, 'ringstore_reconnect_attempts_total', { server_id: 's2' })).toBe(1);
    supervisor.move('s2', 'Connecting', { reason: 'health probe failed, recreating channel' });
    expect(await value(metrics, 'ringstore_reconnect_attempts_total', { server_id: 's2' })).toBe(2);
  });

  it('stops following the supervisor once unbound', async () => {
    unbind();
    expect(supervisor.listenerCount()).toBe(0);
    supervisor.move('s1', 'TransientFailure');
    expect(await value(metrics, 'ringstore_connection_transitions_total', { server_id: 's1', from: 'Ready', to: 'TransientFailure' })).toBeUndefined();
    expect(await value(metrics, 'ringstore_connection_state', { server_id: 's1', state: 'Ready' })).toBeUndefined();
  });

  it('exposes every instrument and the default process metrics under the ringstore_ prefix', async () => {
    const text = await metrics.registry.metrics();
    for (const name of [
      'ringstore_connection_state', 'ringstore_connection_transitions_total', 'ringstore_reconnect_attempts_total',
      'ringstore_reconnect_failures_total', 'ringstore_reconnect_duration_seconds', 'ringstore_breaker_state',
      'ringstore_breaker_opens_total', 'ringstore_health_probe_duration_seconds', 'ringstore_storage_servers_ready',
      'ringstore_http_requests_total', 'ringstore_http_request_duration_seconds', 'ringstore_bytes_uploaded_total',
      'ringstore_bytes_downloaded_total', 'ringstore_chunk_operations_total', 'ringstore_chunk_retries_total',
      'ringstore_job_runs_total', 'ringstore_job_items_total', 'ringstore_files_total',
      'ringstore_process_cpu_seconds_total', 'ringstore_nodejs_heap_size_used_bytes',
    ]) {
      expect(text).toContain(`# TYPE ${name} `);
    }
  });
});

describe('httpMetrics', () => {
  it('labels requests by route pattern and status, never by raw URL', async () => {
    const metrics = createMetrics();
    const app = express();
    app.use(httpMetrics(metrics));
    app.get('/files/:id', (req, res) => {
      res.status(req.params.id === 'missing' ? 404 : 200).send('x');
    });
    const admin = express.Router();
    admin.get('/connections', (_req, res) => {
      res.json({});
    });
    app.use('/admin', admin);
    const server = app.listen(0, '127.0.0.1');
    await new Promise((resolve) => server.once('listening', resolve));
    const base = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
    try {
      const fileId = '6f1c1a52-5f3e-4d7e-9a39-6a3f3c2b9d10';
      for (const path of [`/files/${fileId}`, `/files/${fileId}`, '/files/missing', '/admin/connections', `/nope/${fileId}`]) {
        await (await fetch(base + path)).text();
      }
      const counted = async () => (await metrics.httpRequests.get()).values.reduce((sum, v) => sum + v.value, 0);
      await waitFor(async () => (await counted()) === 5, { timeoutMs: 2000, what: 'all 5 requests to be counted' });
      expect(await value(metrics, 'ringstore_http_requests_total', { method: 'GET', route: 'unmatched', status: '404' })).toBe(1);
      expect(await value(metrics, 'ringstore_http_requests_total', { method: 'GET', route: '/files/:id', status: '200' })).toBe(2);
      expect(await value(metrics, 'ringstore_http_requests_total', { method: 'GET', route: '/files/:id', status: '404' })).toBe(1);
      expect(await value(metrics, 'ringstore_http_requests_total', { method: 'GET', route: '/admin/connections', status: '200' })).toBe(1);
      const text = await metrics.registry.metrics();
      expect(text).toContain('ringstore_http_request_duration_seconds_count{method="GET",route="/files/:id"} 3');
      expect(text).not.toContain(fileId);
    } finally {
      await new Promise((resolve) => server.close(resolve));
    }
  });
});
