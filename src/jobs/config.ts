import { envBytes, envInt } from '../util/env';

type Env = Record<string, string | undefined>;

export interface RepairConfig {
  /** How often a repair pass runs (0 = only when asked through POST /admin/jobs/repair). */
  intervalMs: number;
  /** A server silent for longer than this has lost its replicas; a shorter outage is a restart. */
  graceMs: number;
  /** Bytes per second all repair copies together may move (0 = unlimited). */
  bandwidthBytesPerSec: number;
  /** Chunks copied at once. */
  concurrency: number;
}

export interface ScrubConfig {
  /** How often a scrub slice runs (0 = only when asked through POST /admin/jobs/scrub). */
  intervalMs: number;
  /** Chunks per second the storage servers are asked to verify, all servers together (0 = unlimited). */
  chunksPerSec: number;
  /** Chunks verified per server in one run; the next run resumes where this one stopped. */
  chunksPerServerPerRun: number;
}

/** Drain and rebalance: the jobs that move replicas between servers on an operator's request. */
export interface MovesConfig {
  /** How often a gateway moves the chunks of draining servers (0 = only when asked: a drain request, POST /admin/jobs/drain). */
  drainIntervalMs: number;
  /** How often a rebalance runs (0 = only when asked: ringstore admin rebalance, POST /admin/jobs/rebalance). */
  rebalanceIntervalMs: number;
  /** How far (percent) a server's bytes may be from its share after a rebalance. */
  rebalanceBandPercent: number;
  /** Bytes per second all drain and rebalance copies together may move (0 = unlimited). */
  bandwidthBytesPerSec: number;
  /** Chunks moved at once. */
  concurrency: number;
  /** A moved replica's old copy is deleted this long after the move, so reads that started on it finish there. */
  deleteDelayMs: number;
}

export interface JobsConfig {
  repair: RepairConfig;
  scrub: ScrubConfig;
  moves: MovesConfig;
}

/** The background jobs' settings; a bad value throws a ConfigError naming the variable. */
export function loadJobsConfig(env: Env = process.env): JobsConfig {
  return {
    repair: {
      intervalMs: envInt(env, 'REPAIR_INTERVAL_MS', 60_000, { min: 0 }),
      graceMs: envInt(env, 'REPAIR_GRACE_MS', 600_000, { min: 0 }),
      bandwidthBytesPerSec: envBytes(env, 'REPAIR_BANDWIDTH', 50 * 1024 ** 2),
      concurrency: envInt(env, 'REPAIR_CONCURRENCY', 2, { min: 1, max: 64 }),
    },
    scrub: {
      intervalMs: envInt(env, 'SCRUB_INTERVAL_MS', 3_600_000, { min: 0 }),
      chunksPerSec: envInt(env, 'SCRUB_RATE', 5, { min: 0 }),
      chunksPerServerPerRun: envInt(env, 'SCRUB_CHUNKS_PER_RUN', 2_000, { min: 1 }),
    },
    moves: {
      drainIntervalMs: envInt(env, 'DRAIN_INTERVAL_MS', 10_000, { min: 0 }),
      rebalanceIntervalMs: envInt(env, 'REBALANCE_INTERVAL_MS', 0, { min: 0 }),
      rebalanceBandPercent: envInt(env, 'REBALANCE_BAND_PERCENT', 10, { min: 1, max: 50 }),
      bandwidthBytesPerSec: envBytes(env, 'MOVE_BANDWIDTH', 50 * 1024 ** 2),
      concurrency: envInt(env, 'MOVE_CONCURRENCY', 2, { min: 1, max: 64 }),
      deleteDelayMs: envInt(env, 'MOVE_DELETE_DELAY_MS', 60_000, { min: 0 }),
    },
  };
}
