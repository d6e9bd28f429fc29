import type { MetadataStore } from '../metadata/types';
import { AccessDeniedError } from './errors';

/**
 * The buckets an access key may use besides the ones it created: bucket names, or '*' for
 * every bucket (S3_KEYS_FILE's extra fields; the sole key of a one-key setup has '*').
 */
export type GrantsOf = (accessKeyId: string) => readonly string[];

/**
 * How long a bucket's owner is trusted from memory. A bucket is only deleted empty, so a stale
 * entry can matter only if another gateway deleted it and another key re-created it meanwhile.
 */
const OWNER_CACHE_MS = 2_000;

/** What an operation does to its bucket: use it (objects, uploads, listings) or delete it. */
export type BucketAction = 'use' | 'delete';

/**
 * Who may touch a bucket: its owner (the key that created it), keys granted it, and keys granted
 * every bucket; deleting a bucket is for its owner and the keys granted every bucket. Owners
 * are read from the metadata store and kept OWNER_CACHE_MS, so a busy key costs no extra round
 * trip per request.
 */
export class BucketAccess {
  private readonly owners = new Map<string, { owner: string; until: number }>();

  constructor(
    private readonly store: Pick<MetadataStore, 'getBucket'>,
    private readonly grantsOf: GrantsOf,
    private readonly now: () => number = Date.now,
  ) {}

  /** Whether the key may `action` a bucket owned by `owner`. */
  allows(accessKeyId: string, bucket: string, owner: string, action: BucketAction = 'use'): boolean {
    if (owner === accessKeyId) return true;
    const grants = this.grantsOf(accessKeyId);
    return grants.includes('*') || (action === 'use' && grants.includes(bucket));
  }

  /**
   * Throws AccessDeniedError unless the key may `action` the bucket. A bucket that does not
   * exist passes: the operation itself answers that it does not.
   */
  async check(accessKeyId: string, bucket: string, action: BucketAction): Promise<void> {
    const owner = await this.ownerOf(bucket);
    if (owner !== undefined && !this.allows(accessKeyId, bucket, owner, action)) throw new AccessDeniedError(bucket);
  }

  /** The bucket was created or deleted here: its owner is read afresh next time. */
  forget(bucket: string): void {
    this.owners.delete(bucket);
  }

  private async ownerOf(bucket: string): Promise<string | undefined> {
    const cached = this.owners.get(bucket);
    if (cached && cached.until > this.now()) return cached.owner;
    const record = await this.store.getBucket(bucket);
    if (!record) {
      this.owners.delete(bucket);
      return undefined;
    }
    this.owners.set(bucket, { owner: record.owner, until: this.now() + OWNER_CACHE_MS });
    return record.owner;
  }
}
