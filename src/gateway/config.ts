import path from 'node:path';
import { DEFAULT_MIN_CHUNK_SIZE } from '../files/chunk-plan';
import { DEFAULT_SMALL_FILE_CACHE_BYTES } from '../files/small-file-cache';
import { loadS3Config, type S3Config } from '../s3/config';
import { envBytes, envInt, envOptionalString, envString, ConfigError } from '../util/env';

export interface GatewayConfig {
  host: string;
  port: number;
  /** postgres://... for PostgreSQL; undefined = embedded PGlite under dataDir. */
  databaseUrl?: string;
  dataDir: string;
  /** Wanted copies of every chunk (capped by the number of servers available). */
  replicationFactor: number;
  /** Copies of every chunk fsynced before an upload is answered 201 (1..replicationFactor). */
  writeQuorum: number;
  maxFileSize: number;
  /** Chunk size when the upload's size is not known in advance. */
  streamChunkSize: number;
  /** A file of known size gets min(6, ceil(size / minChunkSize)) near-equal chunks. */
  minChunkSize: number;
  ringRefreshIntervalMs: number;
  serverHeartbeatTimeoutMs: number;
  uploadSessionTtlMs: number;
  cleanupIntervalMs: number;
  orphanGraceMs: number;
  /** How long completed-file metadata may be served from memory (other gateways' deletes). */
  fileCacheTtlMs: number;
  /** Memory for the bytes of hot small files (0 = off). */
  smallFileCacheBytes: number;
  /** Deadline of one unary storage call (delete, health). */
  callTimeoutMs: number;
  /** A storage stream with no progress for this long is abandoned. */
  streamIdleTimeoutMs: number;
  /** Uploads in progress at once; more get 503 with Retry-After. */
  maxConcurrentUploads: number;
  /** An upload body with no new bytes for this long, while the gateway waits for them, is cut with a 408. */
  bodyIdleTimeoutMs: number;
  /** A client must send its complete request headers within this long (slowloris), else 408. */
  headersTimeoutMs: number;
  /** Largest request line plus headers accepted; more gets 431. */
  maxHeaderSize: number;
  /** A server with less free space than this (or 5% of its disk, if smaller) gets new chunks only when others cannot. */
  placementMinFreeBytes: number;
  /** The S3 endpoint (S3_PORT, S3_DOMAIN, S3_REGION, S3_MULTIPART_MAX_AGE_MS). */
  s3: S3Config;
}

export function loadGatewayConfig(env: NodeJS.ProcessEnv = process.env): GatewayConfig {
  const databaseUrl = envOptionalString(env, 'DATABASE_URL');
  if (databaseUrl && !/^postgres(ql)?:\/\//.test(databaseUrl)) {
    throw new ConfigError(`DATABASE_URL must start with postgres:// or postgresql://, got "${databaseUrl}"`);
  }
  const uploadSessionTtlMs = envInt(env, 'UPLOAD_SESSION_TTL_MS', 3_600_000, { min: 1000 });
  const replicationFactor = envInt(env, 'REPLICATION_FACTOR', 2, { min: 1, max: 16 });
  const writeQuorum = envInt(env, 'WRITE_QUORUM', replicationFactor, { min: 1 });
  if (writeQuorum > replicationFactor) {
    throw new ConfigError(`WRITE_QUORUM must be at most REPLICATION_FACTOR (${replicationFactor}), got ${writeQuorum}`);
  }
  return {
    host: envString(env, 'HOST', '127.0.0.1'),
    port: envInt(env, 'PORT', 8080, { min: 0, max: 65535 }),
    databaseUrl,
    dataDir: path.resolve(envString(env, 'DATA_DIR', './data')),
    replicationFactor,
    writeQuorum,
    maxFileSize: envBytes(env, 'MAX_FILE_SIZE', 10 * 1024 ** 3, { min: 1 }),
    streamChunkSize: envBytes(env, 'STREAM_CHUNK_SIZE', 64 * 1024 ** 2, { min: 1024 }),
    minChunkSize: envBytes(env, 'MIN_CHUNK_SIZE', DEFAULT_MIN_CHUNK_SIZE, { min: 1 }),
    ringRefreshIntervalMs: envInt(env, 'RING_REFRESH_INTERVAL_MS', 30_000, { min: 100 }),
    serverHeartbeatTimeoutMs: envInt(env, 'SERVER_HEARTBEAT_TIMEOUT_MS', 30_000, { min: 100 }),
    uploadSessionTtlMs,
    cleanupIntervalMs: envInt(env, 'CLEANUP_INTERVAL_MS', 60_000, { min: 100 }),
    // Never shorter than an upload may legitimately take, so in-flight chunks are safe.
    orphanGraceMs: Math.max(envInt(env, 'ORPHAN_GRACE_MS', 3_600_000, { min: 0 }), uploadSessionTtlMs),
    fileCacheTtlMs: envInt(env, 'FILE_CACHE_TTL_MS', 5_000, { min: 0 }),
    smallFileCacheBytes: envBytes(env, 'SMALL_FILE_CACHE_BYTES', DEFAULT_SMALL_FILE_CACHE_BYTES, { min: 0 }),
    callTimeoutMs: envInt(env, 'CALL_TIMEOUT_MS', 10_000, { min: 100 }),
    streamIdleTimeoutMs: envInt(env, 'STREAM_IDLE_TIMEOUT_MS', 30_000, { min: 100 }),
    maxConcurrentUploads: envInt(env, 'MAX_CONCURRENT_UPLOADS', 64, { min: 1 }),
    bodyIdleTimeoutMs: envInt(env, 'BODY_IDLE_TIMEOUT_MS', 120_000, { min: 100 }),
    headersTimeoutMs: envInt(env, 'HEADERS_TIMEOUT_MS', 60_000, { min: 100 }),
    maxHeaderSize: envBytes(env, 'MAX_HEADER_SIZE', 16 * 1024, { min: 1024 }),
    placementMinFreeBytes: envBytes(env, 'PLACEMENT_MIN_FREE', 1024 ** 3),
    s3: loadS3Config(env),
  };
}
