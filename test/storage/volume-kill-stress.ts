/**
 * kill -9 stress of a storage server's volume records (not a jest test: it runs for minutes).
 *   node --require tsx/cjs test/storage/volume-kill-stress.ts [rounds] [seed] [volume bytes]
 * Writers put small chunks (PutSmallChunks: volume records, 1-200 KiB so volumes roll over and
 * compaction runs), delete most of them, and put some deleted ids again with new content; the
 * server is killed -9 at a random moment each round and restarted. After every restart each
 * acknowledged put must read back byte-exact, each acknowledged delete must stay deleted, and
 * an operation cut by the kill must show its old or its new state, nothing else.
 */
import { randomBytes, randomUUID } from 'node:crypto';
import path from 'node:path';
import * as grpc from '@grpc/grpc-js';
import { StorageClient, encodePutData } from '../../src/rpc/storage-client';
import { RingstoreProcess } from '../helpers/process';
import { makeTempDir, removeTempDirs, spawnStorageServer } from '../helpers/storage-server';

/** What an id holds: known content, known absence, or one of two states (an operation cut by a kill). */
interface IdState {
  present: Buffer | undefined;
  /** Set while an operation on the id is unacknowledged: the state it may have left instead. */
  maybe?: Buffer | 'absent';
}

const WRITERS = 24;

async function main(): Promise<void> {
  const rounds = Number(process.argv[2] ?? 20);
  let seed = Number(process.argv[3] ?? Date.now() % 100_000);
  const random = (): number => ((seed = (seed * 48271) % 2147483647) / 2147483647);
  const volumeBytes = process.argv[4];
  console.log(`rounds ${rounds} seed ${seed} volumes of ${volumeBytes ?? 'the default'} bytes`);
  const dataDir = path.join(await makeTempDir('ringstore-volume-stress-'), 'data');
  const ids = new Map<string, IdState>();
  // Small volumes (a preload gives them their size), so rollovers and compactions come often.
  const options = volumeBytes ? { env: { STRESS_VOLUME_BYTES: volumeBytes }, nodeFlags: ['--require', path.join(__dirname, 'volume-kill-stress-preload.cjs')] } : {};
  let server = await spawnStorageServer(dataDir, options);
  const port = server.port;
  let acked = 0;
  let deletes = 0;
  try {
    for (let round = 0; round < rounds; round += 1) {
      const client = StorageClient.connect(server.address, { callTimeoutMs: 10_000 });
      let stop = false;
      const writers = Array.from({ length: WRITERS }, async (_, writer) => {
        const mine: string[] = [];
        while (!stop) {
          const redo = mine.length > 0 && random() < 0.1 ? mine[Math.floor(random() * mine.length)] : undefined;
          const state = redo ? ids.get(redo)! : undefined;
          if (redo && state!.present && !state!.maybe) {
            state!.maybe = 'absent';
            try {
              await client.deleteChunk(redo);
              state!.present = undefined;
              state!.maybe = undefined;
              deletes += 1;
            } catch {
              stop = true;
            }
            continue;
          }
          const id = redo && !state!.present && !state!.maybe ? redo : randomUUID();
          const data = randomBytes(1024 + Math.floor(random() * 199 * 1024));
          const entry = ids.get(id) ?? { present: undefined };
          ids.set(id, entry);
          entry.maybe = data;
          try {
            const put = client.putSmallChunk(id, data.length);
            await put.write(encodePutData([data]));
            await put.end();
            entry.present = data;
            entry.maybe = undefined;
            acked += 1;
            mine.push(id);
            if (writer % 4 !== 0 && random() < 0.9) {
              entry.maybe = 'absent';
              await client.deleteChunk(id);
              entry.present = undefined;
              entry.maybe = undefined;
              deletes += 1;
            }
          } catch {
            stop = true;
          }
        }
      });
      await new Promise((resolve) => setTimeout(resolve, 300 + random() * 3000)); // a random moment under load
      await server.process.kill('SIGKILL');
      const killed = server.process.lines;
      stop = true;
      await Promise.all(writers);
      client.close();
      server = await spawnStorageServer(dataDir, { ...options, port });
      const checked = await check(server.address, ids);
      const events = killed.map((line) => line.event).filter((event) => typeof event === 'string' && event.startsWith('volume'));
      const counts = new Map<unknown, number>();
      for (const event of events) counts.set(event, (counts.get(event) ?? 0) + 1);
      console.log(`round ${round}: acked puts ${acked}, deletes ${deletes}, ids ${ids.size}, checked ${checked}; killed run: ${[...counts].map(([event, count]) => `${String(event)} x${count}`).join(' ')}`);
    }
    console.log(`ok: every acknowledged put and delete held over ${rounds} kills`);
  } finally {
    await RingstoreProcess.killAll();
    await removeTempDirs();
  }
}

/** Reads every id back against its state; an operation cut by the kill settles to what was found. */
async function check(address: string, ids: Map<string, IdState>): Promise<number> {
  const client = StorageClient.connect(address, { callTimeoutMs: 30_000 });
  try {
    for (const [id, state] of ids) {
      let found: Buffer | undefined;
      try {
        found = await client.getChunkBuffer(id);
      } catch (error) {
        if ((error as grpc.ServiceError).code !== grpc.status.NOT_FOUND) throw error;
      }
      const matches = (expected: Buffer | 'absent' | undefined): boolean =>
        expected === undefined || expected === 'absent' ? found === undefined : found !== undefined && found.equals(expected);
      if (!matches(state.present) && !(state.maybe && matches(state.maybe))) {
        throw new Error(`chunk ${id}: expected ${describe(state.present)}${state.maybe ? ` or ${describe(state.maybe)}` : ''}, found ${describe(found)}`);
      }
      state.present = found;
      state.maybe = undefined;
    }
    for await (const info of client.listChunks()) {
      if (!ids.get(info.chunk_id)?.present) throw new Error(`chunk ${info.chunk_id} is listed but not stored`);
    }
    return ids.size;
  } finally {
    client.close();
  }
}

function describe(state: Buffer | 'absent' | undefined): string {
  return state === undefined || state === 'absent' ? 'absent' : `${state.length} bytes`;
}

main().catch((error: unknown) => {
  console.error(error);
  process.exit(1);
});
