/**
 * docker/healthcheck.cjs, the container HEALTHCHECK for every role: what it probes for a given
 * command line, and its verdict against real HTTP and gRPC servers on loopback.
 */
import http from 'node:http';
import * as grpc from '@grpc/grpc-js';
import { HealthImplementation } from 'grpc-health-check';
import { freePort } from '../helpers/ports';

interface ProbeTarget {
  kind: 'http' | 'grpc';
  host: string;
  port: number;
}
const { probeTarget, probe } = require('../../docker/healthcheck.cjs') as {
  probeTarget(commandLine: string[], env: Record<string, string | undefined>): ProbeTarget;
  probe(target: ProbeTarget): Promise<void>;
};

describe('probeTarget', () => {
  const cli = ['node', 'src/cli/ringstore.cjs'];

  test('a gateway (and `up`) is probed over HTTP on HOST:PORT', () => {
    expect(probeTarget([...cli, 'gateway', ''], { HOST: '0.0.0.0', PORT: '9000' })).toEqual({ kind: 'http', host: '127.0.0.1', port: 9000 });
    expect(probeTarget([...cli, 'gateway', ''], { HOST: '10.1.2.3' })).toEqual({ kind: 'http', host: '10.1.2.3', port: 8080 });
    expect(probeTarget([...cli, 'up', ''], {})).toEqual({ kind: 'http', host: '127.0.0.1', port: 8080 });
    expect(probeTarget([...cli, 'up', '--port', '9100', ''], { PORT: '9000' })).toEqual({ kind: 'http', host: '127.0.0.1', port: 9100 });
  });

  test('a storage server is probed over gRPC, flags before env before defaults', () => {
    expect(probeTarget([...cli, 'storage', '--port', '6000', '--host', '0.0.0.0', ''], { GRPC_PORT: '7000' }))
      .toEqual({ kind: 'grpc', host: '127.0.0.1', port: 6000 });
    expect(probeTarget([...cli, 'storage', '--port=6001', ''], { GRPC_HOST: '10.1.2.3' }))
      .toEqual({ kind: 'grpc', host: '10.1.2.3', port: 6001 });
    expect(probeTarget([...cli, 'storage', ''], { GRPC_PORT: '7000' })).toEqual({ kind: 'grpc', host: '127.0.0.1', port: 7000 });
    expect(probeTarget([...cli, 'storage', ''], {})).toEqual({ kind: 'grpc', host: '127.0.0.1', port: 50051 });
  });

  test('finds the command behind an init process (compose `init: true`)', () => {
    expect(probeTarget(['/sbin/docker-init', '--', ...cli, 'storage', '--advertise', 'storage-1:50051', ''], {}).kind).toBe('grpc');
  });

  test('says so when the container does not run ringstore', () => {
    expect(() => probeTarget(['sh', '-c', 'sleep 1', ''], {})).toThrow('no ringstore command');
  });
});

describe('probe', () => {
  const closers: Array<() => Promise<void>> = [];
  afterEach(async () => {
    await Promise.all(closers.splice(0).map((close) => close()));
  });

  async function httpServer(status: number): Promise<number> {
    const port = await freePort();
    const server = http.createServer((request, response) => {
      response.writeHead(request.url === '/health' ? status : 404).end();
    });
    await new Promise<void>((resolve) => server.listen(port, '127.0.0.1', resolve));
    closers.push(() => new Promise((resolve) => server.close(() => resolve())));
    return port;
  }

  async function grpcServer(health: HealthImplementation): Promise<number> {
    const server = new grpc.Server();
    health.addToServer(server);
    const port = await new Promise<number>((resolve, reject) =>
      server.bindAsync('127.0.0.1:0', grpc.ServerCredentials.createInsecure(), (error, bound) => (error ? reject(error) : resolve(bound))));
    closers.push(async () => void server.forceShutdown());
    return port;
  }

  test('a gateway answering 200 on /health is healthy; 503 is not', async () => {
    await expect(probe({ kind: 'http', host: '127.0.0.1', port: await httpServer(200) })).resolves.toBeUndefined();
    await expect(probe({ kind: 'http', host: '127.0.0.1', port: await httpServer(503) })).rejects.toThrow('answered 503');
  });

  test('a storage server is healthy only while SERVING', async () => {
    const health = new HealthImplementation({ '': 'SERVING' });
    const port = await grpcServer(health);
    await expect(probe({ kind: 'grpc', host: '127.0.0.1', port })).resolves.toBeUndefined();
    health.setStatus('', 'NOT_SERVING');
    await expect(probe({ kind: 'grpc', host: '127.0.0.1', port })).rejects.toThrow('not SERVING');
  });

  test('nothing listening is unhealthy, for both kinds', async () => {
    const port = await freePort();
    await expect(probe({ kind: 'http', host: '127.0.0.1', port })).rejects.toThrow('ECONNREFUSED');
    await expect(probe({ kind: 'grpc', host: '127.0.0.1', port })).rejects.toThrow('gRPC health check failed');
  });
});
