import type { ChaosCluster } from '../chaos-cluster';
import type { FaultTimeline } from '../fault-timeline';
import type { GatewayClient } from '../gateway-client';
import type { Ledger } from '../ledger';

export interface FaultContext {
  cluster: ChaosCluster;
  timeline: FaultTimeline;
  ledger: Ledger;
  client: GatewayClient;
  random: () => number;
  /** PostgreSQL metadata (the postgres fault needs it). */
  postgres: boolean;
  /** CI: shortest hold times. */
  quick: boolean;
  log(message: string): void;
}

/** One kind of fault. */
export interface Fault {
  name: string;
  /** Why this fault cannot run in this cluster, or undefined when it can. */
  unavailable(ctx: FaultContext): string | undefined;
  /**
   * Injects the fault once and undoes it (also when `signal` aborts, which only shortens the
   * hold); resolves once the system is back, with the fault's window recorded in the timeline.
   */
  inject(ctx: FaultContext, signal: AbortSignal): Promise<void>;
}
