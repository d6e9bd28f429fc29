import type { Readable, Writable } from 'node:stream';

/**
 * grpc-js builds its call streams in object mode with Node's default high-water mark of 16
 * messages: with 1 MiB frames that is 16 MiB queued per call before backpressure starts.
 * Lowering the mark to a couple of messages keeps a streamed chunk to a few MiB in memory.
 * Node has no public setter for an existing stream, so this sets the stream state's field.
 */
export function limitQueuedMessages(stream: Readable | Writable, messages: number): void {
  const state = stream as unknown as {
    _readableState?: { highWaterMark: number };
    _writableState?: { highWaterMark: number };
  };
  if (state._readableState) state._readableState.highWaterMark = messages;
  if (state._writableState) state._writableState.highWaterMark = messages;
}
