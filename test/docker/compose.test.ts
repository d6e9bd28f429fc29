/**
 * docker/compose.yml as docker-compose itself resolves it (`docker-compose config`): no Docker
 * engine runs here, so this is the check that the cluster file is valid and wired right.
 */
import fs from 'node:fs';
import path from 'node:path';
import { describeIfFound, toolOrSkip, TOOLS } from '../helpers/tools';
import { REPO_ROOT, parseYaml, runComposeConfig } from './compose-config';

interface Service {
  image?: string;
  build?: { context: string; dockerfile: string };
  command?: string[];
  environment?: Record<string, string>;
  restart?: string;
  depends_on?: Record<string, { condition: string }>;
  healthcheck?: { test: string[] };
  volumes?: Array<string | { type: string; source: string; target: string }>;
  ports?: Array<{ published: number | string; target: number }>;
}
interface ComposeConfig {
  services: Record<string, Service>;
  volumes: Record<string, unknown>;
}

const TOKEN = 'test-cluster-token';
const STORAGE = ['storage-1', 'storage-2', 'storage-3', 'storage-4', 'storage-5', 'storage-6'];
const GATEWAYS = ['gateway-1', 'gateway-2'];
const RINGSTORE = [...GATEWAYS, ...STORAGE];
const ALL = ['postgres', 'lb', 'prometheus', 'grafana', ...RINGSTORE];

const COMPOSE = toolOrSkip(TOOLS.dockerCompose, 'test/docker/compose.test.ts');

/** Volume entries as {source, target}, whichever syntax docker-compose printed. */
function mounts(service: Service): Array<{ source: string; target: string }> {
  return (service.volumes ?? []).map((volume) => {
    if (typeof volume !== 'string') return { source: volume.source, target: volume.target };
    const [source, target] = volume.split(':');
    return { source, target };
  });
}

describeIfFound(COMPOSE)('docker/compose.yml', () => {
  let config: ComposeConfig;

  beforeAll(() => {
    const result = runComposeConfig(COMPOSE!, { CLUSTER_TOKEN: TOKEN });
    if (result.status !== 0) throw new Error(`docker-compose config failed:\n${result.stderr}`);
    config = parseYaml(result.stdout) as ComposeConfig;
  });

  test('defines exactly the cluster services', () => {
    expect(Object.keys(config.services).sort()).toEqual([...ALL].sort());
  });

  test('refuses to start without CLUSTER_TOKEN, naming the variable', () => {
    const result = runComposeConfig(COMPOSE!, {});
    expect(result.status).not.toBe(0);
    expect(result.stderr).toContain('set CLUSTER_TOKEN');
  });

  test('every service restarts unless stopped', () => {
    for (const [name, service] of Object.entries(config.services)) {
      expect({ name, restart: service.restart }).toEqual({ name, restart: 'unless-stopped' });
    }
  });

  test('every ringstore service runs the one image and gets CLUSTER_TOKEN', () => {
    for (const name of RINGSTORE) {
      const service = config.services[name];
      expect({ name, dockerfile: service.build?.dockerfile, context: service.build?.context }).toEqual({
        name, dockerfile: 'docker/Dockerfile', context: REPO_ROOT,
      });
      expect({ name, token: service.environment?.CLUSTER_TOKEN }).toEqual({ name, token: TOKEN });
    }
  });

  test('gateways share PostgreSQL and wait until it is healthy', () => {
    expect(config.services.postgres.healthcheck?.test).toBeDefined();
    for (const name of GATEWAYS) {
      const service = config.services[name];
      expect(service.command).toEqual(['gateway']);
      expect(service.environment?.DATABASE_URL).toMatch(/^postgres:\/\/[^@]+@postgres:5432\/ringstore$/);
      expect(service.depends_on?.postgres?.condition).toBe('service_healthy');
    }
  });

  test('the load balancer publishes 8080 and proxies to both gateways', () => {
    const lb = config.services.lb;
    expect(lb.ports?.map((port) => [Number(port.published), port.target])).toContainEqual([8080, 8080]);
    for (const name of GATEWAYS) expect(lb.depends_on?.[name]?.condition).toBe('service_healthy');
    const nginx = mounts(lb).find((mount) => mount.target === '/etc/nginx/nginx.conf');
    expect(nginx).toBeDefined();
    const conf = fs.readFileSync(nginx!.source, 'utf8');
    const upstreams = [...conf.matchAll(/^\s*server\s+([\w-]+):8080\b/gm)].map((match) => match[1]);
    expect(upstreams.sort()).toEqual(GATEWAYS);
    // Streaming uploads of any size: no buffering and no body cap in front of the gateway.
    expect(conf).toMatch(/proxy_request_buffering\s+off;/);
    expect(conf).toMatch(/client_max_body_size\s+0;/);
  });

  test('each storage server has its own volume, advertises its own name and joins through the balancer', () => {
    const sources = new Set<string>();
    for (const name of STORAGE) {
      const service = config.services[name];
      const data = mounts(service).find((mount) => mount.target === '/data');
      expect({ name, volume: data?.source }).toEqual({ name, volume: `${name}-data` });
      expect(config.volumes).toHaveProperty(`${name}-data`);
      sources.add(data!.source);
      expect(service.command).toEqual(['storage', '--advertise', `${name}:50051`]);
      expect(service.environment).toMatchObject({ GRPC_PORT: '50051', GRPC_HOST: '0.0.0.0', DATA_DIR: '/data', JOIN_URL: 'http://lb:8080' });
      expect(service.depends_on?.lb?.condition).toBe('service_healthy');
    }
    expect(sources.size).toBe(STORAGE.length);
  });

  test('every file mounted from the repository exists', () => {
    const binds = Object.values(config.services)
      .flatMap(mounts)
      .filter((mount) => path.isAbsolute(mount.source));
    expect(binds.length).toBeGreaterThan(0);
    for (const bind of binds) expect({ source: bind.source, exists: fs.existsSync(bind.source) }).toEqual({ source: bind.source, exists: true });
  });

  test('Prometheus sends ADMIN_TOKEN on every scrape: compose writes it to the credentials file prometheus.yml reads', () => {
    const prometheusYml = parseYaml(fs.readFileSync(path.join(REPO_ROOT, 'docker/prometheus.yml'), 'utf8')) as {
      scrape_configs: Array<{ job_name: string; authorization?: { type?: string; credentials_file?: string } }>;
    };
    const jobs = prometheusYml.scrape_configs.filter((job) => job.job_name.startsWith('ringstore'));
    expect(jobs.length).toBeGreaterThan(0);
    const files = new Set(jobs.map((job) => job.authorization?.credentials_file));
    expect(jobs.map((job) => job.authorization?.type ?? 'Bearer')).toEqual(jobs.map(() => 'Bearer'));
    expect(files.size).toBe(1);
    const [credentialsFile] = [...files];
    expect(credentialsFile).toMatch(/^\//);

    const withToken = runComposeConfig(COMPOSE!, { CLUSTER_TOKEN: TOKEN, ADMIN_TOKEN: 'the-admin-token' });
    expect(withToken.status).toBe(0);
    const service = (parseYaml(withToken.stdout) as ComposeConfig & { services: Record<string, { entrypoint?: string[] }> }).services.prometheus;
    expect(service.environment?.ADMIN_TOKEN).toBe('the-admin-token');
    // `config` prints the escaped `$$`; the container gets a single `$` for its shell to expand.
    const script = service.entrypoint!.join(' ').replace(/\$\$/g, '$');
    // The variable is expanded by the container's shell, at start, into that very file.
    expect(script).toContain(`printf '%s' "$ADMIN_TOKEN" > ${credentialsFile}`);
    expect(script).toMatch(/exec \/bin\/prometheus --config\.file=\/etc\/prometheus\/prometheus\.yml/);
    const mounted = mounts(service).find((mount) => mount.target === '/etc/prometheus/prometheus.yml');
    expect(mounted?.source).toBe(path.join(REPO_ROOT, 'docker/prometheus.yml'));

    // Unset, the file is written empty and /metrics is open: compose still resolves.
    const without = runComposeConfig(COMPOSE!, { CLUSTER_TOKEN: TOKEN });
    expect((parseYaml(without.stdout) as ComposeConfig).services.prometheus.environment?.ADMIN_TOKEN ?? '').toBe('');
  });

  test('Prometheus scrapes only services of this cluster', () => {
    const prometheus = parseYaml(fs.readFileSync(path.join(REPO_ROOT, 'docker/prometheus.yml'), 'utf8')) as {
      scrape_configs: Array<{ static_configs?: Array<{ targets: string[] }> }>;
    };
    const hosts = prometheus.scrape_configs
      .flatMap((job) => job.static_configs ?? [])
      .flatMap((group) => group.targets)
      .map((target) => target.split(':')[0]);
    expect(hosts).toEqual(expect.arrayContaining(GATEWAYS));
    for (const host of hosts) expect([...ALL, 'localhost']).toContain(host);
  });

  test('Grafana loads dashboards from where compose mounts them', () => {
    const grafana = config.services.grafana;
    const provisioning = mounts(grafana).find((mount) => mount.target === '/etc/grafana/provisioning');
    const dashboards = mounts(grafana).find((mount) => mount.source.endsWith('docker/grafana/dashboards'));
    expect(provisioning?.source).toBe(path.join(REPO_ROOT, 'docker/grafana/provisioning'));
    expect(fs.existsSync(path.join(dashboards!.source, 'ringstore.json'))).toBe(true);
    const providerDir = path.join(provisioning!.source, 'dashboards');
    const providerPaths = fs.readdirSync(providerDir)
      .filter((file) => /\.ya?ml$/.test(file))
      .flatMap((file) => {
        const provider = parseYaml(fs.readFileSync(path.join(providerDir, file), 'utf8')) as {
          providers: Array<{ options?: { path?: string } }>;
        };
        return provider.providers.map((entry) => entry.options?.path);
      });
    expect(providerPaths).toContain(dashboards!.target);
  });

  test('Grafana data sources point at services of this cluster', () => {
    const dir = path.join(REPO_ROOT, 'docker/grafana/provisioning/datasources');
    const urls = fs.readdirSync(dir)
      .filter((file) => /\.ya?ml$/.test(file))
      .flatMap((file) => (parseYaml(fs.readFileSync(path.join(dir, file), 'utf8')) as { datasources: Array<{ url: string }> }).datasources)
      .map((source) => new URL(source.url));
    expect(urls.map((url) => url.hostname)).toContain('prometheus');
    for (const url of urls) expect(ALL).toContain(url.hostname);
  });
});
