import type {
  MultipartUploadRecord,
  ObjectRecord,
  PartRecord,
  StoredChecksum,
  UploadListing,
  UploadListQuery,
} from '../metadata/types';
import type { Logger } from '../util/logger';
import type { BodyDigest, IncomingBody } from './body';
import { InvalidPartError, NoSuchBucketError, NoSuchUploadError, PartTooSmallError } from './errors';
import { Objects, type CopySource, type ObjectLocation } from './objects';

export interface UploadLocation extends ObjectLocation {
  uploadId: string;
}

/** Parts listed per store call when all of an upload's parts are read. */
const PARTS_PAGE = 1000;

/**
 * Multipart uploads over the objects model: each part is a file of kind 'part'; completion
 * stitches the listed parts' chunks into the object by metadata alone (no byte is copied).
 */
export class MultipartUploads extends Objects {
  constructor(
    deps: ConstructorParameters<typeof Objects>[0],
    private readonly options: { minPartSize: number; log: Logger },
  ) {
    super(deps);
  }

  async createUpload(upload: Omit<MultipartUploadRecord, 'uploadId' | 'initiatedAt'>): Promise<MultipartUploadRecord> {
    const created = await this.deps.store.createMultipartUpload(upload);
    if (!created) throw new NoSuchBucketError(upload.bucket);
    return created;
  }

  /** The upload, or NoSuchUpload (NoSuchBucket when the bucket itself is missing). */
  async getUpload(upload: UploadLocation): Promise<MultipartUploadRecord> {
    const found = await this.deps.store.getMultipartUpload(upload.bucket, upload.key, upload.uploadId);
    if (found) return found;
    await this.headBucket(upload.bucket);
    throw new NoSuchUploadError(upload.uploadId);
  }

  async uploadPart(upload: UploadLocation, partNumber: number, body: IncomingBody, digest: BodyDigest): Promise<PartRecord> {
    await this.getUpload(upload); // before any byte is stored
    return this.storeBody(upload.key, null, body, digest, async (bytes, sealed) => {
      const outcome = await this.deps.store.putPart(upload, { partNumber, bytes, etag: sealed.etag, checksum: sealed.checksum?.value ?? null });
      if (outcome.status === 'no-upload') throw new NoSuchUploadError(upload.uploadId);
      return outcome.part;
    }, true);
  }

  /** A part copied server-side from an object (or a range of it). */
  async uploadPartCopy(upload: UploadLocation, partNumber: number, source: CopySource, digest: BodyDigest): Promise<PartRecord> {
    await this.getUpload(upload);
    const { body } = await this.openSource(source);
    return this.uploadPart(upload, partNumber, body, digest);
  }

  async listParts(upload: UploadLocation, query: { partNumberMarker: number; maxParts: number }) {
    const page = await this.deps.store.listParts(upload, query);
    if (page) return page;
    await this.getUpload(upload);
    throw new NoSuchUploadError(upload.uploadId);
  }

  /** Every part of the upload in order (a completion needs their MD5s and checksums). */
  async allParts(upload: UploadLocation): Promise<PartRecord[]> {
    const parts: PartRecord[] = [];
    for (let marker = 0; ; ) {
      const page = await this.listParts(upload, { partNumberMarker: marker, maxParts: PARTS_PAGE });
      parts.push(...page.parts);
      if (!page.isTruncated || page.nextPartNumberMarker === undefined) return parts;
      marker = page.nextPartNumberMarker;
    }
  }

  /** Stitches the listed parts into the object (etag and checksum computed by the caller from them). */
  async completeUpload(
    upload: UploadLocation,
    parts: { partNumber: number; etag: string }[],
    result: { fileId: string; etag: string; checksum: StoredChecksum | null },
  ): Promise<ObjectRecord> {
    const outcome = await this.deps.store.completeMultipartUpload({ ...upload, ...result, parts, minPartSize: this.options.minPartSize });
    switch (outcome.status) {
      case 'completed': return outcome.object;
      case 'no-upload':
        await this.getUpload(upload);
        throw new NoSuchUploadError(upload.uploadId);
      case 'invalid-part': throw new InvalidPartError(outcome.partNumber);
      case 'too-small': throw new PartTooSmallError(outcome.partNumber, outcome.size, this.options.minPartSize);
    }
  }

  async abortUpload(upload: UploadLocation): Promise<void> {
    if (!(await this.deps.store.abortMultipartUpload(upload.bucket, upload.key, upload.uploadId))) {
      await this.getUpload(upload); // NoSuchBucket or NoSuchUpload
    }
  }

  async listUploads(bucket: string, query: UploadListQuery): Promise<UploadListing> {
    await this.headBucket(bucket);
    return this.deps.store.listMultipartUploads(bucket, query);
  }

  /** Aborts uploads started more than maxAgeMs ago (their parts go to pending deletes); how many. */
  async abortAbandoned(maxAgeMs: number, now = new Date(), limit = 1000): Promise<number> {
    const expired = await this.deps.store.expiredMultipartUploads(new Date(now.getTime() - maxAgeMs), limit);
    let aborted = 0;
    for (const upload of expired) {
      if (await this.deps.store.abortMultipartUpload(upload.bucket, upload.key, upload.uploadId)) aborted++;
    }
    if (aborted > 0) this.options.log.info(`Aborted ${aborted} multipart uploads older than ${maxAgeMs} ms`);
    return aborted;
  }
}
