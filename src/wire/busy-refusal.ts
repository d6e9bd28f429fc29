import * as grpc from '@grpc/grpc-js';

/**
 * How a storage server says "busy", not "full". A put refused because MAX_CONCURRENT_PUTS puts
 * are in progress still fails with RESOURCE_EXHAUSTED, as it always did (a gateway that predates
 * this signal reads it as a full disk, as before), and is marked busy: on a call, by this
 * trailing metadata entry; in a per-op result (SmallChunkResult, SmallChunkOpResult), by its
 * `busy` field. A busy refusal kept nothing, and the same put may succeed a moment later.
 */
export const REFUSAL_TRAILER = 'ringstore-refusal';
const BUSY = 'busy';

/** The trailers of a busy refusal. */
export function busyTrailer(): grpc.Metadata {
  const metadata = new grpc.Metadata();
  metadata.set(REFUSAL_TRAILER, BUSY);
  return metadata;
}

/** Whether a failed call's trailers mark its refusal as busy. */
export function saysBusy(metadata: unknown): boolean {
  return metadata instanceof grpc.Metadata && metadata.get(REFUSAL_TRAILER).includes(BUSY);
}
