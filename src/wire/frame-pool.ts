import type { Logger } from '../util/logger';
import { scavengePacer } from './scavenge-pacer';
import { MessageBufferPool } from './message-buffer-pool';
import { installMessageDecoder } from './message-decoder';

/** Largest data frame of PutChunk and GetChunk: well under gRPC's 4 MiB default message limit. */
export const MAX_FRAME_BYTES = 1024 * 1024;
/**
 * Bytes of a pooled frame buffer: the data, gRPC's 5-byte prefix and the message's other
 * fields, placed up to 4 KiB in (see MessageDecoder); 17 whole WebAssembly pages, so that a
 * storage server's frames can be page-aligned memory.
 */
export const FRAME_BUFFER_BYTES = MAX_FRAME_BYTES + 64 * 1024;
/** Frames kept for reuse: a few transfers at once hold about three each. */
const FREE_FRAMES = 16;

/**
 * This process's memory for the 1 MiB data frames of PutChunk and GetChunk: received into
 * (MessageDecoder) or read from disk into (allocateForBytesMessage), and given back once their
 * bytes are used. One per process, as grpc-js's decoder that draws on it is. Every frame taken
 * is data moving through the process, which paces its scavenges.
 */
export const framePool = newFramePool();

/** A pool of data frames as framePool is, its buffers made by `allocate` (FRAME_BUFFER_BYTES each). */
export function newFramePool(allocate?: () => Buffer): MessageBufferPool {
  return new MessageBufferPool(FRAME_BUFFER_BYTES, FREE_FRAMES, (bytes) => scavengePacer.moved(bytes), allocate);
}

/**
 * Channel options of a client that sends frames of framePool (the gateway's upload frames).
 * grpc-js keeps a message that fits a call's retry buffer (1 MiB by default) for retries and
 * calls its write back at once, before the message is written out: a frame given back to the
 * pool then could be refilled while its bytes are still in flight. With the buffer smaller
 * than any pooled frame, grpc-js calls a frame's write back only once HTTP/2 has written it.
 * ringstore configures no retry policy; a message larger than the buffer only commits its call
 * at once, as every 1 MiB frame did already.
 */
export const POOLED_SEND_CHANNEL_OPTIONS = { 'grpc.per_rpc_retry_buffer_size': Math.floor(FRAME_BUFFER_BYTES / 4) };

/** From now on, gRPC messages this process receives are decoded into `pool`'s memory. */
export function receiveFramesIntoPool(log: Logger, pool: MessageBufferPool = framePool): void {
  if (installMessageDecoder(pool)) return;
  log.warn('grpc-js has no StreamDecoder where ringstore expects one (a grpc-js other than 1.14?): received data frames get a fresh buffer each, and memory peaks are higher');
}
