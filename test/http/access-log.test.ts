import { EventEmitter } from 'node:events';
import type { NextFunction, Request, Response } from 'express';
import { accessLog } from '../../src/http/access-log';
import type { Logger } from '../../src/util/logger';

const LEVELS = ['error', 'warn', 'info', 'http', 'verbose', 'debug'];

/** A logger at `level` that keeps its lines (winston's npm levels). */
function memoryLogger(level: string) {
  const lines: Array<{ level: string; message: string }> = [];
  const logger = {
    isLevelEnabled: (asked: string) => LEVELS.indexOf(asked) <= LEVELS.indexOf(level),
    log: (at: string, message: string) => lines.push({ level: at, message }),
  };
  return { log: logger as unknown as Logger, lines };
}

/** One request through the access log, answered with `status`; counts reads of req.path. */
function request(log: Logger, method: string, url: string, status: number) {
  const reads = { path: 0 };
  const req = {
    method,
    originalUrl: url,
    socket: { remoteAddress: '127.0.0.1' },
    get path() {
      reads.path++;
      return url.split('?')[0];
    },
  } as unknown as Request;
  const res = Object.assign(new EventEmitter(), { headersSent: true, statusCode: status }) as unknown as Response;
  accessLog(log)(req, res, (() => undefined) as NextFunction);
  res.emit('finish');
  return reads;
}

describe('accessLog', () => {
  it('logs a request at info and a routine one (health, heartbeat) at debug', () => {
    const { log, lines } = memoryLogger('debug');
    request(log, 'POST', '/files?filename=a', 201);
    request(log, 'GET', '/health', 200);
    request(log, 'POST', '/admin/servers/', 200);
    request(log, 'POST', '/admin/serversx', 200);
    request(log, 'GET', '/health', 503);
    expect(lines.map((l) => [l.level, l.message.replace(/ [\d.]+ ms$/, '')])).toEqual([
      ['info', 'POST /files?filename=a 201'],
      ['debug', 'GET /health 200'],
      ['debug', 'POST /admin/servers/ 200'],
      ['info', 'POST /admin/serversx 200'],
      ['info', 'GET /health 503'],
    ]);
  });

  it('at info leaves routine requests out', () => {
    const { log, lines } = memoryLogger('info');
    request(log, 'GET', '/health', 200);
    request(log, 'GET', '/files/x', 200);
    expect(lines.map((l) => l.message.replace(/ [\d.]+ ms$/, ''))).toEqual(['GET /files/x 200']);
  });

  it('at warn builds nothing, and does not even look at the path', () => {
    const { log, lines } = memoryLogger('warn');
    const reads = [request(log, 'GET', '/health', 200), request(log, 'GET', '/files/x', 200)];
    expect(lines).toEqual([]);
    expect(reads.map((r) => r.path)).toEqual([0, 0]);
  });
});
