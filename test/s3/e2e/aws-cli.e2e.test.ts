/**
 * The AWS CLI (Debian's awscli) against a real cluster's S3 endpoint, configured as docs/s3.md
 * says: `aws s3 cp` up and down of a file that goes multipart, `aws s3 ls`, `aws s3api
 * head-object`, a server-side copy of the multipart object, `aws s3 rm`; every round trip
 * compared byte for byte.
 */
import { randomBytes } from 'node:crypto';
import { readFile, writeFile } from 'node:fs/promises';
import path from 'node:path';
import { METADATA_BACKENDS, type Cluster } from '../../helpers/cluster';
import { TOOLS, describeIfFound, toolOrSkip } from '../../helpers/tools';
import { CommandLineClient, md5Hex } from '../command-line-client';
import { S3_KEYS, startS3Cluster } from '../s3-cluster';

jest.setTimeout(300_000);

const aws = toolOrSkip(TOOLS.aws, 'the AWS CLI tests of the S3 endpoint (test/s3/e2e/aws-cli.e2e.test.ts)');

const MiB = 1024 * 1024;

/** ~/.aws/config as docs/s3.md gives it, with 5 MiB parts so 20 MiB goes up in 4. */
const CONFIG = `[default]
region = us-east-1
output = json
cli_pager =
s3 =
  addressing_style = path
  multipart_threshold = 8MB
  multipart_chunksize = 5MB
`;

const CREDENTIALS = `[default]
aws_access_key_id = ${S3_KEYS.accessKeyId}
aws_secret_access_key = ${S3_KEYS.secretAccessKey}
`;

interface HeadObjectOutput {
  ContentLength: number;
  ETag: string;
  Metadata: Record<string, string>;
}

describeIfFound(aws).each(METADATA_BACKENDS)('the AWS CLI against the S3 endpoint (%s)', (_name, postgresUrl) => {
  let cluster: Cluster;
  let client: CommandLineClient;
  let cli: (...args: string[]) => Promise<string>;
  const big = randomBytes(20 * MiB);

  beforeAll(async () => {
    cluster = await startS3Cluster({ storageServers: 3, postgresUrl });
    client = await CommandLineClient.create(aws!, (dir) => ({
      AWS_CONFIG_FILE: path.join(dir, 'config'),
      AWS_SHARED_CREDENTIALS_FILE: path.join(dir, 'credentials'),
    }));
    await writeFile(client.file('config'), CONFIG);
    await writeFile(client.file('credentials'), CREDENTIALS);
    cli = async (...args) => (await client.run(['--endpoint-url', cluster.gateway.s3Url, ...args])).stdout;
    await writeFile(client.file('big.bin'), big);
  });

  afterAll(async () => {
    await cluster?.stop();
    await client?.remove();
  });

  const headObject = async (bucket: string, key: string): Promise<HeadObjectOutput> =>
    JSON.parse(await cli('s3api', 'head-object', '--bucket', bucket, '--key', key)) as HeadObjectOutput;

  it('copies a 20 MiB file up in parts and down again, lists it, heads it and removes it', async () => {
    await cli('s3', 'mb', 's3://cli-bucket');
    await cli('s3', 'cp', '--only-show-errors', 'big.bin', 's3://cli-bucket/dir/big file.bin');

    const listing = await cli('s3', 'ls', '--recursive', 's3://cli-bucket');
    expect(listing).toMatch(new RegExp(`\\s${big.length} dir/big file\\.bin\\n`));
    expect(await cli('s3', 'ls', 's3://cli-bucket')).toMatch(/PRE dir\//);

    const head = await headObject('cli-bucket', 'dir/big file.bin');
    expect(head.ContentLength).toBe(big.length);
    // 20 MiB in 5 MiB parts: S3's multipart ETag, the MD5 of the parts' MD5s and their count.
    const partMd5s = [0, 1, 2, 3].map((n) => Buffer.from(md5Hex(big.subarray(n * 5 * MiB, (n + 1) * 5 * MiB)), 'hex'));
    expect(head.ETag).toBe(`"${md5Hex(Buffer.concat(partMd5s))}-4"`);

    await cli('s3', 'cp', '--only-show-errors', 's3://cli-bucket/dir/big file.bin', 'down.bin');
    const down = await readFile(client.file('down.bin'));
    expect(down.length).toBe(big.length);
    expect(md5Hex(down)).toBe(md5Hex(big));

    await cli('s3', 'rm', 's3://cli-bucket/dir/big file.bin');
    expect((await client.runFailing(['--endpoint-url', cluster.gateway.s3Url, 's3api', 'head-object', '--bucket', 'cli-bucket', '--key', 'dir/big file.bin'])).stderr).toMatch(/404|Not Found/);
    expect(await cli('s3', 'ls', '--recursive', 's3://cli-bucket')).toBe('');
  });

  it('puts a small file in one request: its ETag is its MD5, its metadata comes back', async () => {
    const small = randomBytes(1000);
    await writeFile(client.file('small.bin'), small);
    await cli('s3', 'mb', 's3://cli-small');
    await cli('s3', 'cp', '--only-show-errors', '--metadata', 'origin=aws-cli', 'small.bin', 's3://cli-small/small.bin');
    const head = await headObject('cli-small', 'small.bin');
    expect(head).toMatchObject({ ContentLength: 1000, ETag: `"${md5Hex(small)}"`, Metadata: { origin: 'aws-cli' } });
    await cli('s3', 'cp', '--only-show-errors', 's3://cli-small/small.bin', 'small-down.bin');
    expect(md5Hex(await readFile(client.file('small-down.bin')))).toBe(md5Hex(small));
  });

  it('copies a multipart object server-side (s3 to s3) and moves it', async () => {
    await cli('s3', 'mb', 's3://cli-copies');
    await cli('s3', 'cp', '--only-show-errors', 'big.bin', 's3://cli-copies/original.bin');
    await cli('s3', 'cp', '--only-show-errors', 's3://cli-copies/original.bin', 's3://cli-copies/copy.bin');
    await cli('s3', 'mv', '--only-show-errors', 's3://cli-copies/copy.bin', 's3://cli-copies/moved.bin');
    expect(await cli('s3', 'ls', 's3://cli-copies')).not.toMatch(/copy\.bin/);
    await cli('s3', 'cp', '--only-show-errors', 's3://cli-copies/moved.bin', 'moved.bin');
    expect(md5Hex(await readFile(client.file('moved.bin')))).toBe(md5Hex(big));
  });
});
