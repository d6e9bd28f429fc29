import type { Logger } from '../util/logger';
import { scavengePacer } from './scavenge-pacer';
import { MessageBufferPool } from './message-buffer-pool';
import { installMessageDecoder } from './message-decoder';

/** Largest data frame of PutChunk and GetChunk: well under gRPC's 4 MiB default message limit. */
export const MAX_FRAME_BYTES = 1024 * 1024;
/** Bytes of a pooled frame buffer: the data, gRPC's 5-byte prefix, the bytes field's key and length. */
export const FRAME_BUFFER_BYTES = MAX_FRAME_BYTES + 16;
/** Frames kept for reuse: a few transfers at once hold about three each. */
const FREE_FRAMES = 16;

/**
 * This process's memory for the 1 MiB data frames of PutChunk and GetChunk: received into
 * (MessageDecoder) or read from disk into (allocateForBytesMessage), and given back once their
 * bytes are used. One per process, as grpc-js's decoder that draws on it is. Every frame taken
 * is data moving through the process, which paces its scavenges.
 */
export const framePool = new MessageBufferPool(FRAME_BUFFER_BYTES, FREE_FRAMES, (bytes) => scavengePacer.moved(bytes));

/** From now on, gRPC messages this process receives are decoded into framePool's memory. */
export function receiveFramesIntoPool(log: Logger): void {
  if (installMessageDecoder(framePool)) return;
  log.warn('grpc-js has no StreamDecoder where ringstore expects one (a grpc-js other than 1.14?): received data frames get a fresh buffer each, and memory peaks are higher');
}
