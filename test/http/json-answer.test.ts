import type { AddressInfo } from 'node:net';
import express from 'express';
import { sendJson } from '../../src/http/json-answer';

/** sendJson answers byte for byte as res.status().json() does in an app with ETags off, as the gateway's. */
describe('sendJson', () => {
  const body = { file_id: 'a', filename: 'é \u2028 </script> "q" \\ 😀.bin', size: 4096, chunks: [{ n: 1, ids: ['x', 'y'] }], none: null };
  const app = express();
  app.disable('x-powered-by');
  app.set('etag', false);
  app.post('/express', (_req, res) => {
    res.status(201).json(body);
  });
  app.post('/direct', (_req, res) => sendJson(res, 201, body));
  // A header set before (by middleware, say) goes out too, with the answer's own.
  app.post('/express-after-header', (_req, res) => {
    res.setHeader('X-Request-Id', 'r1');
    res.status(201).json(body);
  });
  app.post('/direct-after-header', (_req, res) => {
    res.setHeader('X-Request-Id', 'r1');
    sendJson(res, 201, body);
  });
  const server = app.listen(0, '127.0.0.1');
  afterAll(() => new Promise((resolve) => server.close(resolve)));

  async function answer(path: string) {
    const res = await fetch(`http://127.0.0.1:${(server.address() as AddressInfo).port}${path}`, { method: 'POST' });
    const headers: Record<string, string> = {};
    res.headers.forEach((value, name) => {
      if (name !== 'date') headers[name] = value;
    });
    return { status: res.status, headers, body: Buffer.from(await res.arrayBuffer()).toString('hex') };
  }

  it('sends the same status, headers and bytes as Express', async () => {
    if (!server.listening) await new Promise((resolve) => server.once('listening', resolve));
    const direct = await answer('/direct');
    expect(direct.headers['content-type']).toBe('application/json; charset=utf-8');
    expect(direct).toEqual(await answer('/express'));
  });

  it('keeps a header set before it, as Express does', async () => {
    if (!server.listening) await new Promise((resolve) => server.once('listening', resolve));
    const direct = await answer('/direct-after-header');
    expect(direct.headers['x-request-id']).toBe('r1');
    expect(direct).toEqual(await answer('/express-after-header'));
  });
});
