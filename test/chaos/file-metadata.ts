import type { GatewayClient } from './gateway-client';

/** GET /files/:id/metadata, the parts the chaos suite reads. */
export interface FileMetadata {
  file_id: string;
  status: string;
  chunks: Array<{ chunk_number: number; chunk_id: string; size: number; replicas: Array<{ server_id: string; status: string }> }>;
}

export function fileMetadata(client: GatewayClient, fileId: string): Promise<FileMetadata> {
  return client.json<FileMetadata>(`/files/${fileId}/metadata`);
}

/** Every file the gateway lists (all pages). */
export async function listAllFileIds(client: GatewayClient): Promise<string[]> {
  const ids: string[] = [];
  for (let page = 1; ; page++) {
    const body = await client.json<{ files: Array<{ file_id: string }>; pagination: { total_pages: number } }>(`/files?page=${page}&per_page=1000`);
    ids.push(...body.files.map((f) => f.file_id));
    if (page >= body.pagination.total_pages || body.files.length === 0) return ids;
  }
}

export function storedReplicas(chunk: FileMetadata['chunks'][number]): string[] {
  return chunk.replicas.filter((r) => r.status === 'stored').map((r) => r.server_id);
}
