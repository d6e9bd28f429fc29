import { MessageBufferPool } from '../../rpc/message-buffer-pool';
import { MAX_FRAME_BYTES } from '../../rpc/storage-client';

/** A GetChunk frame's bytes beyond its data: gRPC's 5-byte prefix, the field's key and length. */
const FRAME_OVERHEAD = 16;
/** Frames kept for reuse: enough for a few downloads at once (each holds about three). */
const FREE_FRAMES = 8;

/**
 * Memory for the GetChunk frames this gateway receives, given back once a frame's bytes are
 * written to the client (see MessageBufferPool for why).
 */
export const downloadFrames = new MessageBufferPool(MAX_FRAME_BYTES + FRAME_OVERHEAD, FREE_FRAMES);
