import http from 'node:http';
import type { AddressInfo } from 'node:net';
import { onRequestEnd, type RequestEnd } from '../../src/http/request-end';
import { waitFor } from '../helpers/wait';

/**
 * onRequestEnd: every observer of a response hears of its end once, with the same figures, and
 * all of them share one 'finish' and one 'close' listener (the access log and the request
 * metrics both observe every request).
 */
describe('onRequestEnd', () => {
  const ends: Array<{ url: string; observer: string; end: RequestEnd }> = [];
  const listeners: Array<{ finish: number; close: number }> = [];
  const server = http.createServer((req, res) => {
    const before = { finish: res.listenerCount('finish'), close: res.listenerCount('close') };
    for (const observer of ['log', 'metrics', 'third']) onRequestEnd(res, (end) => ends.push({ url: req.url ?? '', observer, end }));
    listeners.push({ finish: res.listenerCount('finish') - before.finish, close: res.listenerCount('close') - before.close });
    if (req.url === '/answer') res.writeHead(202).end('ok');
    // '/leave': never answered; the client goes away
  });
  let port = 0;

  beforeAll(async () => {
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
    port = (server.address() as AddressInfo).port;
  });
  afterAll(() => new Promise((resolve) => server.close(resolve)));

  it('tells each observer once, with one status and duration, through one listener of each event', async () => {
    const res = await fetch(`http://127.0.0.1:${port}/answer`);
    expect(await res.text()).toBe('ok');
    await waitFor(() => ends.filter((e) => e.url === '/answer').length >= 3, { what: 'three observers told' });
    const answered = ends.filter((e) => e.url === '/answer');
    expect(answered.map((e) => e.observer)).toEqual(['log', 'metrics', 'third']);
    expect(new Set(answered.map((e) => e.end)).size).toBe(1); // the same figures for all
    expect(answered[0].end.status).toBe(202);
    expect(answered[0].end.seconds).toBeGreaterThan(0);
    expect(listeners[0]).toEqual({ finish: 1, close: 1 });
  });

  it('tells them status 0 when the client leaves before any answer, and only once', async () => {
    const req = http.get(`http://127.0.0.1:${port}/leave`);
    req.on('error', () => undefined);
    await waitFor(() => listeners.length >= 2, { what: 'the request to arrive' });
    req.destroy();
    await waitFor(() => ends.filter((e) => e.url === '/leave').length >= 3, { what: 'three observers told' });
    const left = ends.filter((e) => e.url === '/leave');
    expect(left.map((e) => [e.observer, e.end.status])).toEqual([['log', 0], ['metrics', 0], ['third', 0]]);
  });
});
