import type { Logger } from '../util/logger';

export interface JoinRequest {
  server_id: string;
  address: string;
  available_space: number;
  total_space: number;
}

type HeartbeatState = 'not_joined' | 'joined' | 'failing';

const REQUEST_TIMEOUT_MS = 5_000;

/**
 * Joins a gateway and keeps the registration fresh: POST <joinUrl>/admin/servers now and every
 * interval. A failed beat is logged (once per change of state, not every beat) and retried on
 * the next one; it never stops the server.
 */
export class Heartbeat {
  private state: HeartbeatState = 'not_joined';
  private timer: NodeJS.Timeout | undefined;
  private inFlight: AbortController | undefined;
  private stopped = false;

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
    this.timer = setInterval(() => void this.beat(), this.intervalMs);
    this.timer.unref();
  }

  stop(): void {
    this.stopped = true;
    clearInterval(this.timer);
    this.inFlight?.abort();
  }

  private async beat(): Promise<void> {
    if (this.inFlight || this.stopped) return; // the previous beat is still waiting for the gateway
    const controller = new AbortController();
    this.inFlight = controller;
    const timeout = setTimeout(() => controller.abort(), REQUEST_TIMEOUT_MS);
    try {
      const body = await this.describeServer();
      const response = await fetch(`${this.joinUrl}/admin/servers`, {
        method: 'POST',
        headers: {
          'content-type': 'application/json',
          ...(this.clusterToken === undefined ? {} : { authorization: `Bearer ${this.clusterToken}` }),
        },
        body: JSON.stringify(body),
        signal: controller.signal,
      });
      await response.arrayBuffer();
      if (!response.ok) throw new Error(`gateway answered ${response.status} ${response.statusText}`);
      this.setState('joined', `gateway ${this.joinUrl} accepted ${body.address}`);
    } catch (error) {
      if (this.stopped) return;
      const reason = controller.signal.aborted ? `no answer within ${REQUEST_TIMEOUT_MS} ms` : (error as Error).message;
      this.setState('failing', `heartbeat to ${this.joinUrl} failed: ${reason}; retrying in ${this.intervalMs} ms`);
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
