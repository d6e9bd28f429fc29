import fs from 'node:fs/promises';
import type * as grpc from '@grpc/grpc-js';
import os from 'node:os';
import path from 'node:path';
import { StorageClient, type StorageClientConnectOptions } from '../../src/rpc/storage-client';
import { RingstoreProcess } from './process';

export interface SpawnedStorageServer {
  process: RingstoreProcess;
  port: number;
  address: string;
  serverId: string;
  dataDir: string;
}

/** A real `ringstore storage` process on a free port, resolved once it logs that it listens. */
export async function spawnStorageServer(
  dataDir: string,
  options: { port?: number; env?: Record<string, string>; nodeFlags?: string[] } = {},
): Promise<SpawnedStorageServer> {
  const child = new RingstoreProcess(['storage', '--port', String(options.port ?? 0), '--data', dataDir], options.env, { nodeFlags: options.nodeFlags });
  const line = await child.waitForLine((l) => l.event === 'listening', 20_000, 'storage server listening');
  const port = line.port as number;
  return { process: child, port, address: `127.0.0.1:${port}`, serverId: line.serverId as string, dataDir };
}

/**
 * A storage server (its data in `data` under a fresh temp dir named from `prefix`) and a client
 * of it, for the tests of the describe block this is called in: spawned before them, with
 * `putFirst` stored when given; gone after them, with every ringstore process and temp dir they
 * made. The returned functions read them (and the temp dir), in tests and hooks.
 */
export function storageServerForTests(
  prefix: string,
  options: { env?: Record<string, string>; client?: StorageClientConnectOptions; putFirst?: { id: string; data: Buffer } } = {},
): { server: () => SpawnedStorageServer; client: () => StorageClient; parentDir: () => string } {
  let started: { server: SpawnedStorageServer; client: StorageClient; parentDir: string } | undefined;
  beforeAll(async () => {
    const parentDir = await makeTempDir(prefix);
    const server = await spawnStorageServer(path.join(parentDir, 'data'), { env: options.env });
    started = { server, client: StorageClient.connect(server.address, options.client), parentDir };
    if (options.putFirst) await started.client.putChunkBuffer(options.putFirst.id, options.putFirst.data);
  });
  afterAll(async () => {
    started?.client.close();
    await RingstoreProcess.killAll();
    await removeTempDirs();
  });
  const read = () => {
    if (!started) throw new Error('the storage server has not started: read it in a test or a hook, not while the tests are collected');
    return started;
  };
  return { server: () => read().server, client: () => read().client, parentDir: () => read().parentDir };
}

/** A fresh temp directory; removeTempDirs() deletes every one made (call it in afterAll). */
const tempDirs: string[] = [];
export async function makeTempDir(prefix = 'ringstore-test-'): Promise<string> {
  const dir = await fs.mkdtemp(path.join(os.tmpdir(), prefix));
  tempDirs.push(dir);
  return dir;
}

export async function removeTempDirs(): Promise<void> {
  await Promise.all(tempDirs.splice(0).map((dir) => fs.rm(dir, { recursive: true, force: true })));
}

/** Every path under dir (relative, sorted), for before/after comparisons. */
export async function listTree(dir: string): Promise<string[]> {
  const entries = await fs.readdir(dir, { recursive: true });
  return entries.map(String).sort();
}

/** The gRPC status code a call failed with; throws if it succeeded or failed without one. */
export async function codeOf(promise: Promise<unknown>): Promise<grpc.status> {
  const error = await promise.then(
    () => { throw new Error('expected the call to fail'); },
    (e: grpc.ServiceError) => e,
  );
  if (typeof error.code !== 'number') throw error;
  return error.code;
}
