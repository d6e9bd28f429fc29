import http from 'node:http';
import type { AddressInfo } from 'node:net';
import { Heartbeat, type JoinRequest } from '../../src/storage/heartbeat';
import { createLogger } from '../../src/util/logger';
import { waitFor } from '../helpers/wait';

const SERVER: JoinRequest = { server_id: 'server-1', address: '127.0.0.1:6001', available_space: 1, total_space: 2 };

describe('Heartbeat', () => {
  let gateway: http.Server;
  let joinUrl: string;
  const beats: Array<{ headers: http.IncomingHttpHeaders; body: unknown }> = [];

  beforeAll(async () => {
    gateway = http.createServer((request, response) => {
      let body = '';
      request.on('data', (piece) => (body += piece));
      request.on('end', () => {
        beats.push({ headers: request.headers, body: JSON.parse(body) });
        response.writeHead(200, { 'content-type': 'application/json' }).end('{}');
      });
    });
    await new Promise<void>((resolve) => gateway.listen(0, '127.0.0.1', resolve));
    joinUrl = `http://127.0.0.1:${(gateway.address() as AddressInfo).port}`;
  });

  afterAll(() => new Promise((resolve) => gateway.close(resolve)));

  // A process's first fetch loads undici and compiles its WebAssembly parser: 6-9 MB that an
  // idle storage server, whose heartbeat is its only HTTP client, kept for good.
  it('joins without fetch, sending its JSON description and the cluster token', async () => {
    const realFetch = globalThis.fetch;
    globalThis.fetch = () => Promise.reject(new Error('the heartbeat must not load fetch'));
    const heartbeat = new Heartbeat(joinUrl, 60_000, async () => SERVER, createLogger('heartbeat-test'), 'token-x');
    try {
      beats.length = 0;
      heartbeat.start();
      await waitFor(() => beats.length >= 1, { what: 'a join' });
      expect(beats[0].body).toEqual(SERVER);
      expect(beats[0].headers['content-type']).toBe('application/json');
      expect(beats[0].headers.authorization).toBe('Bearer token-x');
    } finally {
      heartbeat.stop();
      globalThis.fetch = realFetch;
    }
  });
});
