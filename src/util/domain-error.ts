/**
 * What went wrong, in terms the caller can act on. Layers below HTTP throw these (never HTTP
 * status codes); each API (src/http for the file API, src/s3 for S3) maps a kind to its own answer.
 *
 * - invalid:     the request itself is wrong; sending it again will not help
 * - not_found:   what it names does not exist
 * - forbidden:   the requester may not do it (another user's bucket)
 * - conflict:    it clashes with what exists (a name taken, a bucket not empty)
 * - too_large:   it is over a configured limit
 * - unavailable: a part of the system cannot serve it now; the same request may work shortly
 * - busy:        the system is at its limit for such requests; the same request will work when
 *                sent again shortly, and fewer at once help
 */
export type FailureKind = 'invalid' | 'forbidden' | 'not_found' | 'conflict' | 'too_large' | 'unavailable' | 'busy';

export abstract class DomainError extends Error {
  abstract readonly kind: FailureKind;
  /** Seconds a client should wait before trying again (for 'unavailable' and 'busy'). */
  readonly retryAfterSeconds?: number;

  constructor(
    message: string,
    /** Facts a client may see alongside the message (e.g. the limit that was crossed). */
    readonly details: Record<string, unknown> = {},
    options?: { cause?: unknown },
  ) {
    super(message, options);
    this.name = new.target.name;
  }

  /** What a client is told; the full message (with hosts and paths) goes to the log. */
  get publicMessage(): string {
    return this.message;
  }
}
