/**
 * rclone (Debian's package) against a real cluster's S3 endpoint, configured as docs/s3.md says:
 * `copy` of a small tree up (one file over a lowered `--s3-upload-cutoff`, so it goes multipart),
 * `check` by MD5, `sync` after changes, `copy` back down compared byte for byte, `purge`.
 */
import { randomBytes } from 'node:crypto';
import { mkdir, readdir, rm, writeFile } from 'node:fs/promises';
import path from 'node:path';
import { HeadObjectCommand, type S3Client } from '@aws-sdk/client-s3';
import { METADATA_BACKENDS, type Cluster } from '../../helpers/cluster';
import { TOOLS, describeIfFound, toolOrSkip } from '../../helpers/tools';
import { CommandLineClient, md5OfFile } from '../command-line-client';
import { S3_KEYS, s3Client, startS3Cluster } from '../s3-cluster';

jest.setTimeout(300_000);

const rclone = toolOrSkip(TOOLS.rclone, 'the rclone tests of the S3 endpoint (test/s3/e2e/rclone.e2e.test.ts)');

const MiB = 1024 * 1024;

/** rclone.conf as docs/s3.md gives it. */
const config = (endpoint: string): string => `[ringstore]
type = s3
provider = Other
access_key_id = ${S3_KEYS.accessKeyId}
secret_access_key = ${S3_KEYS.secretAccessKey}
endpoint = ${endpoint}
region = us-east-1
force_path_style = true
`;

/** Files over 5 MiB go up in 5 MiB parts. */
const MULTIPART = ['--s3-upload-cutoff', '5M', '--s3-chunk-size', '5M'];

/** Every file under dir (relative paths, sorted) with its MD5. */
async function treeMd5s(dir: string): Promise<Record<string, string>> {
  const entries = await readdir(dir, { recursive: true, withFileTypes: true });
  const files = entries.filter((e) => e.isFile()).map((e) => path.relative(dir, path.join(e.parentPath, e.name))).sort();
  return Object.fromEntries(await Promise.all(files.map(async (f) => [f, await md5OfFile(path.join(dir, f))] as const)));
}

describeIfFound(rclone).each(METADATA_BACKENDS)('rclone against the S3 endpoint (%s)', (_name, postgresUrl) => {
  let cluster: Cluster;
  let s3: S3Client;
  let client: CommandLineClient;
  let run: (...args: string[]) => Promise<{ stdout: string; stderr: string }>;

  beforeAll(async () => {
    cluster = await startS3Cluster({ storageServers: 3, postgresUrl });
    s3 = s3Client(cluster);
    client = await CommandLineClient.create(rclone!, (dir) => ({ RCLONE_CONFIG: path.join(dir, 'rclone.conf') }));
    await writeFile(client.file('rclone.conf'), config(cluster.gateway.s3Url));
    run = (...args) => client.run(args);
  });

  afterAll(async () => {
    s3?.destroy();
    await cluster?.stop();
    await client?.remove();
  });

  it('copies a tree up (one file in parts), checks it by MD5, syncs changes, copies it down and purges it', async () => {
    const tree = client.file('tree');
    await mkdir(path.join(tree, 'sub', 'deeper'), { recursive: true });
    await writeFile(path.join(tree, 'a.bin'), randomBytes(1000));
    await writeFile(path.join(tree, 'empty'), '');
    await writeFile(path.join(tree, 'sub', 'b.txt'), 'hello\n');
    await writeFile(path.join(tree, 'sub', 'name with spaces & ünï.txt'), 'ünïcode\n');
    await writeFile(path.join(tree, 'sub', 'deeper', 'c.bin'), randomBytes(300_000));
    await writeFile(path.join(tree, 'sub', 'big.bin'), randomBytes(12 * MiB));

    await run('mkdir', 'ringstore:rclone-tree');
    await run('copy', ...MULTIPART, 'tree', 'ringstore:rclone-tree/tree');
    // 12 MiB in 5 MiB parts: S3's multipart ETag (rclone keeps the whole file's MD5 in metadata).
    const big = await s3.send(new HeadObjectCommand({ Bucket: 'rclone-tree', Key: 'tree/sub/big.bin' }));
    expect(big.ETag).toMatch(/^"[0-9a-f]{32}-3"$/);

    const local = await treeMd5s(tree);
    expect(Object.keys(local)).toHaveLength(6);
    const checked = await run('check', 'tree', 'ringstore:rclone-tree/tree');
    expect(checked.stderr).toMatch(/0 differences found/);
    expect(checked.stderr).toMatch(/6 matching files/);
    const remoteMd5s = Object.fromEntries(
      (await run('md5sum', 'ringstore:rclone-tree/tree')).stdout.trim().split('\n').map((line) => {
        const [md5, ...name] = line.split('  ');
        return [name.join('  '), md5];
      }),
    );
    expect(remoteMd5s).toEqual(local);

    // Same size, other bytes: only the MD5s can tell them apart.
    await writeFile(path.join(tree, 'sub', 'b.txt'), 'HELLO\n');
    const differs = await client.runFailing(['check', 'tree', 'ringstore:rclone-tree/tree']);
    expect(differs.stderr).toMatch(/sub\/b\.txt: md5 differ/);
    expect(differs.stderr).toMatch(/1 differences found/);

    await rm(path.join(tree, 'a.bin'));
    await writeFile(path.join(tree, 'new.txt'), 'new\n');
    await run('sync', ...MULTIPART, 'tree', 'ringstore:rclone-tree/tree');
    expect((await run('check', 'tree', 'ringstore:rclone-tree/tree')).stderr).toMatch(/0 differences found/);
    const listed = (await run('lsf', '-R', '--files-only', 'ringstore:rclone-tree/tree')).stdout.trim().split('\n').sort();
    expect(listed).toEqual(Object.keys(await treeMd5s(tree)));

    await run('copy', 'ringstore:rclone-tree/tree', 'down');
    const down = await treeMd5s(client.file('down'));
    expect(down).toEqual(await treeMd5s(tree));

    const purged = await run('purge', 'ringstore:rclone-tree');
    expect(purged.stderr).not.toMatch(/ERROR/);
    expect((await run('lsd', 'ringstore:')).stdout).not.toMatch(/rclone-tree/);
  });
});
