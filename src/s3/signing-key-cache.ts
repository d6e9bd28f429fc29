/**
 * Signing keys, derived once per access key, day and region: the derivation is four HMACs,
 * and a busy client signs every request with the same key for a whole day.
 */
import { deriveSigningKey } from './sigv4-canonical';

const MAX_ENTRIES = 1024;

export class SigningKeyCache {
  /** Keyed by access key id, day, region and service; the secret is kept to notice a changed key. */
  private readonly keys = new Map<string, { secret: string; key: Buffer }>();

  signingKey(accessKeyId: string, secretAccessKey: string, date: string, region: string, service: string): Buffer {
    const id = `${accessKeyId}\0${date}\0${region}\0${service}`;
    const cached = this.keys.get(id);
    if (cached && cached.secret === secretAccessKey) return cached.key;
    // Days roll over and regions are few: dropping everything when full is simpler than LRU.
    if (this.keys.size >= MAX_ENTRIES) this.keys.clear();
    const key = deriveSigningKey(secretAccessKey, date, region, service);
    this.keys.set(id, { secret: secretAccessKey, key });
    return key;
  }
}
