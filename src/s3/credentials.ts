/**
 * S3 access keys. In order of precedence:
 *  - S3_ACCESS_KEY and S3_SECRET_KEY: one user;
 *  - S3_KEYS_FILE: several users, one `<access key id> <secret access key> [<bucket>|* ...]`
 *    line per key (fields separated by spaces or tabs; blank lines and lines starting with #
 *    are ignored). A key uses the buckets it creates, and those its line grants ('*': every
 *    bucket);
 *  - else a random pair made on first start and kept in <DATA_DIR>/s3-credentials.json
 *    (mode 0600, written atomically), which the caller prints once when `created` is true.
 * Secrets live in a private field: they never appear in logs, errors, JSON or util.inspect.
 */
import { randomBytes } from 'node:crypto';
import { chmod, link, mkdir, open, readFile, stat, unlink } from 'node:fs/promises';
import path from 'node:path';
import { ConfigError, envOptionalString } from '../util/env';
import { bucketNameProblem } from './names';
import { fsyncDir } from '../util/fsync-dir.cjs';
import { createLogger } from '../util/logger';

const log = createLogger('s3');

export const CREDENTIALS_FILE = 's3-credentials.json';

/** What the SigV4 verifier asks of the credentials. */
export interface SecretLookup {
  /** The secret of an access key id, or undefined for an unknown one. */
  secretFor(accessKeyId: string): string | undefined;
}

export interface AccessKeyPair {
  accessKeyId: string;
  secretAccessKey: string;
}

/** A key and the buckets it may use besides its own (bucket names, or '*' for every bucket; none if unset). */
export interface AccessKey extends AccessKeyPair {
  grants?: readonly string[];
}

/** The one key of a one-key setup uses every bucket, including those made under an earlier key. */
const EVERY_BUCKET = ['*'] as const;

/** Letters, digits, dot, underscore, hyphen: nothing a credential scope or header would split on. */
const ACCESS_KEY_ID = /^[A-Za-z0-9._-]{3,128}$/;
/** Printable ASCII without spaces, 8 to 128 characters (AWS's own are 40). */
const SECRET_ACCESS_KEY = /^[\x21-\x7e]{8,128}$/;

export class S3Credentials implements SecretLookup {
  readonly #secrets: Map<string, string>;
  readonly #grants: Map<string, readonly string[]>;

  constructor(
    keys: readonly AccessKey[],
    /** Where the keys came from, for the startup log. */
    readonly source: 'environment' | 'keys-file' | 'data-dir',
    /** True when this start made the pair: print it once with firstStartNotice(). */
    readonly created = false,
  ) {
    this.#secrets = new Map(keys.map((key) => [key.accessKeyId, key.secretAccessKey]));
    this.#grants = new Map(keys.map((key) => [key.accessKeyId, key.grants ?? []]));
  }

  secretFor(accessKeyId: string): string | undefined {
    return this.#secrets.get(accessKeyId);
  }

  /** The buckets the key may use besides those it created ('*': every bucket). */
  grantsOf(accessKeyId: string): readonly string[] {
    return this.#grants.get(accessKeyId) ?? [];
  }

  /** The access key ids (never the secrets), for logs and the dashboard. */
  get accessKeyIds(): string[] {
    return [...this.#secrets.keys()];
  }

  /**
   * The text to print to the terminal once, when this start created the pair (undefined
   * otherwise): the one time the secret is shown. It goes to stdout, never to the logger.
   */
  firstStartNotice(): string | undefined {
    if (!this.created) return undefined;
    const [[accessKeyId, secret]] = this.#secrets;
    return [
      'S3 access key created (shown once; kept readable only by this user in the data directory):',
      `  Access key: ${accessKeyId}`,
      `  Secret key: ${secret}`,
    ].join('\n');
  }
}

function checkPair(pair: AccessKeyPair, where: string): AccessKeyPair {
  if (!ACCESS_KEY_ID.test(pair.accessKeyId)) {
    throw new ConfigError(`${where}: an access key id must be 3 to 128 letters, digits, '.', '_' or '-'`);
  }
  if (!SECRET_ACCESS_KEY.test(pair.secretAccessKey)) {
    throw new ConfigError(`${where}: a secret key must be 8 to 128 printable ASCII characters without spaces`);
  }
  return pair;
}

/** Parses S3_KEYS_FILE's text; messages name the line, never a secret. */
export function parseKeysFile(text: string): AccessKey[] {
  const keys: AccessKey[] = [];
  const seen = new Set<string>();
  text.split(/\r?\n/).forEach((line, index) => {
    const trimmed = line.trim();
    if (trimmed === '' || trimmed.startsWith('#')) return;
    const where = `S3_KEYS_FILE line ${index + 1}`;
    const [accessKeyId, secretAccessKey, ...grants] = trimmed.split(/[ \t]+/);
    if (secretAccessKey === undefined) throw new ConfigError(`${where}: expected "<access key id> <secret key> [<bucket>|* ...]"`);
    const pair = checkPair({ accessKeyId, secretAccessKey }, where);
    for (const grant of grants) {
      if (grant !== '*' && bucketNameProblem(grant) !== undefined) throw new ConfigError(`${where}: "${grant.slice(0, 70)}" is neither a bucket name nor '*' (every bucket)`);
    }
    if (seen.has(pair.accessKeyId)) throw new ConfigError(`${where}: access key id ${pair.accessKeyId} is listed twice`);
    seen.add(pair.accessKeyId);
    keys.push({ ...pair, grants });
  });
  if (keys.length === 0) throw new ConfigError('S3_KEYS_FILE lists no access key');
  return keys;
}

/** A new random pair: a 20-character id and a 40-character secret, like AWS's. */
export function generateKeyPair(): AccessKeyPair {
  const alphabet = 'ABCDEFGHIJKLMNOPQRSTUVWXYZ234567';
  const id = [...randomBytes(18)].map((byte) => alphabet[byte % 32]).join('');
  return { accessKeyId: `RS${id}`.slice(0, 20), secretAccessKey: randomBytes(30).toString('base64').replaceAll('/', '_').replaceAll('+', '-') };
}

async function readStoredPair(file: string): Promise<AccessKeyPair> {
  const text = await readFile(file, 'utf8');
  let parsed: Partial<AccessKeyPair>;
  try {
    parsed = JSON.parse(text) as Partial<AccessKeyPair>;
  } catch {
    throw new ConfigError(`${file} (under DATA_DIR) is not valid JSON: remove it to make a new S3 key pair, or set S3_ACCESS_KEY/S3_SECRET_KEY`);
  }
  const pair = { accessKeyId: String(parsed?.accessKeyId ?? ''), secretAccessKey: String(parsed?.secretAccessKey ?? '') };
  return checkPair(pair, `${file} (under DATA_DIR)`);
}

/**
 * The stored pair, or a new one written atomically: a private temporary file, fsynced, then
 * hard-linked into place, which fails if another gateway on the same directory got there first
 * (its pair is then used).
 */
async function storedOrNewPair(dataDir: string): Promise<{ pair: AccessKeyPair; created: boolean }> {
  const file = path.join(dataDir, CREDENTIALS_FILE);
  try {
    const pair = await readStoredPair(file);
    const { mode } = await stat(file);
    if ((mode & 0o077) !== 0) {
      await chmod(file, 0o600);
      log.warn(`${file} was readable by others; mode set to 0600`, { file });
    }
    return { pair, created: false };
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code !== 'ENOENT') throw error;
  }
  await mkdir(dataDir, { recursive: true });
  const pair = generateKeyPair();
  const temporary = `${file}.${process.pid}.${randomBytes(4).toString('hex')}.tmp`;
  const handle = await open(temporary, 'wx', 0o600);
  try {
    await handle.writeFile(`${JSON.stringify(pair, null, 2)}\n`);
    await handle.sync();
  } finally {
    await handle.close();
  }
  try {
    await link(temporary, file);
    await fsyncDir(dataDir);
    return { pair, created: true };
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code !== 'EEXIST') throw error;
    return { pair: await readStoredPair(file), created: false };
  } finally {
    await unlink(temporary);
  }
}

/** The access keys as configured (see the top of this file); ConfigError for a bad setting. */
export async function loadS3Credentials(env: Record<string, string | undefined>, dataDir: string): Promise<S3Credentials> {
  const accessKey = envOptionalString(env, 'S3_ACCESS_KEY');
  const secretKey = envOptionalString(env, 'S3_SECRET_KEY');
  const keysFile = envOptionalString(env, 'S3_KEYS_FILE');
  if ((accessKey === undefined) !== (secretKey === undefined)) {
    throw new ConfigError(`${accessKey === undefined ? 'S3_ACCESS_KEY' : 'S3_SECRET_KEY'} must be set together with ${accessKey === undefined ? 'S3_SECRET_KEY' : 'S3_ACCESS_KEY'}`);
  }
  if (accessKey !== undefined && keysFile !== undefined) {
    throw new ConfigError('S3_KEYS_FILE cannot be combined with S3_ACCESS_KEY/S3_SECRET_KEY: list every pair in the file');
  }
  if (accessKey !== undefined) {
    const pair = checkPair({ accessKeyId: accessKey, secretAccessKey: secretKey! }, 'S3_ACCESS_KEY/S3_SECRET_KEY');
    return new S3Credentials([{ ...pair, grants: EVERY_BUCKET }], 'environment');
  }
  if (keysFile !== undefined) {
    let text: string;
    try {
      text = await readFile(keysFile, 'utf8');
    } catch (error) {
      throw new ConfigError(`S3_KEYS_FILE cannot be read: ${(error as NodeJS.ErrnoException).code ?? 'error'} ${keysFile}`);
    }
    return new S3Credentials(parseKeysFile(text), 'keys-file');
  }
  const { pair, created } = await storedOrNewPair(dataDir);
  return new S3Credentials([{ ...pair, grants: EVERY_BUCKET }], 'data-dir', created);
}
