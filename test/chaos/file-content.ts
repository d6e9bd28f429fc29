import { createCipheriv, createHash } from 'node:crypto';

/**
 * File bytes derived from a seed (AES-128-CTR keystream), so the chaos suite remembers only
 * (seed, size, sha256) per acknowledged file and regenerates the bytes to check a download,
 * instead of holding gigabytes of uploaded data in memory.
 */
export function fileContent(seed: string, size: number): Buffer {
  const key = createHash('sha256').update(seed).digest().subarray(0, 16);
  const cipher = createCipheriv('aes-128-ctr', key, Buffer.alloc(16));
  return cipher.update(Buffer.alloc(size));
}

export function sha256Hex(data: Buffer): string {
  return createHash('sha256').update(data).digest('hex');
}
