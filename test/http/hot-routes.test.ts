import http from 'node:http';
import type { AddressInfo } from 'node:net';
import express, { type RequestHandler } from 'express';
import { expressShapedClasses } from '../../src/http/express-shaped';
import { hotRouteDispatcher, type HotRoute } from '../../src/http/hot-routes';
import { errorHandler, HttpError } from '../../src/http/http-error';
import { httpMetrics } from '../../src/http/request-metrics';
import { createMetrics } from '../../src/observability/metrics';
import { createLogger } from '../../src/util/logger';

/**
 * The hot routes answer exactly as Express does: every request is sent twice, once spelled the
 * plain way (taken by the dispatcher) and once with a trailing slash (which the dispatcher leaves
 * to Express's router, where the same route matches it), and both answers must be the same.
 */
describe.each([
  ['a plain server', false],
  ['a server making Express-shaped requests', true],
])('hotRouteDispatcher on %s', (_server, shaped) => {
  const metrics = createMetrics();
  const seen: string[] = [];
  const log = createLogger('test');
  const middleware: RequestHandler[] = [httpMetrics(metrics), (req, _res, next) => {
    seen.push(`middleware ${req.method}`);
    next();
  }];
  const guard: RequestHandler = (req, res, next) => {
    if (req.headers['x-token'] === 'ok') next();
    else res.status(401).set('WWW-Authenticate', 'Bearer realm="test"').json({ error: 'authentication required' });
  };
  const upload: RequestHandler = async (req, res) => {
    await Promise.resolve();
    if (req.query.filename === 'bad') throw new HttpError(400, 'bad file name', { filename: 'bad' });
    res.status(201).json({ filename: req.query.filename, base: req.baseUrl, ip: req.ip });
  };
  const prototypes: Array<{ req: boolean; res: boolean }> = [];
  const download: RequestHandler = (req, res) => {
    prototypes.push({ req: Object.getPrototypeOf(req) === classes.IncomingMessage.prototype, res: Object.getPrototypeOf(res) === classes.ServerResponse.prototype });
    if (req.params.id === 'missing') throw new HttpError(404, `file ${req.params.id} not found`);
    res.set('ETag', '"x"').type('text/plain').send(`file ${req.params.id}`);
  };
  const routes: HotRoute[] = [
    { method: 'POST', path: '/', handlers: [guard, upload] },
    { method: 'GET', path: '/:id', handlers: [guard, download] },
  ];
  const app = express();
  for (const handler of middleware) app.use(handler);
  const router = express.Router();
  router.post('/', guard, upload);
  router.get('/:id', guard, download);
  app.use('/files', router);
  const lastHandler = errorHandler(log);
  app.use(lastHandler);
  const classes = expressShapedClasses(app);
  const hot = hotRouteDispatcher({ app, middleware, mountPath: '/files', routes, errorHandler: lastHandler, madeWith: classes });
  let taken = 0;
  const server = http.createServer(shaped ? classes : {}, (req, res) => {
    if (hot(req, res)) taken++;
    else app(req, res);
  });
  let base = '';

  beforeAll(async () => {
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
    base = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
  });
  afterAll(() => new Promise((resolve) => server.close(resolve)));

  async function answer(path: string, init: RequestInit) {
    const res = await fetch(base + path, init);
    const headers: Record<string, string> = {};
    res.headers.forEach((value, name) => {
      if (name !== 'date' && name !== 'keep-alive' && name !== 'connection') headers[name] = value;
    });
    return { status: res.status, headers, body: await res.text() };
  }

  const cases: Array<[string, string, string, RequestInit]> = [
    ['an upload', '/files', '?filename=a.txt', { method: 'POST', body: 'abc', headers: { 'x-token': 'ok' } }],
    ['an upload the handler refuses', '/files', '?filename=bad', { method: 'POST', body: 'abc', headers: { 'x-token': 'ok' } }],
    ['an upload the guard refuses', '/files', '', { method: 'POST', body: 'abc' }],
    ['a download', '/files/6f1c1a52-5f3e-4d7e-9a39-6a3f3c2b9d10', '', { headers: { 'x-token': 'ok' } }],
    ['a download of a missing file', '/files/missing', '', { headers: { 'x-token': 'ok' } }],
  ];

  it.each(cases)('answers %s as Express does', async (_what, path, query, init) => {
    const before = taken;
    const fast = await answer(path + query, init);
    expect(taken).toBe(before + 1);
    const routed = await answer(`${path}/${query}`, init);
    expect(taken).toBe(before + 1);
    expect(fast).toEqual(routed);
  });

  it('runs the middleware and labels the route as Express does', async () => {
    seen.length = 0;
    await answer('/files/abc', { headers: { 'x-token': 'ok' } });
    await answer('/files/abc/', { headers: { 'x-token': 'ok' } });
    expect(seen).toEqual(['middleware GET', 'middleware GET']);
    const counted = (await metrics.httpRequests.get()).values.filter((v) => v.labels.route === '/files/:id' && v.labels.status === '200');
    // Four downloads of existing files so far: the two of the cases above, and these two.
    expect(counted.map((v) => v.value)).toEqual([4]);
  });

  it(shaped ? 'keeps the prototypes the server made its objects with' : "gives the objects Express's prototypes", async () => {
    prototypes.length = 0;
    await answer('/files/abc', { headers: { 'x-token': 'ok' } });
    await answer('/files/abc/', { headers: { 'x-token': 'ok' } }); // through Express's router
    expect(prototypes).toEqual([{ req: shaped, res: shaped }, { req: false, res: false }]);
  });

  it('leaves every other request to Express', async () => {
    const before = taken;
    for (const path of ['/files/a/b', '/files/a%20b', '/FILES/abc', '/files-page', '/filesx', '/files/']) {
      await answer(path, { headers: { 'x-token': 'ok' } });
    }
    await answer('/files/abc', { method: 'DELETE', headers: { 'x-token': 'ok' } });
    await answer('/files', { headers: { 'x-token': 'ok' } });
    expect(taken).toBe(before);
  });
});
