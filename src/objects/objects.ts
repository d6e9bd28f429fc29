import type { FileService } from '../files/file-service';
import type { ByteRange } from '../files/byte-range';
import type {
  BucketRecord,
  ListQuery,
  MetadataStore,
  ObjectListing,
  ObjectMetadata,
  ObjectRecord,
  ObjectWithChunks,
  StoredBytes,
} from '../metadata/types';
import type { BodyDigest, IncomingBody, SealedBody } from './body';
import { BucketAccess, type GrantsOf } from './bucket-access';
import { BucketExistsError, BucketNotEmptyError, NoSuchBucketError, NoSuchObjectError } from './errors';

/** A PUT body up to this size is stored before its bucket is known to exist (see putObject). */
const BUCKET_CHECKED_AT_COMMIT_BYTES = 64 * 1024;

export interface ObjectLocation {
  bucket: string;
  key: string;
}

/** The source of a server-side copy: the object, optionally a byte range of it, and a check of its record. */
export interface CopySource extends ObjectLocation {
  range?: (size: number) => ByteRange | undefined;
  /** Runs on the source's record before any byte is read (copy-source conditions); throws to refuse. */
  check?: (source: ObjectRecord) => void;
}

/**
 * An object to read: a small one with its whole content from memory (read and checked), a
 * larger one with the chunks to stream it from.
 */
export type ObjectToRead = (ObjectRecord & { content: Buffer }) | (ObjectWithChunks & { content?: undefined });

export interface ObjectsDeps {
  store: MetadataStore;
  files: FileService;
  /** The buckets each access key is granted besides its own (see BucketAccess). */
  grantsOf: GrantsOf;
}

/**
 * The objects model: buckets and objects (keys naming files of kind 'object') over the files
 * model and the metadata store. Bodies stream into chunks through the files model and are
 * recorded only once whole, checked (BodyDigest.seal) and durable. Refusals are domain errors.
 */
export class Objects {
  /** Who may use which bucket: check it before any operation on a bucket (AccessDeniedError). */
  readonly access: BucketAccess;

  constructor(protected readonly deps: ObjectsDeps) {
    this.access = new BucketAccess(deps.store, deps.grantsOf);
  }

  async createBucket(name: string, owner: string): Promise<void> {
    const outcome = await this.deps.store.createBucket(name, owner);
    this.access.forget(name);
    if (!outcome.created) throw new BucketExistsError(name, outcome.owner === owner);
  }

  async headBucket(name: string): Promise<BucketRecord> {
    const bucket = await this.deps.store.getBucket(name);
    if (!bucket) throw new NoSuchBucketError(name);
    return bucket;
  }

  /** The buckets the key may use. */
  async listBuckets(accessKeyId: string): Promise<BucketRecord[]> {
    return (await this.deps.store.listBuckets()).filter((bucket) => this.access.allows(accessKeyId, bucket.name, bucket.owner));
  }

  async deleteBucket(name: string): Promise<void> {
    const outcome = await this.deps.store.deleteBucket(name);
    this.access.forget(name);
    if (outcome === 'no-bucket') throw new NoSuchBucketError(name);
    if (outcome === 'not-empty') throw new BucketNotEmptyError(name);
  }

  /**
   * Stores the body under the key, replacing any object there, once it is whole and checked. A
   * missing bucket is found before any byte of a body is stored, but for a small body: that is
   * stored first, and the commit refuses the missing bucket (its chunks are then deleted), which
   * saves every small PUT a metadata round trip.
   */
  async putObject(target: ObjectLocation, metadata: ObjectMetadata, body: IncomingBody, digest: BodyDigest): Promise<ObjectRecord> {
    if (body.size === undefined || body.size > BUCKET_CHECKED_AT_COMMIT_BYTES) await this.headBucket(target.bucket);
    return this.storeObject(target, metadata, body, digest);
  }

  private storeObject(target: ObjectLocation, metadata: ObjectMetadata, body: IncomingBody, digest: BodyDigest): Promise<ObjectRecord> {
    return this.storeBody(target.key, metadata.contentType, body, digest, async (bytes, sealed) => {
      const outcome = await this.deps.store.putObject({ ...target, bytes, metadata, etag: sealed.etag, checksum: sealed.checksum });
      if (outcome.status === 'no-bucket') throw new NoSuchBucketError(target.bucket);
      return outcome.object;
    });
  }

  /** The object's record (HEAD, conditions). */
  async headObject(bucket: string, key: string): Promise<ObjectRecord> {
    return (await this.deps.store.headObject(bucket, key)) ?? (await this.missing(bucket, key));
  }

  /**
   * The object to read. A hot small one whose row is in memory costs no query: its bytes, or
   * where they are, are cached by file id, which an overwrite changes, so they are never another
   * version's. Else one (batched) query for the row with its chunks, and a small body comes from
   * that cache or is read whole, checked and cached.
   */
  async getObject(bucket: string, key: string): Promise<ObjectToRead> {
    const row = this.deps.store.cachedObject(bucket, key);
    if (row) {
      const cached = this.deps.files.cachedSmallFileContent(row.fileId);
      if (cached) return { ...row, content: cached };
      const where = this.deps.files.cachedChunkList(row.fileId);
      if (where) return this.withContent({ ...row, sha256: where.sha256, chunks: where.chunks });
    }
    const object = (await this.deps.store.getObject(bucket, key)) ?? (await this.missing(bucket, key));
    this.deps.files.keepChunkList(object);
    return this.withContent(object);
  }

  /** A small object's content read (and checked) whole; a multipart object, with no whole-body hash to check a read against, always streams. */
  private async withContent(object: ObjectWithChunks): Promise<ObjectToRead> {
    const content = object.sha256 === null ? undefined : await this.deps.files.smallFileContent({ ...object, checksum: object.sha256 });
    return content ? { ...object, content } : object;
  }

  /**
   * Bytes of `range` of an object that streams (no content in memory); give each piece back with
   * release() once written on.
   */
  read(object: ObjectWithChunks, range: ByteRange): AsyncGenerator<Buffer> {
    return this.deps.files.read(object, range);
  }

  release(piece: Buffer): void {
    this.deps.files.release(piece);
  }

  /** Deleting a key that is not there is no error (as S3); a bucket that is not there is. */
  async deleteObject(bucket: string, key: string): Promise<void> {
    if (!(await this.deps.store.deleteObject(bucket, key))) await this.headBucket(bucket);
  }

  /** The keys that existed and are gone now. */
  async deleteObjects(bucket: string, keys: string[]): Promise<string[]> {
    await this.headBucket(bucket);
    return this.deps.store.deleteObjects(bucket, keys);
  }

  async listObjects(bucket: string, query: ListQuery): Promise<ObjectListing> {
    await this.headBucket(bucket);
    return this.deps.store.listObjects(bucket, query);
  }

  /**
   * A server-side copy: the source's bytes stream from its replicas into new chunks (no byte
   * passes the client). `metadata` undefined keeps the source's; the digest is chosen knowing
   * the source (its checksum algorithm carries over).
   */
  async copyObject(
    source: CopySource,
    target: ObjectLocation,
    metadata: ObjectMetadata | undefined,
    digestFor: (source: ObjectRecord) => BodyDigest,
  ): Promise<ObjectRecord> {
    await this.headBucket(target.bucket);
    const { object, body } = await this.openSource(source);
    return this.storeObject(target, metadata ?? object, body, digestFor(object));
  }

  /** The source of a copy, checked, with its bytes (or those of its range) as a body. */
  protected async openSource(source: CopySource): Promise<{ object: ObjectRecord; body: IncomingBody }> {
    const object = await this.getObject(source.bucket, source.key);
    source.check?.(object);
    const range = source.range?.(object.size) ?? { start: 0, end: object.size - 1 };
    const size = range.end - range.start + 1;
    // Pieces are not given back to the read pool: the chunk write may keep them for a replay.
    return { object, body: { size, stream: size > 0 ? this.sourceBytes(object, range) : emptyStream() } };
  }

  private sourceBytes(object: ObjectToRead, range: ByteRange): AsyncGenerator<Buffer> {
    // A copy of the cached bytes: the chunk write must not hold the cache's own buffer.
    if (object.content) return oneBuffer(Buffer.from(object.content.subarray(range.start, range.end + 1)));
    return this.deps.files.read(object, range);
  }

  /**
   * Stores a body as chunks, seals its digests, then lets `commit` record it (else the chunks
   * go). `part`: a multipart part, never read back on its own (its object streams).
   */
  protected storeBody<T>(
    name: string,
    contentType: string | null,
    body: IncomingBody,
    digest: BodyDigest,
    commit: (bytes: StoredBytes, sealed: SealedBody) => Promise<T>,
    part = false,
  ): Promise<T> {
    return this.deps.files.storeChunks(
      {
        filename: name,
        contentType: contentType ?? 'application/octet-stream',
        expectedSize: body.size,
        sizeIsExact: body.size !== undefined,
        stream: body.stream,
        complete: Promise.resolve(),
        // Only a small object is read back whole (into memory, checked by its SHA-256); a
        // larger one, or a part, has its MD5 (ETag) and the chunks' CRCs, and streams.
        readBack: !part && (body.size === undefined || this.deps.files.keepsInMemory(body.size)),
      },
      (stored) => {
        const sealed = digest.seal();
        return commit({ fileId: stored.fileId, size: stored.size, sha256: stored.checksum, chunks: stored.chunks }, sealed);
      },
      (data) => digest.update(data),
    );
  }

  /** NoSuchBucket when the bucket is missing, else NoSuchKey. */
  private async missing(bucket: string, key: string): Promise<never> {
    await this.headBucket(bucket);
    throw new NoSuchObjectError(bucket, key);
  }
}

async function* emptyStream(): AsyncGenerator<Buffer> {}

async function* oneBuffer(data: Buffer): AsyncGenerator<Buffer> {
  yield data;
}
