import { checkConditions } from '../../src/s3/conditions';
import type { ObjectRecord } from '../../src/metadata/types';
import { s3CodeOf } from './s3-error-of';

const object = { etag: 'abc', lastModified: new Date('2024-05-01T12:00:00.500Z') } as ObjectRecord;
const before = 'Wed, 01 May 2024 11:59:59 GMT';
const same = 'Wed, 01 May 2024 12:00:00 GMT';
const after = 'Wed, 01 May 2024 12:00:01 GMT';

function check(headers: Record<string, string>, prefix = '') {
  return checkConditions((name) => headers[name], object, prefix);
}

describe('conditional requests', () => {
  it('If-Match and If-Unmodified-Since: 412 when they fail; If-Match decides when both are sent', () => {
    expect(check({ 'if-match': '"abc"' })).toBe('ok');
    expect(check({ 'if-match': '"x", "abc"' })).toBe('ok');
    expect(check({ 'if-match': '*' })).toBe('ok');
    expect(s3CodeOf(() => check({ 'if-match': '"x"' }))).toBe('PreconditionFailed');
    expect(s3CodeOf(() => check({ 'if-unmodified-since': before }))).toBe('PreconditionFailed');
    expect(check({ 'if-unmodified-since': same })).toBe('ok');
    expect(check({ 'if-match': '"abc"', 'if-unmodified-since': before })).toBe('ok');
  });

  it('If-None-Match and If-Modified-Since: 304; If-None-Match decides when both are sent', () => {
    expect(check({ 'if-none-match': '"abc"' })).toBe('not-modified');
    expect(check({ 'if-none-match': '"x"' })).toBe('ok');
    expect(check({ 'if-modified-since': same })).toBe('not-modified');
    expect(check({ 'if-modified-since': after })).toBe('not-modified');
    expect(check({ 'if-modified-since': before })).toBe('ok');
    expect(check({ 'if-none-match': '"x"', 'if-modified-since': after })).toBe('ok');
    expect(check({ 'if-modified-since': 'not a date' })).toBe('ok');
  });

  it('copy-source conditions fail with 412, never 304', () => {
    expect(s3CodeOf(() => check({ 'x-amz-copy-source-if-none-match': '"abc"' }, 'x-amz-copy-source-'))).toBe('PreconditionFailed');
    expect(s3CodeOf(() => check({ 'x-amz-copy-source-if-modified-since': after }, 'x-amz-copy-source-'))).toBe('PreconditionFailed');
    expect(check({ 'x-amz-copy-source-if-match': '"abc"' }, 'x-amz-copy-source-')).toBe('ok');
  });
});
