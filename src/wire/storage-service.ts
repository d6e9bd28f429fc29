import path from 'node:path';
import * as grpc from '@grpc/grpc-js';
import * as protoLoader from '@grpc/proto-loader';
import { passEncoded } from './bytes-message';

/** proto/storage.proto, loaded once. int64 fields arrive as JS numbers (safe below 2^53). */
export const STORAGE_PROTO_PATH = path.resolve(__dirname, '../../proto/storage.proto');

const packageDefinition = protoLoader.loadSync(STORAGE_PROTO_PATH, {
  keepCase: true,
  longs: Number,
  enums: String,
  defaults: true,
  oneofs: true,
});

const loaded = grpc.loadPackageDefinition(packageDefinition) as unknown as {
  storage: { StorageService: grpc.ServiceClientConstructor };
};

export const StorageServiceClient = loaded.storage.StorageService;
export const storageServiceDefinition: grpc.ServiceDefinition = StorageServiceClient.service;

/** What storage servers register: GetChunk's data frames and ReadChunk's reply may be EncodedMessages, built in place. */
export const storageServerDefinition: grpc.ServiceDefinition = {
  ...storageServiceDefinition,
  GetChunk: { ...storageServiceDefinition.GetChunk, responseSerialize: passEncoded(storageServiceDefinition.GetChunk.responseSerialize) },
  ReadChunk: { ...storageServiceDefinition.ReadChunk, responseSerialize: passEncoded(storageServiceDefinition.ReadChunk.responseSerialize) },
};

/** The longest range ReadChunk answers in its one reply. */
export const READ_CHUNK_MAX_BYTES = 1024 * 1024;

export interface PutChunkRequest {
  chunk_id: string;
  data: Buffer;
  checksum: string;
  size: number;
  /** Absent (undefined) unless the sender set it: 0 is a valid CRC. */
  data_crc32?: number;
  chunk_crc32?: number;
}
export interface PutChunkResponse { chunk_id: string; success: boolean; error_message: string }
export interface GetChunkRequest { chunk_id: string; offset: number; length: number }
export interface GetChunkResponse { data: Buffer }
export interface DeleteChunkRequest { chunk_id: string }
export interface DeleteChunkResponse { success: boolean; error_message: string }
export interface HealthCheckResponse {
  status: string;
  available_space: number;
  used_space: number;
  total_space: number;
  server_id: string;
  chunk_count: number;
}
export interface ListChunksRequest { after: string; limit: number }
export interface ChunkInfo { chunk_id: string; size: number; modified_at_ms: number; checksum: string }
export interface VerifyChunkRequest { chunk_id: string }
export interface VerifyChunkResponse { chunk_id: string; ok: boolean; corrupt_block: number; error_message: string }
export interface SmallChunk { chunk_id: string; data: Buffer; data_crc32: number }
export interface PutSmallChunksRequest { chunks: SmallChunk[] }
/** `busy` (set on a refused put only) marks a RESOURCE_EXHAUSTED refusal as busy, not full (busy-refusal.ts). */
export interface SmallChunkResult { chunk_id: string; success: boolean; error_message: string; code: number; busy?: boolean }
export interface PutSmallChunksResponse { results: SmallChunkResult[] }
export interface ReadSmallChunksRequest { reads: GetChunkRequest[] }
export interface SmallChunkRead { index: number; data: Buffer; code: number; error_message: string }
/** One op of a SmallChunkOps stream: a put or a read (`op` names which, as proto-loader decodes a oneof). */
export interface SmallChunkOp { tag: number; op?: 'put' | 'read'; put?: SmallChunk | null; read?: GetChunkRequest | null }
export interface SmallChunkOpResult { tag: number; code: number; error_message: string; data: Buffer; busy?: boolean }
export interface SmallChunkOpBatch { ops: SmallChunkOp[] }
export interface SmallChunkOpResults { results: SmallChunkOpResult[] }
