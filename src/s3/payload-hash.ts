/**
 * x-amz-content-sha256: what the signature says about the body. A hex SHA-256 can only be
 * checked once the whole body has passed, so the caller feeds it through a PayloadHashCheck
 * and calls verify() before acknowledging anything.
 */
import { createHash } from 'node:crypto';
import { S3Error } from './errors';

export const UNSIGNED_PAYLOAD = 'UNSIGNED-PAYLOAD';
export const STREAMING_SIGNED = 'STREAMING-AWS4-HMAC-SHA256-PAYLOAD';
export const STREAMING_SIGNED_TRAILER = 'STREAMING-AWS4-HMAC-SHA256-PAYLOAD-TRAILER';
export const STREAMING_UNSIGNED_TRAILER = 'STREAMING-UNSIGNED-PAYLOAD-TRAILER';

export type PayloadMode =
  /** The body's SHA-256 is signed: check it with createPayloadHashCheck. */
  | { kind: 'sha256'; sha256: string }
  | { kind: 'unsigned' }
  /** aws-chunked with a signature per chunk (and a signed trailer when `trailer`). */
  | { kind: 'streaming-signed'; trailer: boolean }
  /** aws-chunked without chunk signatures, ending with a trailer (the SDKs' default for streams). */
  | { kind: 'streaming-unsigned-trailer' };

/** The mode an x-amz-content-sha256 value announces; InvalidArgument for anything else. */
export function parsePayloadMode(value: string): PayloadMode {
  switch (value) {
    case UNSIGNED_PAYLOAD: return { kind: 'unsigned' };
    case STREAMING_SIGNED: return { kind: 'streaming-signed', trailer: false };
    case STREAMING_SIGNED_TRAILER: return { kind: 'streaming-signed', trailer: true };
    case STREAMING_UNSIGNED_TRAILER: return { kind: 'streaming-unsigned-trailer' };
  }
  if (/^[0-9a-fA-F]{64}$/.test(value)) return { kind: 'sha256', sha256: value.toLowerCase() };
  throw new S3Error('InvalidArgument', 'x-amz-content-sha256 must be UNSIGNED-PAYLOAD, STREAMING-AWS4-HMAC-SHA256-PAYLOAD(-TRAILER), STREAMING-UNSIGNED-PAYLOAD-TRAILER or a hex SHA-256.', {
    ArgumentName: 'x-amz-content-sha256',
    ArgumentValue: value,
  });
}

/** Whether the body comes with Content-Encoding: aws-chunked framing. */
export function isStreamingPayload(mode: PayloadMode): boolean {
  return mode.kind === 'streaming-signed' || mode.kind === 'streaming-unsigned-trailer';
}

export interface PayloadHashCheck {
  update(data: Uint8Array): void;
  /** XAmzContentSHA256Mismatch unless the body fed so far hashes to the signed value. */
  verify(): void;
}

/** A check for a 'sha256' payload; for the other modes it accepts any body. */
export function createPayloadHashCheck(mode: PayloadMode): PayloadHashCheck {
  if (mode.kind !== 'sha256') return { update: () => undefined, verify: () => undefined };
  const hash = createHash('sha256');
  return {
    update: (data) => void hash.update(data),
    verify: () => {
      const computed = hash.digest('hex');
      if (computed !== mode.sha256) {
        throw new S3Error('XAmzContentSHA256Mismatch', undefined, {
          ClientComputedContentSHA256: mode.sha256,
          S3ComputedContentSHA256: computed,
        });
      }
    },
  };
}
