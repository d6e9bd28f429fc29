import { DomainError } from '../util/domain-error';

/** The metadata database cannot be reached (down, restarting, unreachable): retry shortly. */
export class MetadataUnavailableError extends DomainError {
  readonly kind = 'unavailable';
  override readonly retryAfterSeconds = 2;

  constructor(message: string, options?: { cause?: unknown }) {
    super(message, {}, options);
  }

  override get publicMessage(): string {
    return 'metadata database unavailable; retry shortly';
  }
}
