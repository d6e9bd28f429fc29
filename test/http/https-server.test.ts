import fs from 'node:fs';
import http from 'node:http';
import https from 'node:https';
import type { AddressInfo } from 'node:net';
import { createGatewayServer } from '../../src/http/https-server';
import { loadSecurityConfig } from '../../src/security';
import { makeTempDir, removeTempDirs } from '../helpers/storage-server';
import { makeTestPki, type TestPki } from '../security/test-pki';
import { describeIfFound, toolOrSkip, TOOLS } from '../helpers/tools';

// Throwaway certificates are made with the openssl CLI.
const OPENSSL = toolOrSkip(TOOLS.openssl, 'test/http/https-server.test.ts');

function get(url: string, ca?: Buffer): Promise<{ status: number; body: string }> {
  return new Promise((resolve, reject) => {
    const request = (url.startsWith('https:') ? https : http).get(url, { ca }, (response) => {
      let body = '';
      response.on('data', (piece) => (body += piece));
      response.on('end', () => resolve({ status: response.statusCode ?? 0, body }));
    });
    request.on('error', reject);
  });
}

describeIfFound(OPENSSL)('createGatewayServer', () => {
  let pki: TestPki;
  const servers: Array<http.Server | https.Server> = [];
  beforeAll(async () => {
    pki = makeTestPki(await makeTempDir('ringstore-https-'));
  });
  afterAll(async () => {
    await Promise.all(servers.map((s) => new Promise((resolve) => s.close(resolve))));
    await removeTempDirs();
  });

  async function listen(server: http.Server | https.Server): Promise<number> {
    servers.push(server);
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
    return (server.address() as AddressInfo).port;
  }
  const hello: http.RequestListener = (_req, res) => res.end('hello');

  it('serves HTTPS with GATEWAY_TLS_CERT/KEY, trusted through the CA, refused without it', async () => {
    const config = loadSecurityConfig({ GATEWAY_TLS_CERT: pki.serverCert, GATEWAY_TLS_KEY: pki.serverKey });
    const port = await listen(createGatewayServer(config, hello));
    expect(await get(`https://127.0.0.1:${port}/`, fs.readFileSync(pki.caCert))).toEqual({ status: 200, body: 'hello' });
    await expect(get(`https://127.0.0.1:${port}/`)).rejects.toThrow(/self.signed|unable to (get|verify)/i);
  });

  it("makes its requests and responses with the classes in its options, over HTTPS and HTTP (the gateway's Express-shaped ones)", async () => {
    class Request extends http.IncomingMessage {}
    class Response<R extends http.IncomingMessage = http.IncomingMessage> extends http.ServerResponse<R> {}
    const seen: boolean[] = [];
    const recording: http.RequestListener = (req, res) => {
      seen.push(req instanceof Request && res instanceof Response);
      res.end('hello');
    };
    const tls = loadSecurityConfig({ GATEWAY_TLS_CERT: pki.serverCert, GATEWAY_TLS_KEY: pki.serverKey });
    const classes = { IncomingMessage: Request, ServerResponse: Response };
    const securePort = await listen(createGatewayServer(tls, recording, classes));
    const plainPort = await listen(createGatewayServer(loadSecurityConfig({}), recording, classes));
    expect(await get(`https://127.0.0.1:${securePort}/`, fs.readFileSync(pki.caCert))).toEqual({ status: 200, body: 'hello' });
    expect(await get(`http://127.0.0.1:${plainPort}/`)).toEqual({ status: 200, body: 'hello' });
    expect(seen).toEqual([true, true]);
  });

  it('serves plain HTTP without TLS files', async () => {
    const port = await listen(createGatewayServer(loadSecurityConfig({}), hello));
    expect(await get(`http://127.0.0.1:${port}/`)).toEqual({ status: 200, body: 'hello' });
  });
});
