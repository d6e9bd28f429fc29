import * as grpc from '@grpc/grpc-js';

/**
 * How long a server found without a newer RPC is served through the older one before the newer
 * one is tried again: it may have been upgraded meanwhile.
 */
export const OLDER_RPC_FOR_MS = 60_000;

/** Where NewerRpcSupport tells what it found (a Logger will do). */
export interface NewerRpcLog {
  info(line: string): void;
  warn(line: string): void;
}

/** A newer RPC and the older one that does the same work (in a stream, say), by their names. */
export interface NewerRpc {
  newer: string;
  older: string;
}

/**
 * Which newer RPCs one storage server lacks, and so the one place that decides whether a call
 * goes through a newer RPC or the older one it replaced. A server older than this gateway
 * answers a method it does not know with UNIMPLEMENTED, having done nothing, so the older RPC
 * can do the same work at once; it alone is used for OLDER_RPC_FOR_MS, then the newer one is
 * tried again. Not a failure of the server: nothing reaches its breaker. A StorageClient owns
 * one, so what is known of a server goes with that server's client.
 */
export class NewerRpcSupport {
  /** Until when each missing newer RPC is not asked. Kept once past, so a retry that fails again logs nothing new. */
  private readonly missingUntil = new Map<string, number>();

  private readonly avoided: ReadonlySet<string>;
  private readonly now: () => number;

  constructor(
    /** How logs name the server (its address). */
    private readonly server: string,
    private readonly log: NewerRpcLog,
    options: {
      /** Newer RPCs never asked, as if the server lacked them (tests of what older servers get). */
      avoid?: readonly string[];
      now?: () => number;
    } = {},
  ) {
    this.avoided = new Set(options.avoid);
    this.now = options.now ?? Date.now;
  }

  /** newer(), or older() while the server is known to lack it or when it answers UNIMPLEMENTED. */
  async call<T>(rpc: NewerRpc, newer: () => Promise<T>, older: () => Promise<T>): Promise<T> {
    if (this.avoided.has(rpc.newer)) return older();
    const missingUntil = this.missingUntil.get(rpc.newer);
    if (missingUntil !== undefined && this.now() < missingUntil) return older();
    let result: T;
    try {
      result = await newer();
    } catch (error) {
      if ((error as { code?: unknown } | undefined)?.code !== grpc.status.UNIMPLEMENTED) throw error;
      this.foundMissing(rpc);
      return older();
    }
    if (this.missingUntil.delete(rpc.newer)) {
      this.log.info(`Storage server ${this.server} answers ${rpc.newer} now (upgraded): it is used again in place of ${rpc.older}`);
    }
    return result;
  }

  private foundMissing(rpc: NewerRpc): void {
    const known = this.missingUntil.has(rpc.newer);
    this.missingUntil.set(rpc.newer, this.now() + OLDER_RPC_FOR_MS);
    if (known) return;
    this.log.warn(
      `Storage server ${this.server} does not know ${rpc.newer} (a version older than this gateway): ` +
        `using ${rpc.older} there instead, and trying ${rpc.newer} again every ${OLDER_RPC_FOR_MS / 1000} s`,
    );
  }
}
