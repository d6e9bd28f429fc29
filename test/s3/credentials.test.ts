import { mkdtemp, readFile, rm, stat, writeFile, chmod, readdir } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { inspect } from 'node:util';
import { CREDENTIALS_FILE, generateKeyPair, loadS3Credentials, parseKeysFile } from '../../src/s3/credentials';
import { ConfigError } from '../../src/util/env';

let dir: string;
beforeEach(async () => {
  dir = await mkdtemp(path.join(os.tmpdir(), 'ringstore-s3-keys-'));
});
afterEach(async () => {
  await rm(dir, { recursive: true, force: true });
});

async function configError(promise: Promise<unknown>): Promise<string> {
  try {
    await promise;
  } catch (error) {
    expect(error).toBeInstanceOf(ConfigError);
    return (error as Error).message;
  }
  throw new Error('expected a ConfigError');
}

describe('from the environment', () => {
  test('one pair', async () => {
    const keys = await loadS3Credentials({ S3_ACCESS_KEY: 'admin', S3_SECRET_KEY: 'a-long-secret' }, dir);
    expect(keys).toMatchObject({ source: 'environment', created: false, accessKeyIds: ['admin'] });
    expect(keys.secretFor('admin')).toBe('a-long-secret');
    expect(keys.secretFor('other')).toBeUndefined();
    // The sole key uses every bucket, including those made under an earlier key.
    expect(keys.grantsOf('admin')).toEqual(['*']);
    expect(keys.firstStartNotice()).toBeUndefined();
    expect(await readdir(dir)).toEqual([]);
  });

  test('bad settings fail with one line naming the variable and never the secret', async () => {
    const cases: [Record<string, string>, RegExp][] = [
      [{ S3_ACCESS_KEY: 'admin' }, /^S3_SECRET_KEY must be set together with S3_ACCESS_KEY$/],
      [{ S3_SECRET_KEY: 'a-long-secret' }, /^S3_ACCESS_KEY must be set/],
      [{ S3_ACCESS_KEY: 'ad', S3_SECRET_KEY: 'a-long-secret' }, /^S3_ACCESS_KEY\/S3_SECRET_KEY: an access key id/],
      [{ S3_ACCESS_KEY: 'a/b', S3_SECRET_KEY: 'a-long-secret' }, /^S3_ACCESS_KEY\/S3_SECRET_KEY: an access key id/],
      [{ S3_ACCESS_KEY: 'admin', S3_SECRET_KEY: 'short' }, /^S3_ACCESS_KEY\/S3_SECRET_KEY: a secret key/],
      [{ S3_ACCESS_KEY: 'admin', S3_SECRET_KEY: 'has space inside' }, /a secret key/],
      [{ S3_ACCESS_KEY: 'admin', S3_SECRET_KEY: 'a-long-secret', S3_KEYS_FILE: '/x' }, /^S3_KEYS_FILE cannot be combined/],
    ];
    for (const [env, message] of cases) {
      const text = await configError(loadS3Credentials(env, dir));
      expect(text).toMatch(message);
      expect(text).not.toContain('\n');
      if (env.S3_SECRET_KEY) expect(text).not.toContain(env.S3_SECRET_KEY);
    }
  });
});

describe('from S3_KEYS_FILE', () => {
  test('several users, comments and blank lines', async () => {
    const file = path.join(dir, 'keys');
    await writeFile(file, '# ringstore S3 users\nalice  alice-secret-1\n\n\tbob\tbob-secret-22  \r\n');
    const keys = await loadS3Credentials({ S3_KEYS_FILE: file }, dir);
    expect(keys).toMatchObject({ source: 'keys-file', accessKeyIds: ['alice', 'bob'] });
    expect(keys.secretFor('bob')).toBe('bob-secret-22');
    expect(keys.grantsOf('alice')).toEqual([]);
  });

  test('a line may grant buckets besides the key\'s own, or every bucket', async () => {
    const keys = parseKeysFile('alice alice-secret-1 photos backups-2026\nops ops-secret-01 *\nbob bob-secret-22');
    expect(keys.map((key) => [key.accessKeyId, key.grants])).toEqual([
      ['alice', ['photos', 'backups-2026']],
      ['ops', ['*']],
      ['bob', []],
    ]);
  });

  test('malformed files name the line, never its content', async () => {
    const cases: [string, RegExp][] = [
      ['alice', /^S3_KEYS_FILE line 1: expected/],
      ['alice secret-number-1 Not_A_Bucket', /^S3_KEYS_FILE line 1: "Not_A_Bucket" is neither a bucket name nor '\*'/],
      ['# only comments\n', /^S3_KEYS_FILE lists no access key$/],
      ['alice secret-number-1\nalice secret-number-2', /^S3_KEYS_FILE line 2: access key id alice is listed twice$/],
      ['alice tiny', /^S3_KEYS_FILE line 1: a secret key/],
    ];
    for (const [text, message] of cases) {
      expect(() => parseKeysFile(text)).toThrow(message);
      try {
        parseKeysFile(text);
      } catch (error) {
        expect((error as Error).message).not.toMatch(/secret-number|tiny/);
      }
    }
    expect(await configError(loadS3Credentials({ S3_KEYS_FILE: path.join(dir, 'missing') }, dir))).toMatch(/^S3_KEYS_FILE cannot be read: ENOENT/);
  });
});

describe('generated on first start', () => {
  test('created once, mode 0600, the same pair on every later start, shown only the first time', async () => {
    const first = await loadS3Credentials({}, dir);
    expect(first).toMatchObject({ source: 'data-dir', created: true });
    const [id] = first.accessKeyIds;
    expect(id).toMatch(/^[A-Z2-7]{20}$/);
    const secret = first.secretFor(id)!;
    expect(secret).toMatch(/^[A-Za-z0-9_-]{40}$/);
    expect(first.firstStartNotice()).toContain(secret);

    const file = path.join(dir, CREDENTIALS_FILE);
    expect((await stat(file)).mode & 0o777).toBe(0o600);
    expect(JSON.parse(await readFile(file, 'utf8'))).toEqual({ accessKeyId: id, secretAccessKey: secret });
    expect(await readdir(dir)).toEqual([CREDENTIALS_FILE]); // no temporary file left

    const again = await loadS3Credentials({}, dir);
    expect(again).toMatchObject({ created: false, accessKeyIds: [id] });
    expect(again.secretFor(id)).toBe(secret);
    expect(again.firstStartNotice()).toBeUndefined();
  });

  test('gateways starting together on one data directory agree on one pair', async () => {
    const all = await Promise.all(Array.from({ length: 6 }, () => loadS3Credentials({}, dir)));
    expect(new Set(all.map((keys) => keys.accessKeyIds[0])).size).toBe(1);
    expect(all.filter((keys) => keys.created)).toHaveLength(1);
    expect(await readdir(dir)).toEqual([CREDENTIALS_FILE]);
  });

  test('a file readable by others is made private again; a corrupt one is a ConfigError', async () => {
    const first = await loadS3Credentials({}, dir);
    const file = path.join(dir, CREDENTIALS_FILE);
    await chmod(file, 0o644);
    expect((await loadS3Credentials({}, dir)).accessKeyIds).toEqual(first.accessKeyIds);
    expect((await stat(file)).mode & 0o777).toBe(0o600);
    await writeFile(file, '{"accessKeyId": "x"');
    expect(await configError(loadS3Credentials({}, dir))).toMatch(/is not valid JSON/);
    await writeFile(file, '{"accessKeyId": "abc", "secretAccessKey": "1"}');
    expect(await configError(loadS3Credentials({}, dir))).toMatch(/a secret key/);
  });

  test('the data directory is created when missing', async () => {
    const nested = path.join(dir, 'a', 'b');
    expect((await loadS3Credentials({}, nested)).created).toBe(true);
  });
});

test('secrets never show in JSON, util.inspect or string forms', async () => {
  const keys = await loadS3Credentials({ S3_ACCESS_KEY: 'admin', S3_SECRET_KEY: 'do-not-print-me' }, dir);
  for (const text of [JSON.stringify(keys), inspect(keys, { depth: 10, showHidden: true }), String(keys), `${JSON.stringify({ keys })}`]) {
    expect(text).not.toContain('do-not-print-me');
  }
  const pairs = new Set(Array.from({ length: 50 }, () => generateKeyPair().accessKeyId));
  expect(pairs.size).toBe(50);
});
