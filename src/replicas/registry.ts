import type { ConnectionSupervisor } from '../connection/types';
import type { Logger } from '../util/logger';
import type { MetadataStore, ServerRecord } from '../metadata/types';
import { HashRing } from './hash-ring';

export interface RegistryConfig {
  ringRefreshIntervalMs: number;
  serverHeartbeatTimeoutMs: number;
}

export interface JoinRequest {
  id: string;
  address: string;
  availableSpace?: number;
  totalSpace?: number;
}

/**
 * The storage servers this gateway knows: joined and heartbeating servers are persisted in
 * the metadata store (shared by every gateway), and the ring is rebuilt from the live ones on
 * every refresh and at once when a server joins or moves. The connection supervisor follows it.
 */
export class ServerRegistry {
  private ring = new HashRing([]);
  private known = new Map<string, ServerRecord>();
  private timer: NodeJS.Timeout | null = null;
  private refreshing: Promise<void> | null = null;

  constructor(
    private readonly store: MetadataStore,
    private readonly supervisor: ConnectionSupervisor,
    private readonly config: RegistryConfig,
    private readonly log: Logger,
  ) {}

  currentRing(): HashRing {
    return this.ring;
  }

  ringServerIds(): ReadonlySet<string> {
    return this.ring.serverIds;
  }

  addressOf(serverId: string): string | null {
    return this.known.get(serverId)?.address ?? null;
  }

  /** Every known server with whether it counts as live (recent heartbeat). */
  list(): Array<ServerRecord & { live: boolean }> {
    return [...this.known.values()].map((s) => ({ ...s, live: this.isLive(s) }));
  }

  async join(request: JoinRequest): Promise<void> {
    const before = this.known.get(request.id);
    await this.store.upsertServer(request);
    if (!before || before.address !== request.address || !this.ring.serverIds.has(request.id)) {
      this.log.info(`Storage server ${request.id} joined at ${request.address}`);
      await this.refresh();
    } else {
      this.known.set(request.id, { ...before, lastHeartbeatAt: new Date(), availableSpace: request.availableSpace ?? null, totalSpace: request.totalSpace ?? null });
      // A restarted server heartbeats as soon as it listens: the best moment to reconnect.
      this.supervisor.serverAnnounced(request.id);
    }
  }

  /** Reloads servers from the store and rebuilds the ring when its membership changed. */
  refresh(): Promise<void> {
    // Coalesce overlapping refreshes (a join during the periodic one).
    this.refreshing ??= this.load().finally(() => (this.refreshing = null));
    return this.refreshing;
  }

  start(): Promise<void> {
    this.timer = setInterval(() => {
      this.refresh().catch((error) => this.log.warn(`Ring refresh failed: ${(error as Error).message}`));
    }, this.config.ringRefreshIntervalMs);
    this.timer.unref();
    return this.refresh();
  }

  stop(): void {
    if (this.timer) clearInterval(this.timer);
    this.timer = null;
  }

  private async load(): Promise<void> {
    const servers = await this.store.listServers();
    this.known = new Map(servers.map((s) => [s.id, s]));
    const live = servers.filter((s) => this.isLive(s));
    const ids = live.map((s) => s.id).sort();
    const current = [...this.ring.serverIds].sort();
    if (ids.join(',') !== current.join(',')) {
      const added = ids.filter((id) => !this.ring.serverIds.has(id));
      const removed = current.filter((id) => !ids.includes(id));
      this.ring = new HashRing(ids);
      this.log.info(`Ring now has ${ids.length} servers (added: ${added.join(', ') || 'none'}; removed: ${removed.join(', ') || 'none'})`);
    }
    this.supervisor.update(live.map((s) => ({ id: s.id, address: s.address })));
  }

  private isLive(server: ServerRecord): boolean {
    return Date.now() - server.lastHeartbeatAt.getTime() <= this.config.serverHeartbeatTimeoutMs;
  }
}
