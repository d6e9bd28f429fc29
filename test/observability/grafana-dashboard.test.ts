import { readFileSync } from 'node:fs';
import path from 'node:path';
import { createMetrics } from '../../src/observability/metrics';

const DOCKER = path.join(__dirname, '..', '..', 'docker');

describe('docker monitoring config', () => {
  it('the Grafana dashboard queries only metrics the gateway exposes', async () => {
    const dashboard = JSON.parse(readFileSync(path.join(DOCKER, 'grafana', 'dashboards', 'ringstore.json'), 'utf8'));
    const exprs: string[] = dashboard.panels.flatMap((panel: { targets?: Array<{ expr: string }> }) => (panel.targets ?? []).map((t) => t.expr));
    const referenced = new Set(exprs.flatMap((expr) => expr.match(/ringstore_[a-z_]+/g) ?? [])
      .map((name) => name.replace(/_(bucket|sum|count)$/, '')));
    expect(referenced.size).toBeGreaterThanOrEqual(15);

    const exposed = await createMetrics().registry.metrics();
    const missing = [...referenced].filter((name) => !exposed.includes(`# TYPE ${name} `));
    expect(missing).toEqual([]);
    for (const panel of dashboard.panels) {
      for (const target of panel.targets ?? []) expect(target.datasource.uid).toBe('prometheus');
    }
  });

  it('Prometheus scrapes the gateways at /metrics with the datasource Grafana expects', () => {
    const prometheus = readFileSync(path.join(DOCKER, 'prometheus.yml'), 'utf8');
    expect(prometheus).toMatch(/metrics_path: \/metrics/);
    expect(prometheus).toMatch(/gateway-1:8080/);
    const datasource = readFileSync(path.join(DOCKER, 'grafana', 'provisioning', 'datasources', 'prometheus.yml'), 'utf8');
    expect(datasource).toMatch(/uid: prometheus/);
    expect(datasource).toMatch(/url: http:\/\/prometheus:9090/);
  });
});
