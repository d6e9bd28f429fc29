import * as grpc from '@grpc/grpc-js';

/**
 * Answers about one request, not about the server: the server was reachable and decided. A
 * full disk (RESOURCE_EXHAUSTED) in particular leaves it perfectly able to serve reads, so it
 * must not open the breaker that reads go through.
 */
const REQUEST_LEVEL_CODES = new Set<number>([
  grpc.status.CANCELLED,
  grpc.status.INVALID_ARGUMENT,
  grpc.status.NOT_FOUND,
  grpc.status.ALREADY_EXISTS,
  grpc.status.RESOURCE_EXHAUSTED,
  grpc.status.FAILED_PRECONDITION,
  grpc.status.OUT_OF_RANGE,
  grpc.status.DATA_LOSS,
]);

/** Whether a failed call says something about the server's health (what the breaker counts). */
export function isServerFault(error: unknown): boolean {
  const code = (error as { code?: unknown } | undefined)?.code;
  return typeof code !== 'number' || !REQUEST_LEVEL_CODES.has(code);
}
