import { createFramePool } from '../../rpc/frame-pool';

/** Frames kept for reuse: enough for a few downloads at once (each holds about three). */
const FREE_FRAMES = 8;

/**
 * Memory for the GetChunk frames this gateway receives, given back once a frame's bytes are
 * written to the client (see MessageBufferPool for why).
 */
export const downloadFrames = createFramePool(FREE_FRAMES);
