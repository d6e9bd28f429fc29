/**
 * The client commands (put, get, cat, ls, stat, rm) of the real `ringstore` binary against a
 * real cluster with API_TOKENS set: what scripts rely on (--json, exit codes) and what people
 * rely on (byte-exact files, a download that resumes after being killed).
 */
import { spawn } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { mkdtemp, readFile, rm, stat, writeFile } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { startCluster, type Cluster } from '../helpers/cluster';
import { sha256, testData } from '../helpers/files';
import { ringstoreNodeArgs } from '../../src/cli/launch';
import { REPO_ROOT, RingstoreProcess } from '../helpers/process';
import { waitFor } from '../helpers/wait';

const TOKEN = `api-${randomBytes(12).toString('hex')}`;
const MiB = 1024 * 1024;

interface CliRun {
  code: number | null;
  stdout: Buffer;
  stderr: string;
}

/** Starts the binary as a user's shell would; `done` resolves with its exit and output. */
function startCli(args: string[], options: { env?: Record<string, string>; input?: Buffer; cwd?: string } = {}) {
  const child = spawn(process.execPath, ringstoreNodeArgs(args), {
    cwd: options.cwd ?? REPO_ROOT,
    env: { PATH: process.env.PATH, HOME: process.env.HOME, ...options.env },
    stdio: ['pipe', 'pipe', 'pipe'],
  });
  const stdout: Buffer[] = [];
  let stderr = '';
  child.stdout.on('data', (piece: Buffer) => stdout.push(piece));
  child.stderr.on('data', (piece: Buffer) => (stderr += piece.toString()));
  child.stdin.end(options.input);
  const done = new Promise<CliRun>((resolve) => child.once('close', (code) => resolve({ code, stdout: Buffer.concat(stdout), stderr })));
  return { child, done };
}

describe('ringstore client commands against a real cluster', () => {
  let cluster: Cluster;
  let work: string;
  let env: Record<string, string>;
  const cli = (args: string[], options: { env?: Record<string, string>; input?: Buffer } = {}) =>
    startCli(args, { cwd: work, ...options, env: { ...env, ...options.env } }).done;
  const json = <T>(run: CliRun): T => {
    expect({ code: run.code, stderr: run.stderr }).toEqual({ code: 0, stderr: '' });
    return JSON.parse(run.stdout.toString()) as T;
  };

  beforeAll(async () => {
    cluster = await startCluster({ storageServers: 3, env: { API_TOKENS: TOKEN } });
    work = await mkdtemp(path.join(os.tmpdir(), 'ringstore-cli-'));
    env = { RINGSTORE_URL: cluster.gateway.url, RINGSTORE_TOKEN: TOKEN };
  }, 120_000);

  afterAll(async () => {
    await cluster?.stop();
    await RingstoreProcess.killAll();
    if (work) await rm(work, { recursive: true, force: true });
  });

  it('puts several files in parallel (--json), lists, stats, gets, cats and removes them byte-exact', async () => {
    const files = await Promise.all(
      [0, 1, 777_777, 3 * MiB + 5].map(async (size, i) => {
        const data = testData(size);
        const file = path.join(work, `doc-${i}.bin`);
        await writeFile(file, data);
        return { file, data };
      }),
    );
    const put = json<Array<{ path: string; file_id: string; size: number; checksum: string; exit_code: number }>>(
      await cli(['put', '--json', '-j', '2', ...files.map((f) => f.file)]),
    );
    expect(put.map((r) => [r.path, r.size, r.checksum, r.exit_code])).toEqual(files.map((f) => [f.file, f.data.length, sha256(f.data), 0]));

    const stdin = testData(300_000);
    const piped = json<Array<{ file_id: string; filename: string; checksum: string }>>(await cli(['put', '--json', '--name', 'piped.dat', '-'], { input: stdin }));
    expect([piped[0].filename, piped[0].checksum]).toEqual(['piped.dat', sha256(stdin)]);

    const listed = json<{ files: Array<{ file_id: string; filename: string }>; total: number }>(await cli(['ls', '--json', '--name', 'DOC-']));
    expect(listed.total).toBe(4);
    expect(listed.files.map((f) => f.filename).sort()).toEqual(['doc-0.bin', 'doc-1.bin', 'doc-2.bin', 'doc-3.bin']);
    const paged = json<{ files: unknown[]; page: number }>(await cli(['ls', '--json', '--per-page', '2', '--page', '2']));
    expect([paged.files.length, paged.page]).toEqual([2, 2]);
    const all = json<{ files: unknown[]; total: number }>(await cli(['ls', '--json', '--all', '--per-page', '2']));
    expect(all.files).toHaveLength(all.total);
    const human = await cli(['ls']);
    expect(human.code).toBe(0);
    for (const { file_id } of put) expect(human.stdout.toString()).toContain(file_id);

    const big = put[3];
    const meta = json<{ file_id: string; checksum: string; chunks: unknown[] }>(await cli(['stat', '--json', big.file_id]));
    expect([meta.file_id, meta.checksum, meta.chunks.length]).toEqual([big.file_id, big.checksum, 4]); // ceil(3 MiB + 5 / MIN_CHUNK_SIZE of 1 MiB)
    expect((await cli(['stat', big.file_id])).stdout.toString()).toContain(`sha256:   ${big.checksum}`);

    for (const [i, stored] of put.entries()) {
      const target = path.join(work, `got-${i}`);
      const got = json<{ path: string; size: number; resumed_from: number }>(await cli(['get', '--json', stored.file_id, '-o', target]));
      expect([got.path, got.size, got.resumed_from]).toEqual([target, files[i].data.length, 0]);
      expect((await readFile(target)).equals(files[i].data)).toBe(true);
    }
    const cat = await cli(['cat', big.file_id]);
    expect([cat.code, cat.stdout.equals(files[3].data)]).toEqual([0, true]);

    const missing = '00000000-0000-4000-8000-000000000000';
    const removed = await cli(['rm', '--json', ...put.map((r) => r.file_id), missing]);
    expect(removed.code).toBe(3);
    const results = JSON.parse(removed.stdout.toString()) as Array<{ file_id: string; deleted: boolean; exit_code: number }>;
    expect(results.map((r) => [r.deleted, r.exit_code])).toEqual([...put.map(() => [true, 0]), [false, 3]]);
    expect((await cli(['stat', put[0].file_id])).code).toBe(3);
  });

  it('resumes a download that was killed halfway, byte-exact, from where it stopped', async () => {
    const data = testData(96 * MiB);
    const source = path.join(work, 'large.bin');
    await writeFile(source, data);
    const [stored] = json<Array<{ file_id: string }>>(await cli(['put', '--json', source]));
    const target = path.join(work, 'large-copy.bin');
    const part = `${target}.part`;

    // Killed (like a dropped terminal or a lost connection) once part of it is on disk.
    const first = startCli(['get', stored.file_id, '-o', target], { cwd: work, env });
    const partial = await waitFor(async () => {
      const size = (await stat(part).catch(() => undefined))?.size ?? 0;
      return size > 0 && size < data.length ? size : undefined;
    }, { intervalMs: 5, timeoutMs: 30_000, what: 'part of the download on disk' });
    first.child.kill('SIGKILL');
    expect((await first.done).code).toBeNull();
    expect(partial).toBeLessThan(data.length);
    await expect(stat(target)).rejects.toThrow();

    const resumed = await cli(['get', '--json', stored.file_id, '-o', target]);
    const result = json<{ resumed_from: number; size: number }>(resumed);
    expect(result.resumed_from).toBeGreaterThan(0);
    expect(result.size).toBe(data.length);
    const copy = await readFile(target);
    expect(copy.length).toBe(data.length);
    expect(sha256(copy)).toBe(sha256(data));
    await expect(stat(part)).rejects.toThrow();
  }, 180_000);

  it('exits with codes scripts can rely on, and one clear line on stderr', async () => {
    const run = async (args: string[], extraEnv: Record<string, string> = {}) => {
      const result = await cli(args, { env: extraEnv });
      return { code: result.code, stderr: result.stderr.trim() };
    };
    const noToken = await run(['ls'], { RINGSTORE_TOKEN: '' });
    expect(noToken.code).toBe(4);
    expect(noToken.stderr).toMatch(/^ringstore: gateway answered 401: authentication required/);
    expect((await run(['ls'], { RINGSTORE_TOKEN: 'wrong' })).code).toBe(4);
    expect((await run(['stat', '00000000-0000-4000-8000-000000000000'])).code).toBe(3);
    expect((await run(['get', 'not-an-id'])).code).toBe(3);
    const unreachable = await run(['ls', '--url', 'http://127.0.0.1:9']);
    expect([unreachable.code, unreachable.stderr]).toEqual([5, expect.stringMatching(/cannot reach the gateway at http:\/\/127\.0\.0\.1:9/)]);
    expect((await run(['put', path.join(work, 'no-such-file')])).code).toBe(1);
    expect((await run(['put'])).code).toBe(2);
    expect((await run(['ls', '--bogus'])).code).toBe(2);
    for (const line of [noToken.stderr, unreachable.stderr]) expect(line).not.toMatch(/^\s+at /m);
  });

  it('prints plain lines, not progress bars, when standard error is not a terminal', async () => {
    const file = path.join(work, 'plain.bin');
    await writeFile(file, testData(2 * MiB));
    const put = await cli(['put', file]);
    expect(put.code).toBe(0);
    const [id, shown] = put.stdout.toString().trim().split(/\s+/);
    expect(shown).toBe(file);
    expect(put.stderr).toMatch(new RegExp(`^stored ${file.replace(/[.*+?^${}()|[\]\\/]/g, '\\$&')} as ${id} \\(2\\.00 MiB in [\\d.]+ s, [\\d.]+ \\w+/s\\)\\n$`));
    expect(put.stderr).not.toContain('\u001b[');
  });
});
