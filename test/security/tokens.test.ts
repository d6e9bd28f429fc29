import { createBearerVerifier, parseBearerToken } from '../../src/security';

describe('tokens', () => {
  it('compares tokens exactly, whatever their lengths', () => {
    const verify = createBearerVerifier(['s3cret-token']);
    expect(verify('Bearer s3cret-token')).toBe('ok');
    expect(verify('Bearer s3cret-tokeN')).toBe('wrong');
    expect(verify('Bearer s3cret')).toBe('wrong');
    expect(verify('Bearer s3cret-token-and-more')).toBe('wrong');
  });

  it.each([
    ['Bearer abc.DEF-123', 'abc.DEF-123'],
    ['bearer abc', 'abc'],
    ['BEARER   abc  ', 'abc'],
    ['Bearer', undefined],
    ['Bearer ', undefined],
    ['Basic dXNlcjpwYXNz', undefined],
    ['Bearer two tokens', undefined],
    ['abc', undefined],
    [undefined, undefined],
  ])('parses %j as %j', (header, token) => {
    expect(parseBearerToken(header)).toBe(token);
  });

  it('tells a missing token from a wrong one and accepts any of several', () => {
    const verify = createBearerVerifier(['first-token', 'second-token']);
    expect(verify(undefined)).toBe('missing');
    expect(verify('Basic abc')).toBe('missing');
    expect(verify('Bearer nope')).toBe('wrong');
    expect(verify('Bearer first-token')).toBe('ok');
    expect(verify('Bearer second-token')).toBe('ok');
    expect(createBearerVerifier([])('Bearer anything')).toBe('wrong');
  });
});
