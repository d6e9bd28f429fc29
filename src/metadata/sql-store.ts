import { createLogger } from '../util/logger';
import { runMigrations } from './migrate';
import { migrations } from './migrations';
import { isUuid } from '../util/uuid';
import { toDate, toNullableNumber, toNumber, toStrings } from './row-values';
import type { SqlBackend } from './sql-backend';
import type {
  ChunkRecord,
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

/**
 * Every query of the metadata store, written once for both backends. Ids are uuid columns: a
 * malformed id is simply not there (checked with isUuid first, so it never becomes a cast error).
 */
export class SqlMetadataStore implements MetadataStore {
  readonly kind: 'postgres' | 'pglite';

  constructor(private readonly db: SqlBackend) {
    this.kind = db.kind;
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
   * One statement, hence one transaction and one round trip: data-modifying CTEs insert the
   * file, its chunks and replicas (multi-row, from JSON) and drop the upload session.
   */
  async completeUpload(file: Omit<FileRecord, 'createdAt' | 'updatedAt' | 'completedAt' | 'status'>): Promise<FileRecord> {
    const chunks = file.chunks.map((c) => ({
      chunk_number: c.chunkNumber,
      chunk_id: c.chunkId,
      offset: c.offset,
      size: c.size,
      checksum: c.checksum,
    }));
    const replicas = file.chunks.flatMap((c) =>
      c.replicas.map((r) => ({ chunk_id: c.chunkId, server_id: r.serverId, status: r.status })),
    );
    const rows = await this.db.query<Row>(
      `WITH new_file AS (
         INSERT INTO files (id, filename, content_type, size, checksum) VALUES ($1::uuid, $2, $3, $4, $5)
         RETURNING created_at, updated_at, completed_at
       ), new_chunks AS (
         INSERT INTO chunks (file_id, chunk_number, chunk_id, "offset", size, checksum)
         SELECT $1::uuid, c.chunk_number, c.chunk_id, c."offset", c.size, c.checksum
         FROM jsonb_to_recordset($6::jsonb) AS c(chunk_number integer, chunk_id uuid, "offset" bigint, size bigint, checksum text)
       ), new_replicas AS (
         INSERT INTO chunk_replicas (chunk_id, server_id, status)
         SELECT r.chunk_id, r.server_id, r.status
         FROM jsonb_to_recordset($7::jsonb) AS r(chunk_id uuid, server_id text, status text)
       ), finished_session AS (
         DELETE FROM upload_sessions WHERE file_id = $1::uuid
       )
       SELECT created_at, updated_at, completed_at FROM new_file`,
      [file.fileId, file.filename, file.contentType, file.size, file.checksum, JSON.stringify(chunks), JSON.stringify(replicas)],
    );
    const { created_at, updated_at, completed_at } = rows[0];
    return {
      ...file,
      status: 'completed',
      createdAt: toDate(created_at),
      updatedAt: toDate(updated_at),
      completedAt: toDate(completed_at),
    };
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

  /** One row: the chunks and their replicas come as JSON, faster than a join on PGlite. */
  async getFile(fileId: string): Promise<FileRecord | null> {
    if (!isUuid(fileId)) return null;
    const rows = await this.db.query<Row>(
      `SELECT f.*, COALESCE((
         SELECT json_agg(json_build_object(
           'chunk_number', c.chunk_number, 'chunk_id', c.chunk_id, 'offset', c."offset", 'size', c.size,
           'checksum', c.checksum,
           'replicas', COALESCE((
             SELECT json_agg(json_build_object('server_id', r.server_id, 'status', r.status)
                             ORDER BY r.status = 'corrupt', r.created_at, r.server_id)
             FROM chunk_replicas r WHERE r.chunk_id = c.chunk_id), '[]'::json)
         ) ORDER BY c.chunk_number)
         FROM chunks c WHERE c.file_id = f.id), '[]'::json) AS chunks
       FROM files f WHERE f.id = $1`,
      [fileId],
    );
    if (rows.length === 0) return null;
    return { ...toFileFields(rows[0]), chunks: (rows[0].chunks as ChunkJson[]).map(toChunk) };
  }

  /** Newest first; page counts from 1. */
  async listFiles(page: number, perPage: number): Promise<{ files: FileSummary[]; total: number }> {
    const rows = await this.db.query<Row>(
      `SELECT f.*, (SELECT count(*) FROM chunks c WHERE c.file_id = f.id) AS chunk_count
       FROM files f ORDER BY f.created_at DESC, f.id DESC LIMIT $1 OFFSET $2`,
      [perPage, (Math.max(1, page) - 1) * perPage],
    );
    const [{ total }] = await this.db.query<Row>('SELECT count(*) AS total FROM files');
    return { files: rows.map(toSummary), total: toNumber(total, 'total') };
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
         DELETE FROM files WHERE id = $1 RETURNING id
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

  withJobLock<T>(name: string, fn: () => Promise<T>): Promise<T | undefined> {
    return this.db.withLock(`job:${name}`, 'try', fn);
  }
}
