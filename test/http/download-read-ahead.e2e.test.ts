import { readFileSync } from 'node:fs';
import http from 'node:http';
import { clusterForTests, type Cluster } from '../helpers/cluster';
import { sha256, testData, uploadRaw } from '../helpers/files';
import { waitFor } from '../helpers/wait';

const MiB = 1024 * 1024;
const CHUNK = 48 * MiB;

/** Bytes a process has read and written through syscalls (disk and sockets), from /proc. */
function ioBytes(pid: number): number {
  const io = readFileSync(`/proc/${pid}/io`, 'utf8');
  return Number(/^rchar: (\d+)/m.exec(io)![1]) + Number(/^wchar: (\d+)/m.exec(io)![1]);
}

interface ChunkPlacement {
  chunks: Array<{ chunk_number: number; replicas: Array<{ server_id: string }> }>;
}

/** A two-chunk file whose chunks are on different servers (R=1), uploaded until the ring places them so. */
async function uploadSplitFile(cluster: Cluster, data: Buffer): Promise<{ fileId: string; first: string; second: string }> {
  for (let attempt = 0; attempt < 12; attempt++) {
    const { file_id: fileId } = await uploadRaw(cluster.gateway.url, data, 'split.bin');
    const meta = (await (await fetch(`${cluster.gateway.url}/files/${fileId}/metadata`)).json()) as ChunkPlacement;
    const [first, second] = meta.chunks.map((chunk) => chunk.replicas[0].server_id);
    if (first !== second) return { fileId, first, second };
  }
  throw new Error('twelve uploads all put both chunks on one server');
}

describe('download of a large file: the next chunk read ahead', () => {
  const cluster = clusterForTests({ storageServers: 2, env: { REPLICATION_FACTOR: '1', MIN_CHUNK_SIZE: String(CHUNK) } });

  it("is not read while the client holds the download early in the chunk before it, and the body is whole", async () => {
    const data = testData(2 * CHUNK);
    const { fileId, first, second } = await uploadSplitFile(cluster(), data);
    const pidOf = (serverId: string) => cluster().storage.find((node) => node.serverId === serverId)!.proc.pid;
    const secondBefore = ioBytes(pidOf(second));

    // The client takes the first piece of the body, then stops reading.
    const response = await new Promise<http.IncomingMessage>((resolve, reject) => {
      http.get(`${cluster().gateway.url}/files/${fileId}`, resolve).on('error', reject);
    });
    expect(response.statusCode).toBe(200);
    const pieces: Buffer[] = [];
    await new Promise<void>((resolve) => response.once('data', (piece: Buffer) => {
      pieces.push(piece);
      response.pause();
      resolve();
    }));

    // Everything between the first chunk's server and the client fills up (HTTP/2 window, queued
    // frames, socket buffers: well under the chunk) and that server stops moving bytes.
    // Heartbeats and health checks go on: "stopped" is under 64 KiB moved in a second.
    const recent: number[] = [];
    await waitFor(() => {
      recent.push(ioBytes(pidOf(first)));
      return recent.length > 10 && recent.at(-1)! - recent.at(-11)! < 64 * 1024;
    }, { timeoutMs: 60_000, intervalMs: 100, what: `the first chunk's server ${first} to stop sending` });

    // Far from its last 2 MiB (READ_AHEAD_BYTES), the first chunk's read has not started the second's:
    // its server read and sent next to nothing (a started read moved ~20 MB there: spans read
    // from disk, then the first frame and the 4 MiB HTTP/2 window sent).
    expect(ioBytes(pidOf(second)) - secondBefore).toBeLessThan(MiB);

    const ended = new Promise((resolve) => response.on('end', resolve));
    response.on('data', (piece: Buffer) => pieces.push(piece)).resume();
    await ended;
    const body = Buffer.concat(pieces);
    expect(body.length).toBe(data.length);
    expect(sha256(body)).toBe(sha256(data));
  }, 180_000);
});
