import type { AddressInfo } from 'node:net';
import express from 'express';
import { FileTooLargeError } from '../../src/files/errors';
import { errorHandler, toHttpError } from '../../src/http/http-error';
import { MetadataUnavailableError } from '../../src/metadata/errors';
import { ChunkUnreadableError, NoStorageServerError, StorageBusyError } from '../../src/replicas/errors';
import { toS3Error } from '../../src/s3/domain-errors';
import type { Logger } from '../../src/util/logger';

describe('domain errors as HTTP answers', () => {
  it('maps each kind to its status, with Retry-After where waiting helps', () => {
    const tooLarge = toHttpError(new FileTooLargeError(1000))!;
    expect(tooLarge.status).toBe(413);
    expect(tooLarge.details).toEqual({ max_file_size: 1000 });
    expect(tooLarge.message).toMatch(/size/);

    const noServer = toHttpError(new NoStorageServerError('no storage server is available to store the file; retry shortly'))!;
    expect([noServer.status, noServer.headers['Retry-After']]).toEqual([503, '2']);

    const unreadable = toHttpError(new ChunkUnreadableError({ chunkNumber: 2, chunkId: 'c' }, new Error('breaker open')), { file_id: 'f' })!;
    expect(unreadable.status).toBe(503);
    expect(unreadable.details).toEqual({ file_id: 'f' });
    expect(unreadable.message).toContain('chunk 2 (c) could not be read from any replica: breaker open');
  });

  it('answers busy storage servers with 503 and Retry-After: 1 in the file API, SlowDown in S3', () => {
    const busy = new StorageBusyError('the storage servers are busy: ...; retry shortly', { busy_servers: 3 });
    const mapped = toHttpError(busy)!;
    expect([mapped.status, mapped.headers['Retry-After'], mapped.message, mapped.details]).toEqual([503, '1', busy.message, { busy_servers: 3 }]);
    expect(toS3Error(busy).code).toBe('SlowDown');
  });

  it('tells a client the database is unavailable without the host or path behind it', () => {
    const mapped = toHttpError(new MetadataUnavailableError('embedded metadata database in /srv/secret/metadata is not running'))!;
    expect([mapped.status, mapped.headers['Retry-After']]).toEqual([503, '2']);
    expect(mapped.message).toBe('metadata database unavailable; retry shortly');
  });

  it('leaves anything else to be a logged 500, never a 503 that hides a bug', async () => {
    expect(toHttpError(new Error('syntax error at or near "SELCT"'))).toBeUndefined();
    const logged: string[] = [];
    const log = { error: (line: string) => logged.push(line), warn: () => undefined } as unknown as Logger;
    const app = express();
    app.get('/bug', () => {
      throw new Error('syntax error at or near "SELCT"');
    });
    app.get('/down', () => {
      throw new MetadataUnavailableError('metadata database 10.0.0.9:5432 is unreachable');
    });
    app.use(errorHandler(log));
    const server = app.listen(0, '127.0.0.1');
    await new Promise((resolve) => server.once('listening', resolve));
    try {
      const base = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
      const bug = await fetch(`${base}/bug`);
      expect(bug.status).toBe(500);
      expect(await bug.json()).toEqual({ error: 'internal server error' });
      expect(logged.join('\n')).toContain('SELCT');
      const down = await fetch(`${base}/down`);
      expect([down.status, down.headers.get('retry-after')]).toEqual([503, '2']);
      expect(await down.json()).toEqual({ error: 'metadata database unavailable; retry shortly' });
    } finally {
      await new Promise((resolve) => server.close(resolve));
    }
  });
});
