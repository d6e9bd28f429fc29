import fs from 'node:fs/promises';
import type * as grpc from '@grpc/grpc-js';
import os from 'node:os';
import path from 'node:path';
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
