import { ConfigError, envInt } from '../util/env';

type Env = Record<string, string | undefined>;

/** Every interval and timeout of the connection layer, read from env and validated at start. */
export interface ConnectionConfig {
  /** The shared tick: reconcile, kick idle channels, probe silent ones, time out connects. */
  healthCheckIntervalMs: number;
  /** A channel CONNECTING longer than this is closed and rebuilt (grpc-js has no connect timeout). */
  connectTimeoutMs: number;
  /** Deadline of a HealthCheck probe. */
  probeTimeoutMs: number;
  breakerFailureThreshold: number;
  breakerCooldownMs: number;
  breakerMaxCooldownMs: number;
  /** How long getClient waits for a non-Ready server before giving up. */
  readyWaitMs: number;
  /** On-demand reconnects of one server happen at most this often. */
  minReconnectIntervalMs: number;
  /** Recreating a channel that was shut down under us: base x 2^n up to max, with jitter. */
  shutdownBackoffBaseMs: number;
  shutdownBackoffMaxMs: number;
  /** Default deadline of storage calls made through the pooled clients. */
  callTimeoutMs: number;
  /** grpc-js channel tuning (docs/architecture.md, "Connection layer": the grpc-js facts). */
  initialReconnectBackoffMs: number;
  maxReconnectBackoffMs: number;
  keepaliveTimeMs: number;
  keepaliveTimeoutMs: number;
  maxMessageBytes: number;
}

export const DEFAULT_CONNECTION_CONFIG: ConnectionConfig = {
  healthCheckIntervalMs: 10_000,
  connectTimeoutMs: 5_000,
  probeTimeoutMs: 2_000,
  breakerFailureThreshold: 5,
  breakerCooldownMs: 30_000,
  breakerMaxCooldownMs: 300_000,
  readyWaitMs: 2_000,
  minReconnectIntervalMs: 1_000,
  shutdownBackoffBaseMs: 500,
  shutdownBackoffMaxMs: 30_000,
  callTimeoutMs: 30_000,
  initialReconnectBackoffMs: 200,
  // grpc-js adds +-20% jitter: 800 ms keeps the longest wait for a returned server under 1 s.
  maxReconnectBackoffMs: 800,
  keepaliveTimeMs: 10_000,
  keepaliveTimeoutMs: 5_000,
  maxMessageBytes: 16 * 1024 * 1024,
};

/** Reads the connection settings; a bad value throws a ConfigError naming the variable. */
export function loadConnectionConfig(env: Env = process.env): ConnectionConfig {
  const d = DEFAULT_CONNECTION_CONFIG;
  const ms = (name: string, fallback: number, min = 1) => envInt(env, name, fallback, { min, max: 86_400_000 });
  const config: ConnectionConfig = {
    healthCheckIntervalMs: ms('HEALTH_CHECK_INTERVAL_MS', d.healthCheckIntervalMs, 10),
    connectTimeoutMs: ms('CONNECT_TIMEOUT_MS', d.connectTimeoutMs, 10),
    probeTimeoutMs: ms('PROBE_TIMEOUT_MS', d.probeTimeoutMs, 10),
    breakerFailureThreshold: envInt(env, 'BREAKER_FAILURE_THRESHOLD', d.breakerFailureThreshold, { min: 1, max: 1_000 }),
    breakerCooldownMs: ms('BREAKER_COOLDOWN_MS', d.breakerCooldownMs),
    breakerMaxCooldownMs: ms('BREAKER_MAX_COOLDOWN_MS', d.breakerMaxCooldownMs),
    readyWaitMs: ms('READY_WAIT_MS', d.readyWaitMs, 0),
    minReconnectIntervalMs: ms('MIN_RECONNECT_INTERVAL_MS', d.minReconnectIntervalMs, 0),
    shutdownBackoffBaseMs: ms('SHUTDOWN_BACKOFF_BASE_MS', d.shutdownBackoffBaseMs),
    shutdownBackoffMaxMs: ms('SHUTDOWN_BACKOFF_MAX_MS', d.shutdownBackoffMaxMs),
    callTimeoutMs: ms('STORAGE_CALL_TIMEOUT_MS', d.callTimeoutMs, 10),
    initialReconnectBackoffMs: ms('GRPC_INITIAL_RECONNECT_BACKOFF_MS', d.initialReconnectBackoffMs),
    maxReconnectBackoffMs: ms('GRPC_MAX_RECONNECT_BACKOFF_MS', d.maxReconnectBackoffMs),
    keepaliveTimeMs: ms('GRPC_KEEPALIVE_TIME_MS', d.keepaliveTimeMs, 100),
    keepaliveTimeoutMs: ms('GRPC_KEEPALIVE_TIMEOUT_MS', d.keepaliveTimeoutMs, 100),
    maxMessageBytes: envInt(env, 'GRPC_MAX_MESSAGE_BYTES', d.maxMessageBytes, { min: 8 * 1024 * 1024 }),
  };
  mustNotExceed('BREAKER_COOLDOWN_MS', config.breakerCooldownMs, 'BREAKER_MAX_COOLDOWN_MS', config.breakerMaxCooldownMs);
  mustNotExceed('SHUTDOWN_BACKOFF_BASE_MS', config.shutdownBackoffBaseMs, 'SHUTDOWN_BACKOFF_MAX_MS', config.shutdownBackoffMaxMs);
  mustNotExceed('GRPC_INITIAL_RECONNECT_BACKOFF_MS', config.initialReconnectBackoffMs, 'GRPC_MAX_RECONNECT_BACKOFF_MS', config.maxReconnectBackoffMs);
  return config;
}

function mustNotExceed(lowName: string, low: number, highName: string, high: number): void {
  if (low > high) throw new ConfigError(`${lowName} (${low}) must not exceed ${highName} (${high})`);
}
