import { randomBytes } from 'node:crypto';
import { createLogger } from '../util/logger';
import { Batcher } from './batcher';
import { delimitedWalkSql, nextCodePoint, prefixUpperBound, rangeSql, type WalkSpec } from './delimited-walk';
import { runMigrations } from './migrate';
import { migrations } from './migrations';
import { ObjectRowCache } from './object-row-cache';
import { isUuid } from '../util/uuid';
import { toDate, toNullableNumber, toNumber, toStrings } from './row-values';
import { abortReason, metadataColumns, toBucket, toObject, toObjectSummary, toPart, toUpload } from './s3-rows';
import type { SqlBackend } from './sql-backend';
import type {
  BucketRecord,
  ChunkRecord,
  CompleteOutcome,
  CompletePlan,
  ListQuery,
  MultipartUploadRecord,
  NewObject,
  ObjectListing,
  ObjectMetadata,
  ObjectRecord,
  ObjectWithChunks,
  PartRecord,
  StoredBytes,
  StoredChecksum,
  UploadListing,
  UploadListQuery,
  FileRecord,
  FileSummary,
  MetadataStore,
  PendingDelete,
  ServerRecord,
  ChunkToRepair,
  ScrubCursor,
  UploadSession,
  Membership,
  MoveRun,
  ReplicaMoveOutcome,
  ServerRemoval,
  ServerUsage,
} from './types';

const log = createLogger('metadata');

const PING_TIMEOUT_MS = 2_000;
/** A failed pending delete waits 2^attempts s before its next try, at most this long. */
const MAX_DELETE_BACKOFF_SECONDS = 300;

type Row = Record<string, unknown>;

function toServer(row: Row): ServerRecord {
  return {
    id: row.id as string,
    address: row.address as string,
    joinedAt: toDate(row.joined_at),
    lastHeartbeatAt: toDate(row.last_heartbeat_at),
    availableSpace: toNullableNumber(row.available_space, 'available_space'),
    totalSpace: toNullableNumber(row.total_space, 'total_space'),
    membership: row.membership as Membership,
    membershipChangedAt: row.membership_changed_at === null ? null : toDate(row.membership_changed_at),
    drainStart:
      row.drain_chunks === null ? null : { chunks: toNumber(row.drain_chunks, 'drain_chunks'), bytes: toNumber(row.drain_bytes, 'drain_bytes') },
  };
}

function toFileFields(row: Row): Omit<FileRecord, 'chunks'> {
  return {
    fileId: row.id as string,
    filename: row.filename as string,
    contentType: row.content_type as string,
    size: toNumber(row.size, 'size'),
    checksum: row.checksum as string,
    status: 'completed',
    createdAt: toDate(row.created_at),
    updatedAt: toDate(row.updated_at),
    completedAt: toDate(row.completed_at),
  };
}

function toSummary(row: Row): FileSummary {
  return { ...toFileFields(row), chunkCount: toNumber(row.chunk_count, 'chunk_count') };
}

function toSession(row: Row): UploadSession {
  return {
    fileId: row.file_id as string,
    filename: row.filename as string,
    contentType: row.content_type as string,
    gatewayId: row.gateway_id as string,
    startedAt: toDate(row.started_at),
    expiresAt: toDate(row.expires_at),
  };
}

function toPendingDelete(row: Row): PendingDelete {
  return {
    chunkId: row.chunk_id as string,
    serverId: row.server_id as string,
    attempts: toNumber(row.attempts, 'attempts'),
    lastError: (row.last_error as string | null) ?? null,
  };
}

/** A chunk with its replicas, as chunksToRepair and chunksOnServer select it. */
function toChunkReplicas(row: Row): ChunkToRepair {
  return {
    fileId: row.file_id as string,
    chunkId: row.chunk_id as string,
    size: toNumber(row.size, 'size'),
    checksum: row.checksum as string,
    healthyServerIds: toStrings(row.healthy),
    allServerIds: toStrings(row.everywhere),
    deletingServerIds: toStrings(row.deleting),
  };
}

/** getFile's chunks column: JSON built by the query (bigints fit a JSON number exactly). */
interface ChunkJson {
  chunk_number: number;
  chunk_id: string;
  offset: number;
  size: number;
  checksum: string;
  replicas: { server_id: string; status: 'stored' | 'corrupt' }[];
}

function toChunk(chunk: ChunkJson): ChunkRecord {
  return {
    chunkNumber: chunk.chunk_number,
    chunkId: chunk.chunk_id,
    offset: toNumber(chunk.offset, 'offset'),
    size: toNumber(chunk.size, 'chunk size'),
    checksum: chunk.checksum,
    replicas: chunk.replicas.map((r) => ({ serverId: r.server_id, status: r.status })),
  };
}

function toChunks(value: unknown): ChunkRecord[] {
  return (value as ChunkJson[]).map(toChunk);
}

/** A file's chunks with their replicas (healthy first) as one JSON column, in chunk order. */
const CHUNKS_JSON = (fileId: string) => `COALESCE((
  SELECT json_agg(json_build_object(
    'chunk_number', c.chunk_number, 'chunk_id', c.chunk_id, 'offset', c."offset", 'size', c.size,
    'checksum', c.checksum,
    'replicas', COALESCE((
      SELECT json_agg(json_build_object('server_id', r.server_id, 'status', r.status)
                      ORDER BY r.status = 'corrupt', r.created_at, r.server_id)
      FROM chunk_replicas r WHERE r.chunk_id = c.chunk_id), '[]'::json)
  ) ORDER BY c.chunk_number)
  FROM chunks c WHERE c.file_id = ${fileId}), '[]'::json)`;

type FileKind = 'file' | 'object' | 'part';

type NewFile = Omit<FileRecord, 'createdAt' | 'updatedAt' | 'completedAt' | 'status'>;

/**
 * CTEs inserting complete files rows, their chunks and their replicas, multi-row from JSON
 * ($1 files, $2 chunks, $3 replicas: filesParams builds them), and dropping the upload
 * sessions their bodies were written under, if any. Every statement that records stored bytes
 * (file completions, object puts, parts) starts with them, so several can share one statement;
 * `new_files` returns each file's id and timestamps. A statement numbers its own parameters from $4.
 */
const INSERT_FILES = `new_files AS (
    INSERT INTO files (id, filename, content_type, size, checksum, kind)
    SELECT f.id, f.filename, f.content_type, f.size, f.checksum, f.kind
    FROM jsonb_to_recordset($1::jsonb) AS f(id uuid, filename text, content_type text, size bigint, checksum text, kind text)
    RETURNING id, size, created_at, updated_at, completed_at
  ), new_chunks AS (
    INSERT INTO chunks (file_id, chunk_number, chunk_id, "offset", size, checksum)
    SELECT c.file_id, c.chunk_number, c.chunk_id, c."offset", c.size, c.checksum
    FROM jsonb_to_recordset($2::jsonb) AS c(file_id uuid, chunk_number integer, chunk_id uuid, "offset" bigint, size bigint, checksum text)
  ), new_replicas AS (
    INSERT INTO chunk_replicas (chunk_id, server_id, status)
    SELECT r.chunk_id, r.server_id, r.status
    FROM jsonb_to_recordset($3::jsonb) AS r(chunk_id uuid, server_id text, status text)
  ), finished_sessions AS (
    DELETE FROM upload_sessions WHERE file_id IN (SELECT id FROM new_files)
  )`;

function filesParams(files: Array<{ file: NewFile; kind: FileKind }>): string[] {
  const rows = files.map(({ file: f, kind }) => ({ id: f.fileId, filename: f.filename, content_type: f.contentType, size: f.size, checksum: f.checksum, kind }));
  const chunks = files.flatMap(({ file: f }) =>
    f.chunks.map((c) => ({ file_id: f.fileId, chunk_number: c.chunkNumber, chunk_id: c.chunkId, offset: c.offset, size: c.size, checksum: c.checksum })));
  const replicas = files.flatMap(({ file: f }) => f.chunks.flatMap((c) => c.replicas.map((r) => ({ chunk_id: c.chunkId, server_id: r.serverId, status: r.status }))));
  return [JSON.stringify(rows), JSON.stringify(chunks), JSON.stringify(replicas)];
}

/** The files row of an object's or a part's bytes. */
function storedFile(bytes: StoredBytes, filename: string, contentType: string): NewFile {
  return { fileId: bytes.fileId, filename, contentType, size: bytes.size, checksum: bytes.sha256, chunks: bytes.chunks };
}

/** What a files row of an object or part says when the client sent no Content-Type. */
const DEFAULT_CONTENT_TYPE = 'application/octet-stream';
/** A completion that keeps racing part uploads gives up after this many tries. */
const MAX_COMPLETE_ATTEMPTS = 5;
/** Object rows the embedded store keeps in memory (about 1 KiB each at most). */
const OBJECT_ROWS_CACHED = 10_000;

/** The s3_objects columns a put or a completion sets from JSON (jsonb_populate_record). */
const OBJECT_FIELDS = [
  'etag', 'content_type', 'content_encoding', 'content_disposition', 'content_language', 'cache_control', 'expires',
  'user_metadata', 'checksum_algorithm', 'checksum_value', 'checksum_type',
] as const;

/** ON CONFLICT (bucket, key): the new object takes the row over (the trigger releases the old file). */
const REPLACE_OBJECT = ['file_id', 'size', ...OBJECT_FIELDS].map((f) => `${f} = EXCLUDED.${f}`).join(', ') + ', last_modified = now()';

function objectFields(etag: string, metadata: ObjectMetadata, checksum: StoredChecksum | null): Record<string, unknown> {
  return {
    etag,
    ...metadataColumns(metadata),
    checksum_algorithm: checksum?.algorithm ?? null,
    checksum_value: checksum?.value ?? null,
    checksum_type: checksum?.type ?? null,
  };
}

/** Upload ids: the creation time in hex, then randomness, so their order is the creation order. */
function newUploadId(): string {
  return Date.now().toString(16).padStart(12, '0') + randomBytes(10).toString('hex');
}

const OBJECT_LISTING: WalkSpec = {
  table: 's3_objects',
  position: ['key'],
  carried: ['etag', 'size', 'last_modified', 'checksum_algorithm', 'checksum_value', 'checksum_type'],
};
const UPLOAD_LISTING: WalkSpec = {
  table: 's3_multipart_uploads',
  position: ['key', 'upload_id'],
  carried: ['owner', 'initiated_at', 'metadata', 'checksum_algorithm', 'checksum_type'],
};
const LISTING_SQL = {
  objects: { walk: delimitedWalkSql(OBJECT_LISTING), range: rangeSql(OBJECT_LISTING) },
  uploads: { walk: delimitedWalkSql(UPLOAD_LISTING), range: rangeSql(UPLOAD_LISTING) },
};

/**
 * One listing query: the delimited walk, or the plain range when there is no delimiter. Rows
 * come in listing order, one more than `limit` when there are more.
 */
function listingQuery(
  sql: { walk: string; range: string },
  listing: { bucket: string; prefix: string; delimiter: string; limit: number; start: unknown[] },
): [string, unknown[]] {
  const { bucket, prefix, delimiter, limit, start } = listing;
  if (delimiter === '') return [sql.range, [bucket, prefix, prefixUpperBound(prefix), limit + 1, ...start]];
  const delimiterEnd = nextCodePoint([...delimiter].at(-1)!);
  if (delimiterEnd === null) throw new Error('a delimiter must not end with U+10FFFF');
  return [sql.walk, [bucket, prefix, prefixUpperBound(prefix), delimiter, delimiterEnd, limit + 1, ...start]];
}

/**
 * CompleteMultipartUpload's statement. $1 upload id, $2 bucket, $3 key, $4 listed parts
 * [{part_number, etag}], $5 the object's new file id, $6 the object's etag and checksum, $7 the
 * minimum size of every part but the last. The verdict guard refuses the whole statement when
 * the upload is missing, a listed part is missing or has another ETag, or a part is too small;
 * the final check refuses it when some chunk rows could not be moved (see the method).
 */
const COMPLETE_UPLOAD = `
  WITH upload AS (
    SELECT * FROM s3_multipart_uploads WHERE upload_id = $1 AND bucket = $2 AND key = $3 FOR UPDATE
  ), chosen AS (
    SELECT l.part_number, l.etag AS listed_etag, p.etag, p.file_id, p.size
    FROM jsonb_to_recordset($4::jsonb) AS l(part_number integer, etag text)
    LEFT JOIN (SELECT s.* FROM s3_parts s JOIN upload u ON s.upload_id = u.upload_id) p ON p.part_number = l.part_number
  ), bad_part AS (
    SELECT min(part_number) AS part_number FROM chosen WHERE file_id IS NULL OR etag <> listed_etag
  ), small_part AS (
    SELECT part_number, size FROM chosen
    WHERE size < $7 AND part_number < (SELECT max(part_number) FROM chosen)
    ORDER BY part_number LIMIT 1
  ), verdict AS (
    SELECT CASE
      WHEN NOT EXISTS (SELECT 1 FROM upload) THEN ringstore_abort('no-upload')
      WHEN (SELECT part_number FROM bad_part) IS NOT NULL THEN ringstore_abort('invalid-part:' || (SELECT part_number FROM bad_part))
      WHEN EXISTS (SELECT 1 FROM small_part) THEN ringstore_abort((SELECT 'too-small:' || part_number || ':' || size FROM small_part))
      ELSE true END AS ok
  ), moves AS (
    SELECT c.chunk_id,
           (row_number() OVER w - 1)::integer AS new_number,
           (sum(c.size) OVER w - c.size)::bigint AS new_offset
    FROM chosen p JOIN chunks c ON c.file_id = p.file_id
    WINDOW w AS (ORDER BY p.part_number, c.chunk_number)
  ), new_file AS (
    INSERT INTO files (id, filename, content_type, size, checksum, kind)
    SELECT $5::uuid, $3, COALESCE(u.metadata->>'content_type', '${DEFAULT_CONTENT_TYPE}'), (SELECT COALESCE(sum(size), 0) FROM chosen), '', 'object'
    FROM upload u
    RETURNING id, size
  ), moved AS (
    UPDATE chunks c SET file_id = $5::uuid, chunk_number = m.new_number, "offset" = m.new_offset
    FROM moves m WHERE c.chunk_id = m.chunk_id
    RETURNING c.chunk_id
  ), stored AS (
    INSERT INTO s3_objects (bucket, key, file_id, size, ${OBJECT_FIELDS.join(', ')})
    SELECT $2, $3, f.id, f.size, ${OBJECT_FIELDS.map((f) => `o.${f}`).join(', ')}
    FROM new_file f, upload u, jsonb_populate_record(NULL::s3_objects, u.metadata || $6::jsonb) o
    ON CONFLICT (bucket, key) DO UPDATE SET ${REPLACE_OBJECT}
    RETURNING *
  ), dropped AS (
    DELETE FROM s3_multipart_uploads WHERE upload_id IN (SELECT upload_id FROM upload)
  )
  SELECT stored.*, (SELECT ok FROM verdict) AS ok,
         CASE WHEN (SELECT count(*) FROM moved) <> (SELECT count(*) FROM moves) THEN ringstore_abort('conflict') END AS consistent
  FROM (SELECT 1) one LEFT JOIN stored ON true`;

/**
 * Every query of the metadata store, written once for both backends. Ids are uuid columns: a
 * malformed id is simply not there (checked with isUuid first, so it never becomes a cast error).
 */
export class SqlMetadataStore implements MetadataStore {
  readonly kind: 'postgres' | 'pglite';
  /** Concurrent completions share one statement (group commit). */
  private readonly completions = new Batcher<NewFile, FileRecord>((files) => this.completeUploads(files), { gatherTurn: true });
  /** Concurrent lookups of files share one query. */
  private readonly lookups = new Batcher<string, FileRecord | null>((ids) => this.getFiles(ids));
  /** Concurrent bucket lookups (every S3 request naming a bucket checks it) share one query. */
  private readonly bucketLookups = new Batcher<string, BucketRecord | null>((names) => this.getBuckets(names));
  /** Concurrent object puts (S3 PutObject and CopyObject) share one statement, as completions do. */
  private readonly objectPuts = new Batcher<NewObject, ObjectRecord>((objects) => this.putObjects(objects), { gatherTurn: true });
  /** Concurrent object-row lookups (every S3 GET and HEAD) share one query too. */
  private readonly objectLookups = new Batcher<{ bucket: string; key: string }, ObjectRecord | null>((wanted) => this.headObjects(wanted));
  /** Concurrent GetObject reads of rows with their chunks share one query. */
  private readonly objectReads = new Batcher<{ bucket: string; key: string }, ObjectWithChunks | null>((wanted) => this.getObjects(wanted));
  /** Object rows in memory where this store is the database's only writer (embedded). */
  private readonly objectRows: ObjectRowCache;

  constructor(private readonly db: SqlBackend) {
    this.kind = db.kind;
    this.objectRows = new ObjectRowCache(db.kind === 'pglite' ? OBJECT_ROWS_CACHED : 0);
  }

  migrate(): Promise<void> {
    return runMigrations(this.db, migrations);
  }

  ping(): Promise<void> {
    return this.db.ping(PING_TIMEOUT_MS);
  }

  close(): Promise<void> {
    return this.db.close();
  }

  async upsertServer(server: { id: string; address: string; availableSpace?: number; totalSpace?: number }): Promise<void> {
    await this.db.query(
      `INSERT INTO storage_servers (id, address, available_space, total_space) VALUES ($1, $2, $3, $4)
       ON CONFLICT (id) DO UPDATE SET
         address = EXCLUDED.address,
         last_heartbeat_at = now(),
         available_space = COALESCE(EXCLUDED.available_space, storage_servers.available_space),
         total_space = COALESCE(EXCLUDED.total_space, storage_servers.total_space)`,
      [server.id, server.address, server.availableSpace ?? null, server.totalSpace ?? null],
    );
  }

  async listServers(): Promise<ServerRecord[]> {
    const rows = await this.db.query<Row>('SELECT * FROM storage_servers ORDER BY id');
    return rows.map(toServer);
  }

  async setMembership(serverId: string, to: Membership, from: readonly Membership[]): Promise<ServerRecord | null> {
    const rows = await this.db.query<Row>(
      `UPDATE storage_servers SET
         membership = $2, membership_changed_at = now(),
         drain_chunks = CASE $2::text
           WHEN 'draining' THEN (SELECT count(*) FROM chunk_replicas WHERE server_id = $1)
           WHEN 'active' THEN NULL ELSE drain_chunks END,
         drain_bytes = CASE $2::text
           WHEN 'draining' THEN (SELECT COALESCE(sum(c.size), 0) FROM chunk_replicas r JOIN chunks c ON c.chunk_id = r.chunk_id WHERE r.server_id = $1)
           WHEN 'active' THEN NULL ELSE drain_bytes END
       WHERE id = $1 AND membership = ANY($3::text[])
       RETURNING *`,
      [serverId, to, [...from]],
    );
    return rows.length === 0 ? null : toServer(rows[0]);
  }

  /** Of every server, a scan of every replica row: callers cache it (GET /admin/servers). */
  async serverUsage(serverId?: string): Promise<ServerUsage[]> {
    const rows = await this.db.query<Row>(
      `SELECT server_id, sum(chunks) AS chunks, sum(bytes) AS bytes, sum(pending) AS pending FROM (
         SELECT r.server_id, count(*) AS chunks, sum(c.size) AS bytes, 0 AS pending
         FROM chunk_replicas r JOIN chunks c ON c.chunk_id = r.chunk_id
         WHERE $1::text IS NULL OR r.server_id = $1 GROUP BY r.server_id
         UNION ALL
         SELECT server_id, 0, 0, count(*) FROM pending_deletes WHERE $1::text IS NULL OR server_id = $1 GROUP BY server_id
       ) usage GROUP BY server_id ORDER BY server_id`,
      [serverId ?? null],
    );
    return rows.map((row) => ({
      serverId: row.server_id as string,
      chunks: toNumber(row.chunks, 'chunks'),
      bytes: toNumber(row.bytes, 'bytes'),
      pendingDeletes: toNumber(row.pending, 'pending'),
    }));
  }

  /** One page of the server's chunk ids first (its (server_id, chunk_id) index), then their replicas. */
  async chunksOnServer(serverId: string, liveServerIds: string[], after: string, limit: number): Promise<ChunkToRepair[]> {
    const rows = await this.db.query<Row>(
      `WITH page AS (
         SELECT chunk_id FROM chunk_replicas
         WHERE server_id = $1 AND ($3::uuid IS NULL OR chunk_id > $3::uuid)
         ORDER BY chunk_id LIMIT $4
       )
       SELECT c.file_id, c.chunk_id, c.size, c.checksum,
              COALESCE(array_agg(r.server_id ORDER BY r.server_id)
                FILTER (WHERE r.status = 'stored' AND r.server_id = ANY($2::text[])), '{}') AS healthy,
              array_agg(r.server_id ORDER BY r.server_id) AS everywhere,
              COALESCE((SELECT array_agg(p.server_id ORDER BY p.server_id) FROM pending_deletes p
                        WHERE p.chunk_id = c.chunk_id::text), '{}') AS deleting
       FROM page JOIN chunks c ON c.chunk_id = page.chunk_id JOIN chunk_replicas r ON r.chunk_id = c.chunk_id
       GROUP BY c.file_id, c.chunk_number
       ORDER BY c.chunk_id`,
      [serverId, liveServerIds, isUuid(after) ? after : null, limit],
    );
    return rows.map(toChunkReplicas);
  }

  /**
   * The insert happens only when the source row exists and the target has none; the source row
   * goes only when the insert happened; its copy is queued for deletion only when its row went.
   */
  async moveReplica(move: { chunkId: string; from: string; to: string; deleteAfterMs: number }): Promise<ReplicaMoveOutcome> {
    if (!isUuid(move.chunkId)) return 'chunk-gone';
    const [row] = await this.db.query<Row>(
      `WITH source AS (
         SELECT chunk_id FROM chunk_replicas WHERE chunk_id = $1 AND server_id = $2
       ), added AS (
         INSERT INTO chunk_replicas (chunk_id, server_id) SELECT chunk_id, $3 FROM source
         ON CONFLICT (chunk_id, server_id) DO NOTHING
         RETURNING chunk_id
       ), dropped AS (
         DELETE FROM chunk_replicas r USING added WHERE r.chunk_id = added.chunk_id AND r.server_id = $2
         RETURNING r.chunk_id
       ), queued AS (
         INSERT INTO pending_deletes (chunk_id, server_id, next_attempt_at)
         SELECT chunk_id::text, $2, now() + make_interval(secs => $4::double precision / 1000) FROM dropped
         ON CONFLICT DO NOTHING
       )
       SELECT EXISTS (SELECT 1 FROM added) AS moved,
              EXISTS (SELECT 1 FROM chunks WHERE chunk_id = $1) AS chunk_exists,
              EXISTS (SELECT 1 FROM source) AS had_source`,
      [move.chunkId, move.from, move.to, move.deleteAfterMs],
    );
    if (row.moved) return 'moved';
    if (!row.chunk_exists) return 'chunk-gone';
    return row.had_source ? 'target-taken' : 'source-gone';
  }

  async removeServer(serverId: string, force: boolean): Promise<ServerRemoval | null> {
    const [row] = await this.db.query<Row>(
      `WITH known AS (
         SELECT id FROM storage_servers WHERE id = $1 AND membership <> 'removed'
       ), held AS (
         SELECT count(*) AS n FROM chunk_replicas WHERE server_id = $1
       ), allowed AS (
         SELECT id FROM known WHERE $2 OR (SELECT n FROM held) = 0
       ), elsewhere AS (
         SELECT r.chunk_id FROM chunk_replicas r, allowed
         WHERE r.server_id = $1 AND EXISTS (
           SELECT 1 FROM chunk_replicas o WHERE o.chunk_id = r.chunk_id AND o.server_id <> $1 AND o.status = 'stored')
       ), dropped AS (
         DELETE FROM chunk_replicas r USING elsewhere e WHERE r.chunk_id = e.chunk_id AND r.server_id = $1
         RETURNING r.chunk_id
       ), deletes_dropped AS (
         DELETE FROM pending_deletes p USING allowed WHERE p.server_id = $1
         RETURNING p.chunk_id
       ), removed AS (
         UPDATE storage_servers s SET membership = 'removed', membership_changed_at = now()
         FROM allowed WHERE s.id = allowed.id
         RETURNING s.id
       )
       SELECT EXISTS (SELECT 1 FROM known) AS known, EXISTS (SELECT 1 FROM removed) AS removed,
              (SELECT n FROM held) AS chunks, (SELECT count(*) FROM dropped) AS dropped,
              (SELECT count(*) FROM deletes_dropped) AS deletes_dropped`,
      [serverId, force],
    );
    if (!row.known) return null;
    const chunks = toNumber(row.chunks, 'chunks');
    const replicasDropped = toNumber(row.dropped, 'dropped');
    const removed = Boolean(row.removed);
    return {
      removed,
      chunks,
      replicasDropped,
      chunksOnlyThere: removed ? chunks - replicasDropped : 0,
      pendingDeletesDropped: toNumber(row.deletes_dropped, 'deletes_dropped'),
    };
  }

  async pendingDeleteChunkIds(chunkIds: string[], serverId: string): Promise<Set<string>> {
    if (chunkIds.length === 0) return new Set();
    const rows = await this.db.query<{ chunk_id: string }>(
      'SELECT chunk_id FROM pending_deletes WHERE server_id = $2 AND chunk_id = ANY($1::text[])',
      [chunkIds, serverId],
    );
    return new Set(rows.map((row) => row.chunk_id));
  }

  async saveMoveRun(run: Omit<MoveRun, 'updatedAt'>): Promise<void> {
    await this.db.query(
      `INSERT INTO move_runs (job, gateway_id, started_at, finished_at, outcome, report) VALUES ($1, $2, $3, $4, $5, $6::jsonb)
       ON CONFLICT (job) DO UPDATE SET gateway_id = EXCLUDED.gateway_id, started_at = EXCLUDED.started_at, updated_at = now(),
         finished_at = EXCLUDED.finished_at, outcome = EXCLUDED.outcome, report = EXCLUDED.report`,
      [run.job, run.gatewayId, run.startedAt, run.finishedAt, run.outcome, JSON.stringify(run.report)],
    );
  }

  async moveRuns(): Promise<MoveRun[]> {
    const rows = await this.db.query<Row>('SELECT * FROM move_runs ORDER BY job');
    return rows.map((row) => ({
      job: row.job as string,
      gatewayId: row.gateway_id as string,
      startedAt: toDate(row.started_at),
      updatedAt: toDate(row.updated_at),
      finishedAt: row.finished_at === null ? null : toDate(row.finished_at),
      outcome: (row.outcome as string | null) ?? null,
      report: { ...(row.report as Record<string, number>) },
    }));
  }

  async beginUpload(session: UploadSession): Promise<void> {
    await this.db.query(
      `INSERT INTO upload_sessions (file_id, filename, content_type, gateway_id, started_at, expires_at)
       VALUES ($1, $2, $3, $4, $5, $6)`,
      [session.fileId, session.filename, session.contentType, session.gatewayId, session.startedAt, session.expiresAt],
    );
  }

  /**
   * Batched with the completions that arrive while one runs: one statement, hence one
   * transaction and one round trip, for all of them. Resolves once it is committed.
   */
  completeUpload(file: NewFile): Promise<FileRecord> {
    return this.completions.submit(file);
  }

  private async completeUploads(files: NewFile[]): Promise<FileRecord[]> {
    const rows = await this.db.query<Row>(
      `WITH ${INSERT_FILES} SELECT id, created_at, updated_at, completed_at FROM new_files`,
      filesParams(files.map((file) => ({ file, kind: 'file' }))),
      { prepareAs: 'complete_files' },
    );
    const byId = new Map(rows.map((row) => [row.id as string, row]));
    return files.map((file) => {
      const { created_at, updated_at, completed_at } = byId.get(file.fileId)!;
      return { ...file, status: 'completed', createdAt: toDate(created_at), updatedAt: toDate(updated_at), completedAt: toDate(completed_at) };
    });
  }

  async abortUpload(fileId: string): Promise<void> {
    if (!isUuid(fileId)) return;
    await this.db.query('DELETE FROM upload_sessions WHERE file_id = $1', [fileId]);
  }

  async expiredUploads(now: Date, limit: number): Promise<UploadSession[]> {
    const rows = await this.db.query<Row>(
      'SELECT * FROM upload_sessions WHERE expires_at <= $1 ORDER BY expires_at LIMIT $2',
      [now, limit],
    );
    return rows.map(toSession);
  }

  /** Batched with the lookups that arrive while one runs (see getFiles). */
  async getFile(fileId: string): Promise<FileRecord | null> {
    if (!isUuid(fileId)) return null;
    return this.lookups.submit(fileId.toLowerCase());
  }

  /** One row per file: the chunks and their replicas come as JSON, faster than a join on PGlite. */
  private async getFiles(fileIds: string[]): Promise<Array<FileRecord | null>> {
    const rows = await this.db.query<Row>(
      `SELECT f.*, ${CHUNKS_JSON('f.id')} AS chunks FROM files f WHERE f.id = ANY($1::uuid[]) AND f.kind = 'file'`,
      [`{${fileIds.join(',')}}`], // an array literal: a prepared statement takes text (the ids are UUIDs, see getFile)
      { prepareAs: 'get_files' },
    );
    const byId = new Map(rows.map((row) => [String(row.id), row]));
    return fileIds.map((id) => {
      const row = byId.get(id);
      return row ? { ...toFileFields(row), chunks: toChunks(row.chunks) } : null;
    });
  }

  async listFiles(page: number, perPage: number, nameContains?: string): Promise<{ files: FileSummary[]; total: number }> {
    // ILIKE with the user's text taken literally: its own % _ and \ are escaped.
    const pattern = nameContains === undefined ? undefined : `%${nameContains.replace(/[\\%_]/g, (c) => `\\${c}`)}%`;
    const where = pattern === undefined ? "f.kind = 'file'" : `f.kind = 'file' AND f.filename ILIKE $1 ESCAPE '\\'`;
    const filter = pattern === undefined ? [] : [pattern];
    const rows = await this.db.query<Row>(
      `SELECT f.*, (SELECT count(*) FROM chunks c WHERE c.file_id = f.id) AS chunk_count
       FROM files f WHERE ${where} ORDER BY f.created_at DESC, f.id DESC LIMIT $${filter.length + 1} OFFSET $${filter.length + 2}`,
      [...filter, perPage, (Math.max(1, page) - 1) * perPage],
    );
    const [{ total }] = await this.db.query<Row>(`SELECT count(*) AS total FROM files f WHERE ${where}`, filter);
    return { files: rows.map(toSummary), total: toNumber(total, 'total') };
  }

  async countFiles(): Promise<number> {
    const [{ total }] = await this.db.query<Row>("SELECT count(*) AS total FROM files WHERE kind = 'file'");
    return toNumber(total, 'total');
  }

  /**
   * One statement: the replicas are read from the snapshot before the cascade removes them.
   * The LEFT JOIN keeps one row for a deleted file without replicas, so "no rows" means
   * "no such file".
   */
  async deleteFile(fileId: string): Promise<PendingDelete[] | null> {
    if (!isUuid(fileId)) return null;
    const rows = await this.db.query<Row>(
      `WITH doomed AS (
         SELECT r.chunk_id::text AS chunk_id, r.server_id
         FROM chunks c JOIN chunk_replicas r ON r.chunk_id = c.chunk_id
         WHERE c.file_id = $1
       ), queued AS (
         INSERT INTO pending_deletes (chunk_id, server_id) SELECT chunk_id, server_id FROM doomed
         ON CONFLICT DO NOTHING
       ), deleted AS (
         DELETE FROM files WHERE id = $1 AND kind = 'file' RETURNING id
       )
       SELECT doomed.chunk_id, doomed.server_id FROM deleted LEFT JOIN doomed ON true`,
      [fileId],
    );
    if (rows.length === 0) return null;
    return rows
      .filter((row) => row.chunk_id !== null)
      .map((row) => ({ chunkId: row.chunk_id as string, serverId: row.server_id as string, attempts: 0, lastError: null }));
  }

  async addPendingDeletes(items: { chunkId: string; serverId: string }[]): Promise<void> {
    if (items.length === 0) return;
    await this.db.query(
      `INSERT INTO pending_deletes (chunk_id, server_id)
       SELECT chunk_id, server_id FROM jsonb_to_recordset($1::jsonb) AS d(chunk_id text, server_id text)
       ON CONFLICT DO NOTHING`,
      [JSON.stringify(items.map((item) => ({ chunk_id: item.chunkId, server_id: item.serverId })))],
    );
  }

  /** The ones due now, oldest due first. */
  async listPendingDeletes(limit: number): Promise<PendingDelete[]> {
    const rows = await this.db.query<Row>(
      'SELECT * FROM pending_deletes WHERE next_attempt_at <= now() ORDER BY next_attempt_at LIMIT $1',
      [limit],
    );
    return rows.map(toPendingDelete);
  }

  async resolvePendingDelete(chunkId: string, serverId: string): Promise<void> {
    await this.db.query('DELETE FROM pending_deletes WHERE chunk_id = $1 AND server_id = $2', [chunkId, serverId]);
  }

  async failPendingDelete(chunkId: string, serverId: string, error: string): Promise<void> {
    await this.db.query(
      `UPDATE pending_deletes SET
         attempts = attempts + 1,
         last_error = $3,
         next_attempt_at = now() + make_interval(secs => least(power(2, attempts), $4))
       WHERE chunk_id = $1 AND server_id = $2`,
      [chunkId, serverId, error, MAX_DELETE_BACKOFF_SECONDS],
    );
  }

  async referencedChunkIds(chunkIds: string[], serverId?: string): Promise<Set<string>> {
    const candidates = chunkIds.filter(isUuid);
    if (candidates.length === 0) return new Set();
    const rows =
      serverId === undefined
        ? await this.db.query<{ chunk_id: string }>('SELECT chunk_id FROM chunks WHERE chunk_id = ANY($1::uuid[])', [candidates])
        : await this.db.query<{ chunk_id: string }>(
            'SELECT chunk_id FROM chunk_replicas WHERE server_id = $2 AND chunk_id = ANY($1::uuid[])',
            [candidates, serverId],
          );
    // Answer in the caller's spelling (uuids come back lower-case).
    const referenced = new Set(rows.map((row) => row.chunk_id));
    return new Set(candidates.filter((id) => referenced.has(id.toLowerCase())));
  }

  /**
   * Chunks with fewer than R 'stored' replicas on live servers. Chunks that still have a
   * healthy copy come first, most at risk first; those with none (nothing to copy from until
   * a server returns) last, so they never crowd out repairable ones.
   */
  async chunksToRepair(replicationFactor: number, liveServerIds: string[], limit: number): Promise<ChunkToRepair[]> {
    const rows = await this.db.query<Row>(
      `SELECT * FROM (
         SELECT c.file_id, c.chunk_number, c.chunk_id, c.size, c.checksum,
                count(r.server_id) FILTER (WHERE r.status = 'stored' AND r.server_id = ANY($2::text[])) AS healthy_count,
                COALESCE(array_agg(r.server_id ORDER BY r.server_id)
                  FILTER (WHERE r.status = 'stored' AND r.server_id = ANY($2::text[])), '{}') AS healthy,
                COALESCE(array_agg(r.server_id ORDER BY r.server_id) FILTER (WHERE r.server_id IS NOT NULL), '{}') AS everywhere,
                count(r.server_id) FILTER (WHERE r.status = 'corrupt' AND r.server_id = ANY($2::text[])) AS corrupt_count,
                COALESCE((SELECT array_agg(p.server_id ORDER BY p.server_id) FROM pending_deletes p
                          WHERE p.chunk_id = c.chunk_id::text), '{}') AS deleting
         FROM chunks c LEFT JOIN chunk_replicas r ON r.chunk_id = c.chunk_id
         GROUP BY c.file_id, c.chunk_number
       ) counted
       WHERE healthy_count < $1 OR corrupt_count > 0
       ORDER BY healthy_count >= $1, healthy_count = 0, healthy_count, file_id, chunk_number
       LIMIT $3`,
      [replicationFactor, liveServerIds, limit],
    );
    return rows.map(toChunkReplicas);
  }

  async storedChunkIdsOn(serverId: string, after: string, upTo: string | undefined): Promise<string[]> {
    // A uuid sorts as its lowercase hex text does: the order storage servers list chunks in.
    const rows = await this.db.query<Row>(
      `SELECT chunk_id::text AS chunk_id FROM chunk_replicas
       WHERE server_id = $1 AND status = 'stored'
         AND ($2::uuid IS NULL OR chunk_id > $2::uuid) AND ($3::uuid IS NULL OR chunk_id <= $3::uuid)
       ORDER BY chunk_id`,
      [serverId, isUuid(after) ? after : null, upTo !== undefined && isUuid(upTo) ? upTo : null],
    );
    return rows.map((row) => row.chunk_id as string);
  }

  async scrubCursors(): Promise<ScrubCursor[]> {
    const rows = await this.db.query<Row>('SELECT server_id, cursor, passes FROM scrub_cursors ORDER BY server_id');
    return rows.map((row) => ({ serverId: row.server_id as string, cursor: row.cursor as string, passes: toNumber(row.passes, 'passes') }));
  }

  async saveScrubCursor({ serverId, cursor, passes }: ScrubCursor): Promise<void> {
    await this.db.query(
      `INSERT INTO scrub_cursors (server_id, cursor, passes) VALUES ($1, $2, $3)
       ON CONFLICT (server_id) DO UPDATE SET cursor = EXCLUDED.cursor, passes = EXCLUDED.passes, updated_at = now()`,
      [serverId, cursor, passes],
    );
  }

  /** A copy made by repair; a 'corrupt' row on that server becomes 'stored' again. */
  async addReplica(chunkId: string, serverId: string): Promise<boolean> {
    if (!isUuid(chunkId)) return false;
    const rows = await this.db.query(
      `INSERT INTO chunk_replicas (chunk_id, server_id)
       SELECT chunk_id, $2::text FROM chunks WHERE chunk_id = $1
       ON CONFLICT (chunk_id, server_id) DO UPDATE SET status = 'stored', created_at = now()
       RETURNING chunk_id`,
      [chunkId, serverId],
    );
    return rows.length > 0;
  }

  async markReplicaCorrupt(chunkId: string, serverId: string): Promise<void> {
    if (!isUuid(chunkId)) return;
    const rows = await this.db.query(
      `UPDATE chunk_replicas SET status = 'corrupt' WHERE chunk_id = $1 AND server_id = $2 AND status = 'stored'
       RETURNING chunk_id`,
      [chunkId, serverId],
    );
    if (rows.length > 0) {
      log.warn('replica stored -> corrupt', { chunkId, serverId, why: 'a read or scrub found its bytes bad' });
    }
  }

  async removeReplica(chunkId: string, serverId: string): Promise<void> {
    if (!isUuid(chunkId)) return;
    await this.db.query('DELETE FROM chunk_replicas WHERE chunk_id = $1 AND server_id = $2', [chunkId, serverId]);
  }

  // S3 buckets.

  /** A bucket created meanwhile by another gateway is reported with its owner, not created twice. */
  async createBucket(name: string, owner: string): Promise<{ created: boolean; owner: string }> {
    const rows = await this.db.query<Row>(
      'INSERT INTO s3_buckets (name, owner) VALUES ($1, $2) ON CONFLICT (name) DO NOTHING RETURNING owner',
      [name, owner],
    );
    if (rows.length > 0) return { created: true, owner };
    const existing = await this.getBucket(name);
    if (!existing) throw new Error(`bucket ${name} neither created nor found (deleted meanwhile?)`);
    return { created: false, owner: existing.owner };
  }

  /** Batched with the lookups that arrive while one runs: every PUT checks its bucket first. */
  getBucket(name: string): Promise<BucketRecord | null> {
    return this.bucketLookups.submit(name);
  }

  private async getBuckets(names: string[]): Promise<Array<BucketRecord | null>> {
    const rows = await this.db.query<Row>('SELECT * FROM s3_buckets WHERE name = ANY($1::text[])', [names]);
    const found = new Map(rows.map((row) => [row.name as string, toBucket(row)]));
    return names.map((name) => found.get(name) ?? null);
  }

  async listBuckets(owner?: string): Promise<BucketRecord[]> {
    const rows = await this.db.query<Row>('SELECT * FROM s3_buckets WHERE $1::text IS NULL OR owner = $1 ORDER BY name', [owner ?? null]);
    return rows.map(toBucket);
  }

  /**
   * One statement: the bucket goes only when it holds no object; its uploads go with it (the
   * parts' files through the release trigger). An object or upload added by a racing request
   * makes the foreign key refuse the delete: that is 'not-empty' too.
   */
  async deleteBucket(name: string): Promise<'deleted' | 'no-bucket' | 'not-empty'> {
    try {
      const [row] = await this.db.query<Row>(
        `WITH target AS (
           SELECT name, EXISTS (SELECT 1 FROM s3_objects WHERE bucket = $1) AS not_empty
           FROM s3_buckets WHERE name = $1 FOR UPDATE
         ), dropped_uploads AS (
           DELETE FROM s3_multipart_uploads WHERE bucket = $1 AND EXISTS (SELECT 1 FROM target WHERE NOT not_empty)
         ), deleted AS (
           DELETE FROM s3_buckets WHERE name IN (SELECT name FROM target WHERE NOT not_empty) RETURNING name
         )
         SELECT EXISTS (SELECT 1 FROM target) AS found, EXISTS (SELECT 1 FROM deleted) AS deleted`,
        [name],
      );
      return row.deleted ? 'deleted' : row.found ? 'not-empty' : 'no-bucket';
    } catch (error) {
      if ((error as { code?: string }).code === '23503') return 'not-empty';
      throw error;
    }
  }

  // S3 objects.

  /**
   * Batched with the puts that arrive while one runs, as file completions are: one statement
   * for all of them (see putObjects). Resolves once it is committed.
   */
  async putObject(object: NewObject): Promise<{ status: 'stored'; object: ObjectRecord } | { status: 'no-bucket' }> {
    try {
      return { status: 'stored', object: await this.objectRows.put(object, () => this.objectPuts.submit(object)) };
    } catch (error) {
      // A batch that fails is run again put by put: this error is this put's own.
      if (abortReason(error) === 'no-bucket') return { status: 'no-bucket' };
      throw error;
    }
  }

  /**
   * One statement: the objects' files, chunks and replicas, then the object rows, inserted or
   * replacing their keys' (the release trigger retires a replaced file). The guard gives up the
   * whole statement when a bucket does not exist; so does a key put twice in one batch (a row
   * updated twice): the Batcher then runs each put alone.
   */
  private async putObjects(objects: NewObject[]): Promise<ObjectRecord[]> {
    const files = objects.map(({ bytes, key, metadata }) => ({
      file: storedFile(bytes, key, metadata.contentType ?? DEFAULT_CONTENT_TYPE),
      kind: 'object' as const,
    }));
    const rows = objects.map((o) => ({ bucket: o.bucket, key: o.key, file_id: o.bytes.fileId, size: o.bytes.size, ...objectFields(o.etag, o.metadata, o.checksum) }));
    const stored = await this.db.query<Row>(
      `WITH guard AS (
         SELECT CASE WHEN EXISTS (
           SELECT 1 FROM jsonb_to_recordset($4::jsonb) AS w(bucket text)
           WHERE NOT EXISTS (SELECT 1 FROM s3_buckets b WHERE b.name = w.bucket)
         ) THEN ringstore_abort('no-bucket') END AS ok
       ), ${INSERT_FILES}, stored AS (
         INSERT INTO s3_objects (bucket, key, file_id, size, ${OBJECT_FIELDS.join(', ')})
         SELECT o.bucket, o.key, o.file_id, o.size, ${OBJECT_FIELDS.map((f) => `o.${f}`).join(', ')}
         FROM jsonb_populate_recordset(NULL::s3_objects, $4::jsonb) o
         ON CONFLICT (bucket, key) DO UPDATE SET ${REPLACE_OBJECT}
         RETURNING *
       )
       SELECT stored.*, (SELECT ok FROM guard) AS guard FROM stored`,
      [...filesParams(files), JSON.stringify(rows)],
    );
    const byKey = new Map(stored.map((row) => [`${row.bucket as string}/${row.key as string}`, row]));
    return objects.map((o) => toObject(byKey.get(`${o.bucket}/${o.key}`)!));
  }

  /** Batched with the lookups that arrive while one runs (see headObjects). */
  headObject(bucket: string, key: string): Promise<ObjectRecord | null> {
    return this.objectRows.lookup(bucket, key, () => this.objectLookups.submit({ bucket, key }));
  }

  cachedObject(bucket: string, key: string): ObjectRecord | undefined {
    return this.objectRows.peek(bucket, key);
  }

  private async headObjects(wanted: Array<{ bucket: string; key: string }>): Promise<Array<ObjectRecord | null>> {
    const rows = await this.db.query<Row>(
      'SELECT o.* FROM s3_objects o JOIN unnest($1::text[], $2::text[]) AS w(bucket, key) ON o.bucket = w.bucket AND o.key = w.key',
      [wanted.map((w) => w.bucket), wanted.map((w) => w.key)],
    );
    return inWantedOrder(rows, wanted, toObject);
  }

  /** Keeps the row it read in memory as headObject does (not the chunks: their replicas change). Batched (see getObjects). */
  async getObject(bucket: string, key: string): Promise<ObjectWithChunks | null> {
    let found: ObjectWithChunks | null = null;
    await this.objectRows.fill(bucket, key, async () => {
      found = await this.objectReads.submit({ bucket, key });
      if (!found) return null;
      const { sha256: _sha256, chunks: _chunks, ...row } = found;
      return row;
    });
    return found;
  }

  /** Rows with their chunks, one prepared query for the reads that arrive while one runs (its one parameter is JSON: text). */
  private async getObjects(wanted: Array<{ bucket: string; key: string }>): Promise<Array<ObjectWithChunks | null>> {
    const rows = await this.db.query<Row>(
      `SELECT o.*, NULLIF(f.checksum, '') AS sha256, ${CHUNKS_JSON('o.file_id')} AS chunks
       FROM jsonb_to_recordset($1::jsonb) AS w(bucket text, key text)
       JOIN s3_objects o ON o.bucket = w.bucket AND o.key = w.key JOIN files f ON f.id = o.file_id`,
      [JSON.stringify(wanted)],
      { prepareAs: 'get_objects' },
    );
    return inWantedOrder(rows, wanted, (row) => ({ ...toObject(row), sha256: row.sha256 as string | null, chunks: toChunks(row.chunks) }));
  }

  /** The release trigger retires the object's file in the same statement. */
  async deleteObject(bucket: string, key: string): Promise<boolean> {
    const rows = await this.objectRows.change([{ bucket, key }], () => this.db.query('DELETE FROM s3_objects WHERE bucket = $1 AND key = $2 RETURNING key', [bucket, key]));
    return rows.length > 0;
  }

  async deleteObjects(bucket: string, keys: string[]): Promise<string[]> {
    if (keys.length === 0) return [];
    const rows = await this.objectRows.change(
      keys.map((key) => ({ bucket, key })),
      () => this.db.query<Row>('DELETE FROM s3_objects WHERE bucket = $1 AND key = ANY($2::text[]) RETURNING key', [bucket, keys]),
    );
    return rows.map((row) => row.key as string);
  }

  async listObjects(bucket: string, query: ListQuery): Promise<ObjectListing> {
    if (query.maxKeys <= 0) return { objects: [], commonPrefixes: [], isTruncated: false, nextStartAfter: undefined };
    const rows = await this.db.query<Row>(
      ...listingQuery(LISTING_SQL.objects, { bucket, prefix: query.prefix, delimiter: query.delimiter, limit: query.maxKeys, start: [query.startAfter] }),
    );
    const page = rows.slice(0, query.maxKeys);
    const last = page.at(-1);
    return {
      objects: page.filter((row) => row.common_prefix === null).map(toObjectSummary),
      commonPrefixes: page.filter((row) => row.common_prefix !== null).map((row) => row.common_prefix as string),
      isTruncated: rows.length > query.maxKeys,
      nextStartAfter: last === undefined ? undefined : ((last.common_prefix ?? last.key) as string),
    };
  }

  // S3 multipart uploads.

  async createMultipartUpload(upload: Omit<MultipartUploadRecord, 'uploadId' | 'initiatedAt'>): Promise<MultipartUploadRecord | null> {
    try {
      const rows = await this.db.query<Row>(
        `INSERT INTO s3_multipart_uploads (upload_id, bucket, key, owner, metadata, checksum_algorithm, checksum_type)
         SELECT $1, name, $3, $4, $5::jsonb, $6, $7 FROM s3_buckets WHERE name = $2
         RETURNING *`,
        [newUploadId(), upload.bucket, upload.key, upload.owner, JSON.stringify(metadataColumns(upload.metadata)), upload.checksumAlgorithm, upload.checksumType],
      );
      return rows.length === 0 ? null : toUpload(rows[0]);
    } catch (error) {
      if (abortReason(error) === 'no-bucket') return null;
      throw error;
    }
  }

  async getMultipartUpload(bucket: string, key: string, uploadId: string): Promise<MultipartUploadRecord | null> {
    const rows = await this.db.query<Row>('SELECT * FROM s3_multipart_uploads WHERE upload_id = $1 AND bucket = $2 AND key = $3', [uploadId, bucket, key]);
    return rows.length === 0 ? null : toUpload(rows[0]);
  }

  /**
   * One statement, like putObject. The upload row is locked (key share) before the part row,
   * the order CompleteMultipartUpload and AbortMultipartUpload take them in, so they never
   * deadlock; when the upload is not this bucket and key's, the statement gives up as a whole.
   */
  async putPart(
    upload: { bucket: string; key: string; uploadId: string },
    part: { partNumber: number; bytes: StoredBytes; etag: string; checksum: string | null },
  ): Promise<{ status: 'stored'; part: PartRecord } | { status: 'no-upload' }> {
    const file = storedFile(part.bytes, `${upload.key} part ${part.partNumber}`, DEFAULT_CONTENT_TYPE);
    const params = [
      ...filesParams([{ file, kind: 'part' }]),
      upload.uploadId,
      upload.bucket,
      upload.key,
      part.partNumber,
      part.etag,
      part.checksum,
    ];
    try {
      const [row] = await this.db.query<Row>(
        `WITH target AS (
           SELECT upload_id FROM s3_multipart_uploads WHERE upload_id = $4 AND bucket = $5 AND key = $6 FOR KEY SHARE
         ), ${INSERT_FILES}, stored AS (
           INSERT INTO s3_parts (upload_id, part_number, file_id, size, etag, checksum_value)
           SELECT t.upload_id, $7, f.id, f.size, $8, $9 FROM target t, new_files f
           ON CONFLICT (upload_id, part_number) DO UPDATE SET
             file_id = EXCLUDED.file_id, size = EXCLUDED.size, etag = EXCLUDED.etag,
             checksum_value = EXCLUDED.checksum_value, last_modified = now()
           RETURNING *
         )
         SELECT stored.*, CASE WHEN stored.upload_id IS NULL THEN ringstore_abort('no-upload') END AS guard
         FROM (SELECT 1) one LEFT JOIN stored ON true`,
        params,
      );
      return { status: 'stored', part: toPart(row) };
    } catch (error) {
      if (abortReason(error) === 'no-upload') return { status: 'no-upload' };
      throw error;
    }
  }

  async listParts(
    upload: { bucket: string; key: string; uploadId: string },
    query: { partNumberMarker: number; maxParts: number },
  ): Promise<{ parts: PartRecord[]; isTruncated: boolean; nextPartNumberMarker: number | undefined } | null> {
    const rows = await this.db.query<Row>(
      `SELECT p.part_number, p.file_id, p.size, p.etag, p.checksum_value, p.last_modified
       FROM s3_multipart_uploads u
       LEFT JOIN LATERAL (
         SELECT * FROM s3_parts WHERE upload_id = u.upload_id AND part_number > $4 ORDER BY part_number LIMIT $5
       ) p ON true
       WHERE u.upload_id = $1 AND u.bucket = $2 AND u.key = $3
       ORDER BY p.part_number`,
      [upload.uploadId, upload.bucket, upload.key, query.partNumberMarker, query.maxParts + 1],
    );
    if (rows.length === 0) return null;
    const parts = rows.filter((row) => row.part_number !== null).map(toPart);
    const page = parts.slice(0, query.maxParts);
    return { parts: page, isTruncated: parts.length > query.maxParts, nextPartNumberMarker: page.at(-1)?.partNumber };
  }

  async listMultipartUploads(bucket: string, query: UploadListQuery): Promise<UploadListing> {
    const none = { uploads: [], commonPrefixes: [], isTruncated: false, nextKeyMarker: undefined, nextUploadIdMarker: undefined };
    if (query.maxUploads <= 0) return none;
    // Without an upload-id-marker, every upload of the marker key is behind: '~' sorts after any upload id.
    const uploadIdMarker = query.keyMarker !== '' && query.uploadIdMarker !== '' ? query.uploadIdMarker : '~';
    const startKey = query.keyMarker;
    const rows = await this.db.query<Row>(
      ...listingQuery(LISTING_SQL.uploads, { bucket, prefix: query.prefix, delimiter: query.delimiter, limit: query.maxUploads, start: [startKey, startKey === '' ? '' : uploadIdMarker] }),
    );
    const page = rows.slice(0, query.maxUploads);
    const last = page.at(-1);
    return {
      uploads: page.filter((row) => row.common_prefix === null).map((row) => toUpload({ ...row, bucket })),
      commonPrefixes: page.filter((row) => row.common_prefix !== null).map((row) => row.common_prefix as string),
      isTruncated: rows.length > query.maxUploads,
      nextKeyMarker: last === undefined ? undefined : ((last.common_prefix ?? last.key) as string),
      nextUploadIdMarker: last === undefined || last.common_prefix !== null ? undefined : (last.upload_id as string),
    };
  }

  /**
   * The stitch, in one statement (see the interface). The upload row is locked first; a part
   * replaced by a racing UploadPart after this statement's snapshot shows up as chunk rows that
   * could not be moved, and the statement gives up ('conflict') and runs again on fresh data.
   */
  async completeMultipartUpload(plan: CompletePlan): Promise<CompleteOutcome> {
    const params = [
      plan.uploadId,
      plan.bucket,
      plan.key,
      JSON.stringify(plan.parts.map((p) => ({ part_number: p.partNumber, etag: p.etag }))),
      plan.fileId,
      JSON.stringify({ etag: plan.etag, checksum_algorithm: plan.checksum?.algorithm ?? null, checksum_value: plan.checksum?.value ?? null, checksum_type: plan.checksum?.type ?? null }),
      plan.minPartSize,
    ];
    for (let attempt = 1; ; attempt++) {
      try {
        const [row] = await this.objectRows.change([plan], () => this.db.query<Row>(COMPLETE_UPLOAD, params));
        return { status: 'completed', object: toObject(row) };
      } catch (error) {
        const [reason, partNumber, size] = (abortReason(error) ?? '').split(':');
        if (reason === 'no-upload') return { status: 'no-upload' };
        if (reason === 'invalid-part') return { status: 'invalid-part', partNumber: Number(partNumber) };
        if (reason === 'too-small') return { status: 'too-small', partNumber: Number(partNumber), size: Number(size) };
        if (reason === 'conflict' && attempt < MAX_COMPLETE_ATTEMPTS) {
          log.info('multipart completion raced a part upload; completing again on fresh data', { uploadId: plan.uploadId, attempt });
          continue;
        }
        throw error;
      }
    }
  }

  /** The parts' files go through the release trigger as the upload's rows cascade away. */
  async abortMultipartUpload(bucket: string, key: string, uploadId: string): Promise<boolean> {
    const rows = await this.db.query(
      'DELETE FROM s3_multipart_uploads WHERE upload_id = $1 AND bucket = $2 AND key = $3 RETURNING upload_id',
      [uploadId, bucket, key],
    );
    return rows.length > 0;
  }

  async expiredMultipartUploads(initiatedBefore: Date, limit: number): Promise<MultipartUploadRecord[]> {
    const rows = await this.db.query<Row>('SELECT * FROM s3_multipart_uploads WHERE initiated_at < $1 ORDER BY initiated_at LIMIT $2', [initiatedBefore, limit]);
    return rows.map(toUpload);
  }

  withJobLock<T>(name: string, fn: () => Promise<T>): Promise<T | undefined> {
    return this.db.withLock(`job:${name}`, 'try', fn);
  }
}

/** A batched lookup's answers in the order asked: each (bucket, key)'s row as `toValue` makes it, or null. */
function inWantedOrder<T>(rows: Row[], wanted: Array<{ bucket: string; key: string }>, toValue: (row: Row) => T): Array<T | null> {
  // A bucket name holds no '/', so bucket/key names one object.
  const found = new Map(rows.map((row) => [`${row.bucket as string}/${row.key as string}`, row]));
  return wanted.map((w) => {
    const row = found.get(`${w.bucket}/${w.key}`);
    return row ? toValue(row) : null;
  });
}
