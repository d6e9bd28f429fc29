import type { Logger } from '../util/logger';
import { postJson } from '../util/post-json';

export interface JoinRequest {
  server_id: string;
  address: string;
  available_space: number;
  total_space: number;
}

type HeartbeatState = 'not_joined' | 'joined' | 'failing';

const REQUEST_TIMEOUT_MS = 5_000;
/** The first retry after a failed beat (every retry while the gateway starts); then twice as long each time, up to a second. */
const FIRST_RETRY_MS = 100;
const MAX_RETRY_MS = 1_000;

/**
 * Joins a gateway and keeps the registration fresh: POST <joinUrl>/admin/servers now and every
 * interval. A failed beat is retried sooner: after 100 ms, then twice as long each time up to a
 * second (or the interval, if shorter), so a server outliving a gateway restart joins within a
 * second of the gateway listening, not a whole interval later. Before the first join, a gateway
 * that does not answer is most likely still starting (`ringstore up` starts it beside its
 * servers): for up to an interval it is asked every 100 ms, and its silence is logged at debug
 * level only. Failures are logged once per change of state, not every beat. It never stops the
 * server.
 */
export class Heartbeat {
  private state: HeartbeatState = 'not_joined';
  private timer: NodeJS.Timeout | undefined;
  private inFlight: AbortController | undefined;
  private stopped = false;
  private retryDelayMs = FIRST_RETRY_MS;
  /** When the beats began to fail (undefined while they succeed). */
  private failingSince: number | undefined;

  constructor(
    private readonly joinUrl: string,
    private readonly intervalMs: number,
    private readonly describeServer: () => Promise<JoinRequest>,
    private readonly logger: Logger,
    /** CLUSTER_TOKEN: sent as `Authorization: Bearer <token>`, never logged. */
    private readonly clusterToken?: string,
  ) {}

  start(): void {
    void this.beat();
  }

  stop(): void {
    this.stopped = true;
    clearTimeout(this.timer);
    this.inFlight?.abort();
  }

  private async beat(): Promise<void> {
    const nextInMs = await this.beatOnce();
    if (this.stopped) return;
    this.timer = setTimeout(() => void this.beat(), nextInMs);
    this.timer.unref();
  }

  /** One join or heartbeat; resolves with the wait before the next one. */
  private async beatOnce(): Promise<number> {
    const controller = new AbortController();
    this.inFlight = controller;
    const timeout = setTimeout(() => controller.abort(), REQUEST_TIMEOUT_MS);
    let answered = false;
    try {
      const body = await this.describeServer();
      const authorization: Record<string, string> = this.clusterToken === undefined ? {} : { authorization: `Bearer ${this.clusterToken}` };
      const answer = await postJson(`${this.joinUrl}/admin/servers`, body, authorization, controller.signal);
      answered = true;
      if (answer.status < 200 || answer.status > 299) throw new Error(`gateway answered ${answer.status} ${answer.statusText}`);
      this.setState('joined', `gateway ${this.joinUrl} accepted ${body.address}`);
      this.retryDelayMs = FIRST_RETRY_MS;
      this.failingSince = undefined;
      return this.intervalMs;
    } catch (error) {
      this.failingSince ??= Date.now();
      // Unreachable before it ever answered, for less than an interval: still starting, most likely.
      const starting = !answered && this.state === 'not_joined' && Date.now() - this.failingSince < this.intervalMs;
      const retryInMs = starting ? FIRST_RETRY_MS : Math.min(this.retryDelayMs, this.intervalMs);
      if (!starting) this.retryDelayMs = Math.min(this.retryDelayMs * 2, MAX_RETRY_MS);
      if (this.stopped) return retryInMs;
      const reason = controller.signal.aborted ? `no answer within ${REQUEST_TIMEOUT_MS} ms` : (error as Error).message;
      const why = `heartbeat to ${this.joinUrl} failed: ${reason}; retrying in ${retryInMs} ms`;
      if (starting) this.logger.debug(`Gateway not answering yet: ${why}`);
      else this.setState('failing', why);
      return retryInMs;
    } finally {
      clearTimeout(timeout);
      this.inFlight = undefined;
    }
  }

  private setState(next: HeartbeatState, why: string): void {
    if (next === this.state) return;
    const level = next === 'failing' ? 'warn' : 'info';
    this.logger.log(level, `Gateway registration ${this.state} -> ${next}: ${why}`, {
      event: 'heartbeat_state', from: this.state, to: next, joinUrl: this.joinUrl,
    });
    this.state = next;
  }
}
