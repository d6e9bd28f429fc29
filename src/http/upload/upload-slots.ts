import type { Logger } from '../../util/logger';
import { HttpError } from '../http-error';

/** Seconds a refused client is asked to wait before trying again. */
const RETRY_AFTER_SECONDS = 1;

/**
 * Caps uploads in progress (MAX_CONCURRENT_UPLOADS). Past the cap a new upload is refused
 * with 503 + Retry-After before any of its body is read, so a flood costs sockets, not
 * storage streams, memory or metadata sessions.
 */
export class UploadSlots {
  private active = 0;
  private saturated = false;

  constructor(private readonly max: number, private readonly log: Logger) {}

  /** Takes a slot or throws the 503; call the returned function exactly once when done. */
  acquire(): () => void {
    if (this.active >= this.max) {
      this.setSaturated(true);
      throw new HttpError(
        503,
        `too many uploads in progress (limit ${this.max}); retry in ${RETRY_AFTER_SECONDS} s`,
        { max_concurrent_uploads: this.max },
        { 'Retry-After': String(RETRY_AFTER_SECONDS) },
      );
    }
    this.active++;
    let released = false;
    return () => {
      if (released) return;
      released = true;
      this.active--;
      if (this.active < this.max) this.setSaturated(false);
    };
  }

  private setSaturated(next: boolean): void {
    if (next === this.saturated) return;
    this.saturated = next;
    const why = next ? `${this.active} uploads in progress, new ones get 503` : 'a slot freed up';
    this.log.log(next ? 'warn' : 'info', `Upload slots ${next ? 'available -> full' : 'full -> available'}: ${why}`, {
      event: 'upload_slots', saturated: next, limit: this.max,
    });
  }
}
