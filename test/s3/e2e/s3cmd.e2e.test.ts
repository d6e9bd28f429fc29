/**
 * s3cmd (Debian's package) against a real cluster's S3 endpoint, configured as docs/s3.md says:
 * `mb`, `put` of a 12 MiB file in 5 MiB parts and of a small one, `ls`, `get` compared byte for
 * byte, `info`, `del`, `rb`.
 */
import { randomBytes } from 'node:crypto';
import { readFile, writeFile } from 'node:fs/promises';
import { HeadObjectCommand, type S3Client } from '@aws-sdk/client-s3';
import { METADATA_BACKENDS, type Cluster } from '../../helpers/cluster';
import { TOOLS, describeIfFound, toolOrSkip } from '../../helpers/tools';
import { CommandLineClient, md5Hex } from '../command-line-client';
import { S3_KEYS, s3Client, startS3Cluster } from '../s3-cluster';

jest.setTimeout(300_000);

const s3cmd = toolOrSkip(TOOLS.s3cmd, 'the s3cmd tests of the S3 endpoint (test/s3/e2e/s3cmd.e2e.test.ts)');

const MiB = 1024 * 1024;

/** ~/.s3cfg as docs/s3.md gives it (hostPort: the S3 listener's host:port). */
const config = (hostPort: string): string => `[default]
access_key = ${S3_KEYS.accessKeyId}
secret_key = ${S3_KEYS.secretAccessKey}
host_base = ${hostPort}
host_bucket = ${hostPort}
use_https = False
signature_v2 = False
bucket_location = us-east-1
`;

describeIfFound(s3cmd).each(METADATA_BACKENDS)('s3cmd against the S3 endpoint (%s)', (_name, postgresUrl) => {
  let cluster: Cluster;
  let s3: S3Client;
  let client: CommandLineClient;
  let cmd: (...args: string[]) => Promise<string>;

  beforeAll(async () => {
    cluster = await startS3Cluster({ storageServers: 3, postgresUrl });
    s3 = s3Client(cluster);
    client = await CommandLineClient.create(s3cmd!);
    await writeFile(client.file('.s3cfg'), config(new URL(cluster.gateway.s3Url).host));
    cmd = async (...args) => (await client.run(['--config', client.file('.s3cfg'), ...args])).stdout;
  });

  afterAll(async () => {
    s3?.destroy();
    await cluster?.stop();
    await client?.remove();
  });

  it('makes a bucket, puts a file in parts and one whole, lists, gets, deletes them', async () => {
    const big = randomBytes(12 * MiB);
    const small = randomBytes(2000);
    await writeFile(client.file('big.bin'), big);
    await writeFile(client.file('small.bin'), small);

    expect(await cmd('mb', 's3://s3cmd-bucket')).toMatch(/Bucket 's3:\/\/s3cmd-bucket\/' created/);
    await cmd('put', '--multipart-chunk-size-mb=5', 'big.bin', 's3://s3cmd-bucket/dir/big.bin');
    // Sent in three parts: S3's multipart ETag.
    const head = await s3.send(new HeadObjectCommand({ Bucket: 's3cmd-bucket', Key: 'dir/big.bin' }));
    expect([head.ContentLength, head.ETag]).toEqual([big.length, expect.stringMatching(/^"[0-9a-f]{32}-3"$/)]);
    await cmd('put', 'small.bin', 's3://s3cmd-bucket/small.bin');

    expect(await cmd('ls')).toMatch(/s3:\/\/s3cmd-bucket\n/);
    const top = await cmd('ls', 's3://s3cmd-bucket');
    expect(top).toMatch(/DIR\s+s3:\/\/s3cmd-bucket\/dir\/\n/);
    expect(top).toMatch(new RegExp(`\\s${small.length}\\s+s3://s3cmd-bucket/small\\.bin\\n`));
    expect(await cmd('ls', '--recursive', 's3://s3cmd-bucket')).toMatch(new RegExp(`\\s${big.length}\\s+s3://s3cmd-bucket/dir/big\\.bin\\n`));

    await cmd('get', 's3://s3cmd-bucket/dir/big.bin', 'big-down.bin');
    await cmd('get', 's3://s3cmd-bucket/small.bin', 'small-down.bin');
    const bigDown = await readFile(client.file('big-down.bin'));
    expect([bigDown.length, md5Hex(bigDown)]).toEqual([big.length, md5Hex(big)]);
    expect(md5Hex(await readFile(client.file('small-down.bin')))).toBe(md5Hex(small));
    expect(await cmd('info', 's3://s3cmd-bucket/small.bin')).toMatch(new RegExp(`MD5 sum:\\s+${md5Hex(small)}`));

    expect(await cmd('del', 's3://s3cmd-bucket/dir/big.bin', 's3://s3cmd-bucket/small.bin')).toMatch(/delete: 's3:\/\/s3cmd-bucket\/small\.bin'/);
    expect(await cmd('ls', '--recursive', 's3://s3cmd-bucket')).toBe('');
    await cmd('rb', 's3://s3cmd-bucket');
    expect(await cmd('ls')).not.toMatch(/s3cmd-bucket/);
  });
});
