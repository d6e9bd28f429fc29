import type { ConnectionSupervisor } from '../connection/types';
import type { Logger } from '../util/logger';
import type { MetadataStore, Membership, ServerRecord, ServerRemoval } from '../metadata/types';
import { HashRing, type RingMember } from './hash-ring';
import { MembershipError, UnknownServerError } from './membership-errors';
import { capacityWeights, isLowOnSpace } from './server-capacity';

export interface RegistryConfig {
  ringRefreshIntervalMs: number;
  serverHeartbeatTimeoutMs: number;
  /** A server with less free space than this (or 5% of its disk, if smaller) gets new chunks only when others cannot. */
  placementMinFreeBytes: number;
}

export interface JoinRequest {
  id: string;
  address: string;
  availableSpace?: number;
  totalSpace?: number;
}

/**
 * The storage servers this gateway knows: joined and heartbeating servers are persisted in
 * the metadata store (shared by every gateway), with the membership an operator gave them.
 * The ring holds the live, active ones, weighted by their disk size and with those low on
 * space marked; it is rebuilt on every refresh, at once when a server joins, moves or changes
 * membership here, and when a heartbeat changes a server's weight or space. The connection
 * supervisor follows every live server that is not removed (a draining one is still read from).
 */
export class ServerRegistry {
  private ring = new HashRing([]);
  /** What the ring was built from, to rebuild it only when that changes. */
  private ringShape = '';
  private known = new Map<string, ServerRecord>();
  private timer: NodeJS.Timeout | null = null;
  private loading: Promise<void> | null = null;
  private queued: Promise<void> | null = null;

  constructor(
    private readonly store: MetadataStore,
    private readonly supervisor: ConnectionSupervisor,
    private readonly config: RegistryConfig,
    private readonly log: Logger,
  ) {}

  currentRing(): HashRing {
    return this.ring;
  }

  /**
   * Servers that take new chunks when they are up: active members, live or not. A server that
   * stopped heartbeating leaves the ring but still counts here until an operator drains or
   * removes it, so a write quorum is never lowered by servers going down.
   */
  activeMemberCount(): number {
    let count = 0;
    for (const server of this.known.values()) if (server.membership === 'active') count++;
    return count;
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

  /** A join or heartbeat; a server removed from the cluster is refused. */
  async join(request: JoinRequest): Promise<void> {
    const before = this.known.get(request.id);
    if (before?.membership === 'removed') {
      throw new MembershipError(
        `storage server ${request.id} was removed from the cluster; stop it, or bring it back with "ringstore admin undrain ${request.id}"`,
      );
    }
    await this.store.upsertServer(request);
    if (!before || before.address !== request.address || !this.isLive(before)) {
      this.log.info(`Storage server ${request.id} joined at ${request.address}`);
      await this.refresh();
    } else {
      this.known.set(request.id, {
        ...before,
        lastHeartbeatAt: new Date(),
        availableSpace: request.availableSpace ?? before.availableSpace,
        totalSpace: request.totalSpace ?? before.totalSpace,
      });
      this.applyRing(); // its weight or free space may have changed
      // A restarted server heartbeats as soon as it listens: the best moment to reconnect.
      this.supervisor.serverAnnounced(request.id);
    }
  }

  /** The server with this id or, failing that, this address (host:port). */
  resolve(idOrAddress: string): ServerRecord {
    const byId = this.known.get(idOrAddress);
    if (byId) return byId;
    const byAddress = [...this.known.values()].filter((s) => s.address === idOrAddress);
    const current = byAddress.filter((s) => s.membership !== 'removed');
    const found = current.length > 0 ? current : byAddress;
    if (found.length === 1) return found[0];
    if (found.length > 1) {
      throw new MembershipError(`several storage servers have address ${idOrAddress} (${found.map((s) => s.id).join(', ')}); name one by its id`);
    }
    throw new UnknownServerError(`no storage server has the id or address "${idOrAddress}"`);
  }

  /**
   * The one way a membership changes (drain, undrain, drained): in the metadata store, where
   * every gateway reads it, then in this gateway's ring at once. Logged as `old -> new (why)`.
   * Throws MembershipError when the server is not in one of `from` (it changed meanwhile).
   */
  async changeMembership(serverId: string, to: Membership, from: readonly Membership[], why: string): Promise<ServerRecord> {
    const updated = await this.store.setMembership(serverId, to, from);
    if (!updated) {
      await this.refresh();
      const now = this.known.get(serverId);
      if (!now) throw new UnknownServerError(`no storage server has the id "${serverId}"`);
      throw new MembershipError(`storage server ${serverId} is ${now.membership}, so it cannot become ${to}`, { membership: now.membership });
    }
    const was = this.known.get(serverId)?.membership ?? from[0];
    this.known.set(serverId, updated);
    this.logMembership(updated, was, why);
    await this.refresh();
    return updated;
  }

  /**
   * Takes a server out of the cluster: refused while it holds chunks unless `force` (then rows
   * whose chunk has a stored copy elsewhere go, and repair restores R; rows of chunks stored
   * only there stay). Its pending deletes go with it.
   */
  async remove(serverId: string, force: boolean): Promise<ServerRemoval> {
    const server = this.known.get(serverId);
    const removal = await this.store.removeServer(serverId, force);
    if (!removal) {
      if (server?.membership === 'removed') throw new MembershipError(`storage server ${serverId} is already removed`);
      throw new UnknownServerError(`no storage server has the id "${serverId}"`);
    }
    if (!removal.removed) {
      throw new MembershipError(
        `storage server ${serverId} still holds ${removal.chunks} chunks; drain it first ("ringstore admin drain ${serverId}"), or remove it with --force`,
        { chunks: removal.chunks },
      );
    }
    const dropped = force && removal.chunks > 0 ? `, forced: ${removal.replicasDropped} replicas dropped, ${removal.chunksOnlyThere} chunks recorded only there` : '';
    if (server) {
      this.known.set(serverId, { ...server, membership: 'removed' });
      this.logMembership({ ...server, membership: 'removed' }, server.membership, `removed by an operator${dropped}`);
    }
    await this.refresh();
    return removal;
  }

  /** Reloads servers from the store and rebuilds the ring when it changed. */
  refresh(): Promise<void> {
    if (!this.loading) {
      this.loading = this.load().finally(() => (this.loading = null));
      return this.loading;
    }
    // A load is under way, but it may have read the store before the caller's change: one more
    // after it, shared by everyone who asks meanwhile.
    this.queued ??= this.loading
      .catch(() => undefined)
      .then(() => {
        this.queued = null;
        return this.refresh();
      });
    return this.queued;
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
    for (const server of servers) {
      const before = this.known.get(server.id);
      // Another gateway changed it (its own log said why): say it here too.
      if (before && before.membership !== server.membership) this.logMembership(server, before.membership, 'seen in the metadata store');
    }
    this.known = new Map(servers.map((s) => [s.id, s]));
    this.applyRing();
    this.supervisor.update(
      servers.filter((s) => this.isLive(s) && s.membership !== 'removed').map((s) => ({ id: s.id, address: s.address })),
    );
  }

  /** Rebuilds the ring from the live, active servers when their set, weights or space changed. */
  private applyRing(): void {
    const placeable = [...this.known.values()].filter((s) => this.isLive(s) && s.membership === 'active');
    const weights = capacityWeights(placeable);
    const members: RingMember[] = placeable
      .map((s) => ({ id: s.id, weight: weights.get(s.id), lowOnSpace: isLowOnSpace(s, this.config.placementMinFreeBytes) }))
      .sort((a, b) => (a.id < b.id ? -1 : 1));
    // Weights rounded to what changes the virtual nodes, so small drifts in reported sizes do not rebuild it.
    const shape = JSON.stringify(members.map((m) => [m.id, Math.round((m.weight ?? 1) * 100), m.lowOnSpace]));
    if (shape === this.ringShape) return;
    const before = this.ring.serverIds;
    this.ring = new HashRing(members);
    this.ringShape = shape;
    const added = members.filter((m) => !before.has(m.id)).map((m) => m.id);
    const removed = [...before].filter((id) => !this.ring.serverIds.has(id));
    const low = members.filter((m) => m.lowOnSpace).map((m) => m.id);
    this.log.info(
      `Ring now has ${members.length} servers (added: ${added.join(', ') || 'none'}; removed: ${removed.join(', ') || 'none'}; low on space: ${low.join(', ') || 'none'})`,
    );
  }

  private logMembership(server: Pick<ServerRecord, 'id' | 'address' | 'membership'>, was: Membership, why: string): void {
    this.log.info(`Server ${server.id} (${server.address}) membership: ${was} -> ${server.membership} (${why})`, {
      event: 'membership', serverId: server.id, from: was, to: server.membership,
    });
  }

  private isLive(server: ServerRecord): boolean {
    return Date.now() - server.lastHeartbeatAt.getTime() <= this.config.serverHeartbeatTimeoutMs;
  }
}
