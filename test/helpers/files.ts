import { createHash, randomBytes } from 'node:crypto';
import { readdir } from 'node:fs/promises';
import path from 'node:path';
import { volumeRecords } from './chunk-on-disk';

export interface UploadResponse {
  file_id: string;
  filename: string;
  size: number;
  content_type: string;
  checksum: string;
  chunks: number;
  status: string;
}

export function sha256(data: Buffer): string {
  return createHash('sha256').update(data).digest('hex');
}

/** Random bytes (fast for large sizes: a random block repeated with a varying prefix). */
export function testData(size: number): Buffer {
  if (size <= 1024 * 1024) return randomBytes(size);
  const block = randomBytes(1024 * 1024);
  const data = Buffer.allocUnsafe(size);
  for (let offset = 0, n = 0; offset < size; offset += block.length, n++) {
    block.writeUInt32BE(n, 0);
    block.copy(data, offset, 0, Math.min(block.length, size - offset));
  }
  return data;
}

export async function uploadRaw(baseUrl: string, data: Buffer, filename = 'file.bin'): Promise<UploadResponse> {
  const res = await fetch(`${baseUrl}/files?filename=${encodeURIComponent(filename)}`, {
    method: 'POST',
    headers: { 'Content-Type': 'application/octet-stream' },
    body: new Uint8Array(data.buffer, data.byteOffset, data.length) as BodyInit,
  });
  if (res.status !== 201) throw new Error(`upload failed: ${res.status} ${await res.text()}`);
  return (await res.json()) as UploadResponse;
}

export async function uploadMultipart(baseUrl: string, data: Buffer, filename = 'file.bin', type = 'application/octet-stream'): Promise<UploadResponse> {
  const form = new FormData();
  form.append('file', new Blob([new Uint8Array(data.buffer, data.byteOffset, data.length) as BlobPart], { type }), filename);
  const res = await fetch(`${baseUrl}/files`, { method: 'POST', body: form });
  if (res.status !== 201) throw new Error(`upload failed: ${res.status} ${await res.text()}`);
  return (await res.json()) as UploadResponse;
}

export async function download(baseUrl: string, fileId: string, headers: Record<string, string> = {}): Promise<{ status: number; body: Buffer; headers: Headers }> {
  const res = await fetch(`${baseUrl}/files/${fileId}`, { headers });
  return { status: res.status, body: Buffer.from(await res.arrayBuffer()), headers: res.headers };
}

const UUID_IN_NAME = /[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}/i;

/** Chunk ids of every chunk file, volume record and temp file under a storage server's data directory. */
export async function chunkIdsOnDisk(dataDir: string): Promise<Set<string>> {
  const found = new Set<string>();
  const walk = async (dir: string): Promise<void> => {
    let entries;
    try {
      entries = await readdir(dir, { withFileTypes: true });
    } catch {
      return;
    }
    for (const entry of entries) {
      const full = path.join(dir, entry.name);
      if (entry.isDirectory()) await walk(full);
      else {
        const id = UUID_IN_NAME.exec(entry.name)?.[0];
        if (id && entry.name !== 'server-id') found.add(id.toLowerCase());
      }
    }
  };
  await walk(path.join(dataDir, 'chunks'));
  await walk(path.join(dataDir, 'tmp'));
  for (const id of (await volumeRecords(dataDir)).keys()) found.add(id);
  return found;
}
