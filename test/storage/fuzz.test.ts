import { createHash, randomBytes, randomUUID } from 'node:crypto';
import fs from 'node:fs/promises';
import path from 'node:path';
import { crc32 } from 'node:zlib';
import * as grpc from '@grpc/grpc-js';
import fc from 'fast-check';
import { StorageClient } from '../../src/rpc/storage-client';
import { storageServiceDefinition, type PutChunkRequest, type PutChunkResponse } from '../../src/wire/storage-service';
import { listTree, storageServerForTests } from '../helpers/storage-server';
import { waitFor } from '../helpers/wait';
import { BAD_CHUNK_IDS } from './bad-chunk-ids';

const sha256 = (data: Buffer): string => createHash('sha256').update(data).digest('hex');
const PUT_CHUNK = storageServiceDefinition.PutChunk;
const UUID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i;
/** Everything a storage server may create under its parent directory. */
const ALLOWED_PATH = /^data(\/(server-id|LOCK|tmp|volumes(\/\d{6,}\.vol)?|chunks(\/[0-9a-f]{2}(\/[0-9a-f]{2}(\/[0-9a-f-]{36})?)?)?))?$/;
/** Status codes that would mean the server broke on a client's mistake. */
const SERVER_FAULTS = [grpc.status.UNKNOWN, grpc.status.INTERNAL, grpc.status.UNAVAILABLE, grpc.status.DEADLINE_EXCEEDED];

const known = { id: randomUUID(), data: randomBytes(2 * 1024 * 1024 + 99) };

const chunkIdArb = fc.oneof(
  fc.uuid(),
  fc.uuid().map((id) => id.toUpperCase()),
  fc.constant(known.id),
  fc.constantFrom(...BAD_CHUNK_IDS),
  fc.constantFrom('..', '.', '/', '\\', 'C:\\Windows', '%2e%2e%2f', `${known.id}/../../x`, `chunks/${known.id}`, 'tmp/x', 'server-id'),
  fc.string({ unit: 'binary', maxLength: 60 }),
  fc.string({ unit: 'grapheme', maxLength: 40 }),
);
const byteCountArb = fc.oneof(
  fc.nat(3_000_000),
  fc.constantFrom(0, 1, 2 ** 31, 2 ** 32 + 1, Number.MAX_SAFE_INTEGER, 2 ** 63, 2 ** 64 - 1),
);
const checksumArb = (data: Buffer): fc.Arbitrary<string> => fc.oneof(
  { weight: 4, arbitrary: fc.constant(sha256(data)) },
  fc.constant(sha256(data).toUpperCase()),
  fc.constant(''),
  fc.stringMatching(/^[0-9a-f]{64}$/),
  fc.string({ maxLength: 70 }),
);
const dataArb = fc.uint8Array({ maxLength: 40_000 }).map((bytes) => Buffer.from(bytes));

type FuzzCall =
  | { kind: 'put'; messages: Array<Partial<PutChunkRequest>>; honest: boolean; id: string; data: Buffer }
  | { kind: 'get'; id: string; offset: number; length: number }
  | { kind: 'delete'; id: string }
  | { kind: 'verify'; id: string }
  | { kind: 'list'; after: string; limit: number };

/**
 * How a put uses CRC-32s: not at all (the original clients), honestly (ringstore's clients,
 * data_crc32 on every message and chunk_crc32 last), or with one of them wrong.
 */
type CrcUse = 'none' | 'honest' | 'bad-frame' | 'bad-chunk';
const crcUseArb = fc.constantFrom<CrcUse>('none', 'honest', 'honest', 'bad-frame', 'bad-chunk');

/** Mostly well-formed puts with one thing wrong, so the fuzz reaches past the argument checks. */
const putArb: fc.Arbitrary<FuzzCall> = fc.tuple(fc.oneof({ weight: 3, arbitrary: fc.uuid() }, chunkIdArb), dataArb, fc.nat(3)).chain(([id, data, split]) =>
  fc.record({
    checksum: checksumArb(data),
    trailing: fc.option(checksumArb(data), { nil: undefined, freq: 3 }),
    size: fc.oneof(fc.constant(0), fc.constant(data.length), byteCountArb),
    extra: fc.option(fc.record({ chunk_id: fc.oneof(fc.constant(''), chunkIdArb), data: dataArb }), { nil: undefined, freq: 4 }),
    crcUse: crcUseArb,
  }).map(({ checksum, trailing, size, extra, crcUse }): FuzzCall =>
    fuzzPut({ id, data, split, checksum, trailing, size, extra, crcUse })));

function fuzzPut(put: {
  id: string;
  data: Buffer;
  split: number;
  checksum: string;
  trailing?: string;
  size: number;
  extra?: Partial<PutChunkRequest>;
  crcUse: CrcUse;
}): FuzzCall {
  const { id, data, split, checksum, trailing, size, extra, crcUse } = put;
  const pieces = Array.from({ length: split + 1 }, (_, i) => data.subarray(Math.floor((i * data.length) / (split + 1)), Math.floor(((i + 1) * data.length) / (split + 1))));
  const messages: Array<Partial<PutChunkRequest>> = pieces.map((piece, i) => (i === 0 ? { chunk_id: id, checksum, size, data: piece } : { data: piece }));
  if (crcUse !== 'none') {
    messages.forEach((message, i) => (message.data_crc32 = crc32(message.data!) ^ (crcUse === 'bad-frame' && i === messages.length - 1 ? 1 : 0)));
    messages.push({ chunk_crc32: (crc32(data) ^ (crcUse === 'bad-chunk' ? 0x10000 : 0)) >>> 0 });
  }
  if (trailing !== undefined) messages.push({ checksum: trailing });
  if (extra !== undefined) messages.push(extra);
  const checked = crcUse === 'none' ? checksum === sha256(data) : crcUse === 'honest' && (checksum === '' || checksum === sha256(data));
  const honest = UUID.test(id) && id.toLowerCase() !== known.id && checked
    && (size === 0 || size === data.length) && trailing === undefined && extra === undefined;
  return { kind: 'put', messages, honest, id, data };
}

const fuzzCallArb: fc.Arbitrary<FuzzCall> = fc.oneof(
  { weight: 4, arbitrary: putArb },
  { weight: 3, arbitrary: fc.record({ kind: fc.constant('get' as const), id: chunkIdArb, offset: byteCountArb, length: byteCountArb }) },
  // Never the known chunk: it must survive to be read back at the end.
  { weight: 1, arbitrary: fc.record({ kind: fc.constant('delete' as const), id: chunkIdArb.filter((id) => id.toLowerCase() !== known.id) }) },
  { weight: 1, arbitrary: fc.record({ kind: fc.constant('verify' as const), id: chunkIdArb }) },
  { weight: 1, arbitrary: fc.record({ kind: fc.constant('list' as const), after: fc.oneof(fc.constant(''), chunkIdArb), limit: fc.nat(5) }) },
);

function putMessages(client: StorageClient, messages: Array<Partial<PutChunkRequest>>): Promise<grpc.status> {
  return new Promise((resolve) => {
    const call = client.grpcClient.makeClientStreamRequest<Partial<PutChunkRequest>, PutChunkResponse>(
      PUT_CHUNK.path, PUT_CHUNK.requestSerialize, PUT_CHUNK.responseDeserialize, new grpc.Metadata(),
      { deadline: Date.now() + 10_000 },
      (error) => resolve(error ? error.code : grpc.status.OK),
    );
    call.on('error', () => undefined);
    for (const message of messages) call.write(message);
    call.end();
  });
}

/** Runs one call; resolves with its status code after checking what can be checked exactly. */
async function run(client: StorageClient, call: FuzzCall): Promise<grpc.status> {
  const codeOf = (promise: Promise<unknown>): Promise<grpc.status> =>
    promise.then(() => grpc.status.OK, (error: grpc.ServiceError) => {
      if (typeof error.code !== 'number') throw error;
      return error.code;
    });
  switch (call.kind) {
    case 'put': {
      const code = await putMessages(client, call.messages);
      if (call.honest) {
        // A fresh id could collide with an earlier fuzz put of other bytes: ALREADY_EXISTS is honest too.
        expect([grpc.status.OK, grpc.status.ALREADY_EXISTS]).toContain(code);
        if (code === grpc.status.OK) expect((await client.getChunkBuffer(call.id)).equals(call.data)).toBe(true);
      }
      return code;
    }
    case 'get': {
      const result = client.getChunkBuffer(call.id, { offset: call.offset, length: call.length }, { deadlineMs: 10_000 });
      if (call.id.toLowerCase() === known.id && call.offset <= known.data.length) {
        const end = call.length === 0 ? undefined : call.offset + call.length;
        expect((await result).equals(known.data.subarray(call.offset, end))).toBe(true);
        return grpc.status.OK;
      }
      return codeOf(result);
    }
    case 'delete':
      return codeOf(client.deleteChunk(call.id));
    case 'verify':
      return codeOf(client.verifyChunk(call.id));
    case 'list':
      return codeOf((async () => {
        for await (const _ of client.listChunks({ after: call.after, limit: call.limit }, { deadlineMs: 10_000 })) { /* drain */ }
      })());
  }
}

describe('storage server fuzz', () => {
  const { server, client, parentDir } = storageServerForTests('ringstore-fuzz-', { client: { callTimeoutMs: 10_000 }, putFirst: known });

  it('answers random calls with proper statuses, stays up, writes only inside its data directory', async () => {
    const codes = new Map<string, number>();
    const runCalls = async (calls: FuzzCall[]): Promise<void> => {
      for (const call of calls) {
        const code = await run(client(), call);
        expect(grpc.status[code]).toBeDefined();
        expect([call.kind, SERVER_FAULTS.includes(code) ? grpc.status[code] : 'ok']).toEqual([call.kind, 'ok']);
        const key = `${call.kind} ${grpc.status[code]}`;
        codes.set(key, (codes.get(key) ?? 0) + 1);
      }
    };
    // Fixed examples first, outside the time limit (which interrupts even a run in progress),
    // so the coverage checks below hold however few random runs a loaded machine gets through.
    const honestData = randomBytes(5000);
    await runCalls([
      fuzzPut({ id: randomUUID(), data: honestData, split: 1, checksum: sha256(honestData), size: honestData.length, crcUse: 'none' }),
      fuzzPut({ id: randomUUID(), data: honestData, split: 2, checksum: '', size: 0, crcUse: 'honest' }),
      fuzzPut({ id: '../escape', data: honestData, split: 0, checksum: sha256(honestData), size: 0, crcUse: 'none' }),
      fuzzPut({ id: randomUUID(), data: honestData, split: 1, checksum: '', size: 0, crcUse: 'bad-frame' }),
      { kind: 'get', id: known.id, offset: 10, length: 1000 },
    ]);
    const details = await fc.check(
      fc.asyncProperty(fc.array(fuzzCallArb, { minLength: 1, maxLength: 8 }), runCalls),
      { numRuns: Number(process.env.FUZZ_RUNS ?? 250), interruptAfterTimeLimit: Number(process.env.FUZZ_TIME_MS ?? 12_000) },
    );
    // Cut short before its first random run completed is no failure (fast-check counts it as
    // one): only a counterexample is.
    if (details.counterexample !== null) throw new Error(fc.defaultReportMessage(details));
    if (process.env.FUZZ_RUNS) console.log(JSON.stringify([...codes].sort()));
    // The fuzz reached both sides of the server: stored chunks and refused garbage.
    expect(codes.get('put OK')).toBeGreaterThan(0);
    expect(codes.get('put INVALID_ARGUMENT')).toBeGreaterThan(0);
    expect(codes.get('put DATA_LOSS')).toBeGreaterThan(0);
    expect(codes.get('get OK')).toBeGreaterThan(0);

    expect(server().process.child.exitCode).toBeNull();
    expect((await client().healthCheck()).status).toBe('healthy');
    expect(sha256(await client().getChunkBuffer(known.id))).toBe(sha256(known.data));
    expect(await client().verifyChunk(known.id)).toMatchObject({ ok: true });
    await waitFor(async () => (await fs.readdir(path.join(server().dataDir, 'tmp'))).length === 0, { what: 'no temp file left' });
    expect((await listTree(parentDir())).filter((entry) => !ALLOWED_PATH.test(entry))).toEqual([]);
    expect(server().process.lines.filter((line) => line.event === 'rpc_failed')).toEqual([]);
  });
});
