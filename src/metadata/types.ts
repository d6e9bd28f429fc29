/** Metadata records and the store interface shared by the PostgreSQL and PGlite backends. */

/**
 * A storage server's part in the cluster, as an operator decided it (whether it is up is
 * another matter): active servers take new chunks; a draining one takes none and gives its
 * chunks away; a drained one holds none; a removed one is out of the cluster for good.
 */
export type Membership = 'active' | 'draining' | 'drained' | 'removed';

export interface ServerRecord {
  id: string;
  address: string;
  joinedAt: Date;
  lastHeartbeatAt: Date;
  availableSpace: number | null;
  totalSpace: number | null;
  membership: Membership;
  /** When the membership last changed (null: active since it joined). */
  membershipChangedAt: Date | null;
  /** What it held when its drain began (null unless draining or drained): drain progress is measured against it. */
  drainStart: { chunks: number; bytes: number } | null;
}

/** What one server holds according to the metadata. */
export interface ServerUsage {
  serverId: string;
  /** Replica rows on it (any status). */
  chunks: number;
  /** Bytes of those chunks. */
  bytes: number;
  /** Copies on it written down for deletion and not deleted yet (moved away, corrupt, of deleted files). */
  pendingDeletes: number;
}

/**
 * What moveReplica did:
 * - moved:        the target is recorded in place of the source, whose copy is a pending delete
 * - chunk-gone:   the chunk's file was deleted meanwhile: the target's copy is an orphan
 * - target-taken: the target already had a row for the chunk (another job put a copy there): nothing changed
 * - source-gone:  the source row went meanwhile (repair removed it, another move): nothing changed
 */
export type ReplicaMoveOutcome = 'moved' | 'chunk-gone' | 'target-taken' | 'source-gone';

/** What removeServer did. */
export interface ServerRemoval {
  removed: boolean;
  /** Replica rows the server held when asked. */
  chunks: number;
  /** With force: rows dropped because their chunk has a stored copy elsewhere (repair restores R). */
  replicasDropped: number;
  /** With force: rows kept because the chunk has no stored copy elsewhere (readable again if the server comes back). */
  chunksOnlyThere: number;
  /** Pending deletes of copies on it, dropped with it (its disk is the operator's now). */
  pendingDeletesDropped: number;
}

/** The last run of a job that moves replicas, kept in the metadata so every gateway can show it. */
export interface MoveRun {
  job: string;
  gatewayId: string;
  startedAt: Date;
  updatedAt: Date;
  finishedAt: Date | null;
  /** null while it runs; 'finished', 'stopped early' or 'failed: ...' once it ended. */
  outcome: string | null;
  report: Record<string, number>;
}

export interface ReplicaRecord {
  serverId: string;
  /** 'stored' normally; 'corrupt' once a read or scrub found it bad. */
  status: 'stored' | 'corrupt';
}

export interface ChunkRecord {
  chunkNumber: number;
  /** A UUID (the ring key). */
  chunkId: string;
  /** Byte offset of the chunk in the file. */
  offset: number;
  size: number;
  /** Hex SHA-256 of the chunk. */
  checksum: string;
  /** 'stored' ones first, then oldest first (ties, e.g. written together, by server id). */
  replicas: ReplicaRecord[];
}

export interface FileRecord {
  /** A UUID; lookups with anything else find nothing. */
  fileId: string;
  filename: string;
  contentType: string;
  size: number;
  /** Hex SHA-256 of the whole file. */
  checksum: string;
  status: 'completed';
  createdAt: Date;
  updatedAt: Date;
  completedAt: Date;
  chunks: ChunkRecord[];
}

export type FileSummary = Omit<FileRecord, 'chunks'> & { chunkCount: number };

export interface UploadSession {
  fileId: string;
  filename: string;
  contentType: string;
  gatewayId: string;
  startedAt: Date;
  expiresAt: Date;
}

export interface PendingDelete {
  chunkId: string;
  serverId: string;
  attempts: number;
  lastError: string | null;
}

export interface ChunkToRepair {
  fileId: string;
  chunkId: string;
  size: number;
  checksum: string;
  /** Replicas currently 'stored' on a live server: the copies repair can read from. */
  healthyServerIds: string[];
  /** All replica rows, whatever their status. */
  allServerIds: string[];
  /**
   * Servers with a pending delete of this chunk (a corrupt or dropped copy not yet removed):
   * never a repair target while it lasts, or cleanup would delete the fresh copy.
   */
  deletingServerIds: string[];
}

export interface ScrubCursor {
  serverId: string;
  /** Last chunk id verified in the current pass ('' = the pass starts from the beginning). */
  cursor: string;
  /** Full passes over the server's chunks completed. */
  passes: number;
}

// S3: buckets, objects and multipart uploads. An object or a part is stored as a file row
// (kind 'object' or 'part') with its chunks and replicas, so repair, scrub and cleanup need no
// change; the file API never sees those rows.

export interface BucketRecord {
  name: string;
  /** The access key id that created it. */
  owner: string;
  createdAt: Date;
}

/** The headers an object keeps and returns (null when not sent). */
export interface ObjectMetadata {
  contentType: string | null;
  contentEncoding: string | null;
  contentDisposition: string | null;
  contentLanguage: string | null;
  cacheControl: string | null;
  /** The Expires header as sent. */
  expires: string | null;
  /** x-amz-meta-* without the prefix, names in lower case. */
  userMetadata: Record<string, string>;
}

export type StoredChecksumType = 'FULL_OBJECT' | 'COMPOSITE';

/** A flexible checksum kept with an object: base64 (with `-N` for a composite one). */
export interface StoredChecksum {
  algorithm: string;
  value: string;
  type: StoredChecksumType;
}

export interface ObjectRecord extends ObjectMetadata {
  bucket: string;
  key: string;
  /** The files row holding the object's chunks. */
  fileId: string;
  /** Without quotes: hex MD5, or MD5-of-MD5s-N for a multipart object. */
  etag: string;
  size: number;
  checksum: StoredChecksum | null;
  lastModified: Date;
}

/** An object with the chunks to read it from, as getFile gives them for a file. */
export interface ObjectWithChunks extends ObjectRecord {
  /**
   * Hex SHA-256 of the whole body (its files row's checksum), to check a read of it against;
   * null for a multipart object, whose body was never hashed whole.
   */
  sha256: string | null;
  chunks: ChunkRecord[];
}

export type ObjectSummary = Pick<ObjectRecord, 'key' | 'etag' | 'size' | 'lastModified' | 'checksum'>;

/** The bytes of an object or part, as completeUpload takes a file's. */
export interface StoredBytes {
  /** A new UUID for its files row. */
  fileId: string;
  size: number;
  /** Hex SHA-256 of the whole body when computed, '' when not. */
  sha256: string;
  chunks: ChunkRecord[];
}

export interface NewObject {
  bucket: string;
  key: string;
  bytes: StoredBytes;
  etag: string;
  metadata: ObjectMetadata;
  checksum: StoredChecksum | null;
}

export interface ListQuery {
  /** '' for all. */
  prefix: string;
  /** '' for none: every key is listed. */
  delimiter: string;
  /** Entries (keys and common prefixes) strictly after this in byte order ('' from the start). */
  startAfter: string;
  /** 0 to 1000: keys and common prefixes together. */
  maxKeys: number;
}

export interface ObjectListing {
  objects: ObjectSummary[];
  commonPrefixes: string[];
  isTruncated: boolean;
  /** The last key or common prefix returned: where the next page starts (startAfter) when truncated. */
  nextStartAfter: string | undefined;
}

export interface MultipartUploadRecord {
  uploadId: string;
  bucket: string;
  key: string;
  owner: string;
  initiatedAt: Date;
  metadata: ObjectMetadata;
  /** The checksum every part carries (x-amz-checksum-algorithm on create), if any. */
  checksumAlgorithm: string | null;
  checksumType: StoredChecksumType | null;
}

export interface PartRecord {
  partNumber: number;
  fileId: string;
  size: number;
  /** Hex MD5 of the part, without quotes. */
  etag: string;
  /** Base64 checksum of the upload's algorithm, if it has one. */
  checksum: string | null;
  lastModified: Date;
}

export interface UploadListQuery {
  prefix: string;
  delimiter: string;
  /** Uploads after this key (or, with uploadIdMarker, after that upload of this key). */
  keyMarker: string;
  uploadIdMarker: string;
  maxUploads: number;
}

export interface UploadListing {
  uploads: MultipartUploadRecord[];
  commonPrefixes: string[];
  isTruncated: boolean;
  nextKeyMarker: string | undefined;
  nextUploadIdMarker: string | undefined;
}

export interface CompletePlan {
  bucket: string;
  key: string;
  uploadId: string;
  /** The parts the client listed, in ascending order, with the ETags it gave. */
  parts: { partNumber: number; etag: string }[];
  /** A new UUID for the object's files row. */
  fileId: string;
  /** Computed by the caller from the listed ETags (MD5-of-MD5s-N). */
  etag: string;
  checksum: StoredChecksum | null;
  /** Every part but the last must hold at least this many bytes (S3: 5 MiB). */
  minPartSize: number;
}

export type CompleteOutcome =
  | { status: 'completed'; object: ObjectRecord }
  | { status: 'no-upload' }
  /** A listed part was never uploaded, or its ETag is not the one given. */
  | { status: 'invalid-part'; partNumber: number }
  | { status: 'too-small'; partNumber: number; size: number };

export interface MetadataStore {
  /** Which backend this is, for /health and logs. */
  readonly kind: 'postgres' | 'pglite';
  /** Run pending migrations under an advisory lock (several gateways may start together). */
  migrate(): Promise<void>;
  /** Cheap round trip; throws when the database is unreachable. */
  ping(): Promise<void>;
  close(): Promise<void>;

  // Storage servers (join and heartbeat).
  upsertServer(server: { id: string; address: string; availableSpace?: number; totalSpace?: number }): Promise<void>;
  listServers(): Promise<ServerRecord[]>;

  // Cluster changes: membership (drain, remove), what each server holds, moving replicas.
  /**
   * Moves the server to `to` when its membership is one of `from`; returns the updated record,
   * or null when the server is unknown or in another state. Entering 'draining' records what
   * the server holds (drainStart); entering 'active' clears it.
   */
  setMembership(serverId: string, to: Membership, from: readonly Membership[]): Promise<ServerRecord | null>;
  /**
   * Replica rows, bytes and pending deletes per server (a server with none of them is absent);
   * of one server only with serverId (cheap: its index), else of all (a scan of every row).
   */
  serverUsage(serverId?: string): Promise<ServerUsage[]>;
  /**
   * Chunks with a replica (any status) on `serverId`, after `after` in chunk id order, with all
   * their replicas: healthy ones are 'stored' on one of liveServerIds.
   */
  chunksOnServer(serverId: string, liveServerIds: string[], after: string, limit: number): Promise<ChunkToRepair[]>;
  /**
   * One statement: records `to` as a stored replica of the chunk in place of `from`, and
   * `from`'s copy as a pending delete due in deleteAfterMs (readers holding older metadata may
   * still read it until then). Changes nothing unless both the chunk and the `from` row exist
   * and `to` has no row.
   */
  moveReplica(move: { chunkId: string; from: string; to: string; deleteAfterMs: number }): Promise<ReplicaMoveOutcome>;
  /**
   * Marks the server removed, when it holds no replica rows or `force` is set; its pending
   * deletes go with it. With force, rows whose chunk has a stored copy elsewhere are dropped
   * and the others kept. Null when the server is unknown or already removed.
   */
  removeServer(serverId: string, force: boolean): Promise<ServerRemoval | null>;
  /** Of these chunk ids, those with a pending delete on serverId (the log deletes them when due). */
  pendingDeleteChunkIds(chunkIds: string[], serverId: string): Promise<Set<string>>;
  saveMoveRun(run: Omit<MoveRun, 'updatedAt'>): Promise<void>;
  moveRuns(): Promise<MoveRun[]>;

  // Uploads: a session row while chunks are written; the file appears only on completion.
  beginUpload(session: UploadSession): Promise<void>;
  /** Insert file, chunks and replicas and drop the session, in one transaction. */
  completeUpload(file: Omit<FileRecord, 'createdAt' | 'updatedAt' | 'completedAt' | 'status'>): Promise<FileRecord>;
  abortUpload(fileId: string): Promise<void>;
  /** Sessions whose TTL passed (their gateway died or gave up). */
  expiredUploads(now: Date, limit: number): Promise<UploadSession[]>;

  getFile(fileId: string): Promise<FileRecord | null>;
  /**
   * Newest first; page counts from 1. With nameContains, only files whose name contains it
   * (case-insensitive, taken literally: no wildcards); total counts those.
   */
  listFiles(page: number, perPage: number, nameContains?: string): Promise<{ files: FileSummary[]; total: number }>;
  /** Completed files stored (for the ringstore_files_total gauge). */
  countFiles(): Promise<number>;
  /**
   * Remove the file and move every replica of its chunks into pending deletes, in one
   * transaction. Returns those replicas, or null when the file does not exist.
   */
  deleteFile(fileId: string): Promise<PendingDelete[] | null>;

  // Pending deletes: chunks still to be removed from a server.
  addPendingDeletes(items: { chunkId: string; serverId: string }[]): Promise<void>;
  /** Those due now; a failed one waits longer after each attempt (capped backoff). */
  listPendingDeletes(limit: number): Promise<PendingDelete[]>;
  resolvePendingDelete(chunkId: string, serverId: string): Promise<void>;
  failPendingDelete(chunkId: string, serverId: string, error: string): Promise<void>;

  /**
   * Of these chunk ids, the ones a completed file still references (uploads in flight are protected by the orphan grace period, which is never shorter than the upload session TTL).
   * With serverId: only those recorded as a replica on that server, since a copy the metadata does not place there (a put that landed after the gateway gave up on it) is an orphan even while the chunk lives elsewhere.
   */
  referencedChunkIds(chunkIds: string[], serverId?: string): Promise<Set<string>>;

  // Repair.
  /**
   * Chunks with fewer than `replicationFactor` healthy replicas on live servers (the most at
   * risk first), then chunks that have them but still carry a corrupt replica on a live server
   * (its removal failed when the chunk was repaired).
   */
  chunksToRepair(replicationFactor: number, liveServerIds: string[], limit: number): Promise<ChunkToRepair[]>;
  /** Record a copy made by repair; false when the chunk's file was deleted meanwhile (the copy is then an orphan). */
  addReplica(chunkId: string, serverId: string): Promise<boolean>;
  markReplicaCorrupt(chunkId: string, serverId: string): Promise<void>;
  removeReplica(chunkId: string, serverId: string): Promise<void>;

  // Scrub.
  /**
   * Chunk ids with a 'stored' replica on `serverId`, after `after` and up to `upTo` (inclusive;
   * undefined = to the end), in id order: what that server must hold in a range it listed.
   */
  storedChunkIdsOn(serverId: string, after: string, upTo: string | undefined): Promise<string[]>;
  /** Where scrub stands on each server it has visited. */
  scrubCursors(): Promise<ScrubCursor[]>;
  saveScrubCursor(cursor: ScrubCursor): Promise<void>;

  // S3 buckets.
  /** Creates the bucket, or says who owns the one already there (created: false). */
  createBucket(name: string, owner: string): Promise<{ created: boolean; owner: string }>;
  getBucket(name: string): Promise<BucketRecord | null>;
  /** In name order; only those of `owner` when given. */
  listBuckets(owner?: string): Promise<BucketRecord[]>;
  /**
   * Deletes a bucket that holds no object; its unfinished multipart uploads are aborted with it
   * (their parts to pending deletes), in one statement.
   */
  deleteBucket(name: string): Promise<'deleted' | 'no-bucket' | 'not-empty'>;

  // S3 objects. Replaced and deleted objects' files go away with their row, their replicas to
  // pending deletes (the cleanup job removes them), in the statement that let them go.
  /** Stores the object (its file, chunks and replicas), replacing any under the same key. */
  putObject(object: NewObject): Promise<{ status: 'stored'; object: ObjectRecord } | { status: 'no-bucket' }>;
  /** The object without its chunks (HEAD, conditions, listings of one). */
  headObject(bucket: string, key: string): Promise<ObjectRecord | null>;
  /** The object's row if this store holds it in memory now (no query; see ObjectRowCache). */
  cachedObject(bucket: string, key: string): ObjectRecord | undefined;
  /** The object with its chunks and their replicas, to read it. */
  getObject(bucket: string, key: string): Promise<ObjectWithChunks | null>;
  /** False when there was no such object. */
  deleteObject(bucket: string, key: string): Promise<boolean>;
  /** Deletes those that exist; returns the keys that did. */
  deleteObjects(bucket: string, keys: string[]): Promise<string[]>;
  /**
   * One page of a bucket's keys in byte order from the primary key: keys under `prefix`, those
   * holding `delimiter` after it rolled up into common prefixes (each found with one index seek
   * and skipped past with another, never by reading the keys under it).
   */
  listObjects(bucket: string, query: ListQuery): Promise<ObjectListing>;

  // S3 multipart uploads.
  /** Starts an upload (the store makes its id); null when the bucket does not exist. */
  createMultipartUpload(upload: Omit<MultipartUploadRecord, 'uploadId' | 'initiatedAt'>): Promise<MultipartUploadRecord | null>;
  /** The upload, if it exists for that bucket and key. */
  getMultipartUpload(bucket: string, key: string, uploadId: string): Promise<MultipartUploadRecord | null>;
  /** Records a part; one uploaded again under its number replaces the old (to pending deletes). */
  putPart(
    upload: { bucket: string; key: string; uploadId: string },
    part: { partNumber: number; bytes: StoredBytes; etag: string; checksum: string | null },
  ): Promise<{ status: 'stored'; part: PartRecord } | { status: 'no-upload' }>;
  /** Parts after `partNumberMarker` in order, at most maxParts; null when there is no such upload. */
  listParts(
    upload: { bucket: string; key: string; uploadId: string },
    query: { partNumberMarker: number; maxParts: number },
  ): Promise<{ parts: PartRecord[]; isTruncated: boolean; nextPartNumberMarker: number | undefined } | null>;
  /** A bucket's unfinished uploads by key, then oldest first, with prefix and delimiter as listObjects. */
  listMultipartUploads(bucket: string, query: UploadListQuery): Promise<UploadListing>;
  /**
   * Completes an upload in one statement, copying no byte: the listed parts' chunk rows move
   * to the object's new file with chunk numbers and offsets renumbered, the object row is
   * written (replacing any under the key), the parts not listed go to pending deletes and the
   * upload is dropped. Nothing changes unless every listed part exists with its ETag and all
   * but the last are at least minPartSize.
   */
  completeMultipartUpload(plan: CompletePlan): Promise<CompleteOutcome>;
  /** Drops the upload and its parts (to pending deletes); false when there was none. */
  abortMultipartUpload(bucket: string, key: string, uploadId: string): Promise<boolean>;
  /** Uploads started before `initiatedBefore`, oldest first: for cleanup to abort. */
  expiredMultipartUploads(initiatedBefore: Date, limit: number): Promise<MultipartUploadRecord[]>;

  /**
   * Run fn only if no other gateway holds the named job lock (advisory lock); returns
   * undefined without running it when the lock is taken.
   */
  withJobLock<T>(name: string, fn: () => Promise<T>): Promise<T | undefined>;
}
