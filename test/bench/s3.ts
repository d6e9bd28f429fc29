/**
 * `npm run bench -- s3 [--size MiB] [--rounds N] [--seconds S] [--clients N]`: the S3 endpoint
 * beside the file API, on one `ringstore up` (R=2) in the same run, interleaved so load drifts
 * hit both alike:
 * - one large object (1 GiB): S3 PutObject and GetObject by curl (signed by its --aws-sigv4,
 *   UNSIGNED-PAYLOAD) against the file API's upload and download by curl; best of the rounds,
 *   with the gateway's CPU per GiB;
 * - 4 KiB objects with 32 concurrent keep-alive clients: signed S3 PUTs and GETs (bytes checked)
 *   against file API uploads and downloads, with p50/p99 and the gateway's CPU per request. The
 *   GETs and downloads read equal sets (up to 2048 items each, in the same order), each read
 *   once first, both sets in the small-file cache.
 * Ratios are S3 / file API: the goal is at least 0.9.
 */
import { randomBytes } from 'node:crypto';
import { mkdtemp, rm } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { freePort } from '../helpers/ports';
import { pidsByRole, startUp } from './bench-cluster';
import { CpuSpent } from './cpu-spent';
import type { Figure } from './figures';
import { closedLoop, keepAliveAgent, request } from './load';
import { phaseMeasurer } from './measured-phase';
import { S3RequestSigner } from './s3-request-signer';
import { curl, downloadToNull, expectOk, hashFile, mbPerSecond, MiB, sizeArg, upload, writeTestFile } from './transfer';

const TIMEOUT_MS = 600_000;
const SMALL_BYTES = 4096;
const KEYS = { accessKeyId: 'ringstore-bench', secretAccessKey: 'bench-secret-0123456789-abcdefghijklmnop' };
const BUCKET = 'bench';
/** 4 KiB items each API's GETs read: 8 MiB a set, both together half the gateway's default 32 MiB small-file cache. */
const READ_SET_ITEMS = 2048;

export async function run(args: string[]): Promise<Figure[]> {
  const size = sizeArg(args, 1024);
  const rounds = Math.max(1, Number(args[args.indexOf('--rounds') + 1]) || 1);
  const seconds = Number(args[args.indexOf('--seconds') + 1]) || 8;
  const clients = Number(args[args.indexOf('--clients') + 1]) || 32;
  const work = await mkdtemp(path.join(os.tmpdir(), 'ringstore-s3-bench-'));
  const s3Port = await freePort();
  const cluster = await startUp({ replication: 2, env: { S3_PORT: String(s3Port), S3_ACCESS_KEY: KEYS.accessKeyId, S3_SECRET_KEY: KEYS.secretAccessKey } });
  const s3Url = `http://127.0.0.1:${s3Port}`;
  const signer = new S3RequestSigner(KEYS);
  const agent = keepAliveAgent(clients);
  const figures: Figure[] = [];
  const add = (metric: string, value: number, unit: string) => figures.push({ bench: 's3', metric, value, unit });
  const s3Request = (method: string, key: string, body?: Buffer) => {
    const url = new URL(`${s3Url}/${BUCKET}${key === '' ? '' : `/${key}`}`);
    const headers = { ...signer.headers(method, url), ...(body ? { 'content-length': String(body.length) } : {}) };
    return request(agent, url.href, { method, body, headers });
  };
  try {
    const created = await s3Request('PUT', '', Buffer.alloc(0));
    if (created.status !== 200) throw new Error(`CreateBucket answered ${created.status}: ${created.body.toString()}`);

    // One large object.
    const source = path.join(work, 'source.bin');
    await writeTestFile(source, size);
    const md5 = await hashFile(source, 'md5');
    const label = `${Math.round(size / MiB)} MiB`;
    const best = { filePut: 0, fileGet: 0, s3Put: 0, s3Get: 0 };
    const cpu = { filePut: new CpuSpent(), fileGet: new CpuSpent(), s3Put: new CpuSpent(), s3Get: new CpuSpent() };
    const sigv4 = ['--aws-sigv4', 'aws:amz:us-east-1:s3', '--user', `${KEYS.accessKeyId}:${KEYS.secretAccessKey}`, '-H', 'x-amz-content-sha256: UNSIGNED-PAYLOAD'];
    for (let round = 0; round < rounds; round++) {
      const filePut = expectOk(await cpu.filePut.during(cluster, () => upload(`${cluster.url}/files?filename=bench.bin`, source, 'POST', TIMEOUT_MS)), size, 'file API upload');
      best.filePut = Math.max(best.filePut, mbPerSecond(size, filePut.ms));
      const fileId = (JSON.parse(filePut.body) as { file_id: string }).file_id;
      const s3Put = expectOk(await cpu.s3Put.during(cluster, () => curl([...sigv4, '-T', source, `${s3Url}/${BUCKET}/large.bin`], TIMEOUT_MS)), size, 'S3 PutObject');
      best.s3Put = Math.max(best.s3Put, mbPerSecond(size, s3Put.ms));
      const head = await curl([...sigv4, '-I', `${s3Url}/${BUCKET}/large.bin`], 30_000);
      if (!head.body.includes(`"${md5}"`)) throw new Error(`S3 stored another ETag than the file's MD5 ${md5}: ${head.body}`);
      const fileGet = expectOk(await cpu.fileGet.during(cluster, () => downloadToNull(`${cluster.url}/files/${fileId}`, TIMEOUT_MS)), size, 'file API download');
      best.fileGet = Math.max(best.fileGet, mbPerSecond(size, fileGet.ms));
      const s3Get = expectOk(await cpu.s3Get.during(cluster, () => curl([...sigv4, '-o', '/dev/null', `${s3Url}/${BUCKET}/large.bin`], TIMEOUT_MS)), size, 'S3 GetObject');
      best.s3Get = Math.max(best.s3Get, mbPerSecond(size, s3Get.ms));
      await fetch(`${cluster.url}/files/${fileId}`, { method: 'DELETE' });
      process.stderr.write('.');
    }
    process.stderr.write('\n');
    const perGiB = (spent: CpuSpent) => Math.round((spent.mean('gateway') / 1000 / (size / 1024 / MiB)) * 100) / 100;
    add(`S3 PUT ${label}`, best.s3Put, 'MB/s');
    add(`file API upload ${label}`, best.filePut, 'MB/s');
    add(`S3 PUT / file API upload, ${label}`, best.s3Put / best.filePut, 'x');
    add(`S3 GET ${label}`, best.s3Get, 'MB/s');
    add(`file API download ${label}`, best.fileGet, 'MB/s');
    add(`S3 GET / file API download, ${label}`, best.s3Get / best.fileGet, 'x');
    add(`S3 PUT: gateway CPU per GiB`, perGiB(cpu.s3Put), 's');
    add(`file API upload: gateway CPU per GiB`, perGiB(cpu.filePut), 's');
    add(`S3 GET: gateway CPU per GiB`, perGiB(cpu.s3Get), 's');
    add(`file API download: gateway CPU per GiB`, perGiB(cpu.fileGet), 's');

    // 4 KiB objects.
    const phaseMs = seconds * 1000;
    const pids = () => pidsByRole(cluster);
    const measured = phaseMeasurer('s3', clients, figures);
    const files: Array<{ id: string; data: Buffer }> = [];
    const objects: Array<{ key: string; data: Buffer }> = [];
    const fileUploads = await measured('file API 4 KiB uploads', pids, () => closedLoop(clients, phaseMs, async () => {
      const data = randomBytes(SMALL_BYTES);
      const reply = await request(agent, `${cluster.url}/files?filename=small.bin`, { method: 'POST', body: data, headers: { 'Content-Type': 'application/octet-stream', 'Content-Length': String(data.length) } });
      if (reply.status !== 201) throw new Error(`upload answered ${reply.status}: ${reply.body.toString().slice(0, 200)}`);
      files.push({ id: (JSON.parse(reply.body.toString()) as { file_id: string }).file_id, data });
    }));
    const s3Puts = await measured('S3 4 KiB PUTs', pids, () => closedLoop(clients, phaseMs, async (worker, n) => {
      const key = `small/${worker}-${n}`;
      const data = randomBytes(SMALL_BYTES);
      const reply = await s3Request('PUT', key, data);
      if (reply.status !== 200) throw new Error(`PutObject answered ${reply.status}: ${reply.body.toString().slice(0, 200)}`);
      objects.push({ key, data });
    }));
    // Both APIs read the same number of 4 KiB items in the same order, each set read once before
    // it is measured; the two sets fit the small-file cache together, so neither phase finds the
    // other's items in its place and the ratio compares the APIs, not what each upload phase left.
    const readSet = Math.min(files.length, objects.length, READ_SET_ITEMS);
    if (readSet === 0) throw new Error('no small upload succeeded');
    const nth = (n: number) => (n * 7919) % readSet;
    const fileDownload = async (_: number, n: number) => {
      const file = files[nth(n)];
      const reply = await request(agent, `${cluster.url}/files/${file.id}`);
      if (reply.status !== 200 || !reply.body.equals(file.data)) throw new Error(`download of ${file.id} answered ${reply.status} with ${reply.body.length} bytes, not the uploaded ones`);
    };
    const s3Get = async (_: number, n: number) => {
      const object = objects[nth(n)];
      const reply = await s3Request('GET', object.key);
      if (reply.status !== 200 || !reply.body.equals(object.data)) throw new Error(`GetObject of ${object.key} answered ${reply.status} with ${reply.body.length} bytes, not the stored ones`);
    };
    for (const [what, read] of [['file API', fileDownload], ['S3', s3Get]] as const) {
      const warm = await closedLoop(clients, TIMEOUT_MS, read, { maxRequests: readSet });
      if (warm.failed > 0) throw new Error(`reading the ${what} set once: ${warm.failed} failed, e.g. ${warm.errors.join(' | ')}`);
    }
    add('4 KiB items read per API (the same for both)', readSet, 'items');
    const fileDownloads = await measured('file API 4 KiB downloads', pids, () => closedLoop(clients, phaseMs, fileDownload));
    const s3Gets = await measured('S3 4 KiB GETs', pids, () => closedLoop(clients, phaseMs, s3Get));
    add('S3 PUTs / file API uploads, 4 KiB', s3Puts.perSecond / fileUploads.perSecond, 'x');
    add('S3 GETs / file API downloads, 4 KiB', s3Gets.perSecond / fileDownloads.perSecond, 'x');
  } finally {
    agent.destroy();
    await cluster.stop();
    await rm(work, { recursive: true, force: true });
  }
  return figures;
}
