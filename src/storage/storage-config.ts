import { parseArgs } from 'node:util';
import { ConfigError, envInt, envOptionalString, envString } from '../util/env';
import { loadSecurityConfig, type SecurityConfig } from '../security';

export interface StorageConfig {
  /** 0 = let the OS pick a free port. */
  port: number;
  host: string;
  dataDir: string;
  /** Gateway base URL to join and heartbeat to. */
  joinUrl?: string;
  /** host:port the gateway should dial; default host:port as bound. */
  advertiseAddress?: string;
  /** SERVER_ID: replaces the id kept in the data directory. */
  serverIdOverride?: string;
  heartbeatIntervalMs: number;
  shutdownGraceMs: number;
  /** A put whose client sends nothing for this long is cancelled and its temp file removed. */
  putIdleTimeoutMs: number;
  /** Puts in progress at once (each holds a temp file); more are refused with RESOURCE_EXHAUSTED, marked busy. */
  maxConcurrentPuts: number;
  /** CLUSTER_TOKEN, TLS files (GRPC_TLS_*) and the other security settings. */
  security: SecurityConfig;
}

type Env = Record<string, string | undefined>;

const USAGE = 'ringstore storage [--port N] [--host ADDR] [--data DIR] [--join URL] [--advertise HOST:PORT]';

/** Flags win over environment variables, which win over defaults. Bad values throw ConfigError. */
export function readStorageConfig(args: string[], env: Env = process.env): StorageConfig {
  const flags = parseFlags(args);
  // A flag is read like a variable named after it, so its error message names the flag.
  const port = flags.port !== undefined
    ? envInt({ '--port': flags.port }, '--port', 0, PORT_BOUNDS)
    : envInt(env, 'GRPC_PORT', 50051, PORT_BOUNDS);
  const joinUrl = flags.join ?? envOptionalString(env, 'JOIN_URL');
  if (joinUrl !== undefined) assertHttpUrl(joinUrl, flags.join !== undefined ? '--join' : 'JOIN_URL');
  const advertiseAddress = flags.advertise ?? envOptionalString(env, 'ADVERTISE_ADDRESS');
  if (advertiseAddress !== undefined && !/^[^\s/]+:\d{1,5}$/.test(advertiseAddress)) {
    const name = flags.advertise !== undefined ? '--advertise' : 'ADVERTISE_ADDRESS';
    throw new ConfigError(`${name} must be host:port, got "${advertiseAddress}"`);
  }
  return {
    port,
    host: flags.host ?? envString(env, 'GRPC_HOST', '127.0.0.1'),
    dataDir: flags.data ?? envString(env, 'DATA_DIR', `./data/storage-${port}`),
    joinUrl: joinUrl?.replace(/\/+$/, ''),
    advertiseAddress,
    serverIdOverride: envOptionalString(env, 'SERVER_ID'),
    heartbeatIntervalMs: envInt(env, 'HEARTBEAT_INTERVAL_MS', 10_000, { min: 100 }),
    shutdownGraceMs: envInt(env, 'SHUTDOWN_GRACE_MS', 10_000, { min: 0 }),
    putIdleTimeoutMs: envInt(env, 'PUT_IDLE_TIMEOUT_MS', 120_000, { min: 100 }),
    maxConcurrentPuts: envInt(env, 'MAX_CONCURRENT_PUTS', 512, { min: 1 }),
    security: loadSecurityConfig(env),
  };
}

const PORT_BOUNDS = { min: 0, max: 65535 };

function parseFlags(args: string[]): { port?: string; host?: string; data?: string; join?: string; advertise?: string } {
  try {
    return parseArgs({
      args,
      strict: true,
      allowPositionals: false,
      options: {
        port: { type: 'string' },
        host: { type: 'string' },
        data: { type: 'string' },
        join: { type: 'string' },
        advertise: { type: 'string' },
      },
    }).values;
  } catch (error) {
    throw new ConfigError(`${(error as Error).message} (usage: ${USAGE})`);
  }
}

function assertHttpUrl(value: string, name: string): void {
  let url: URL | undefined;
  try {
    url = new URL(value);
  } catch {
    url = undefined;
  }
  if (!url || (url.protocol !== 'http:' && url.protocol !== 'https:')) {
    throw new ConfigError(`${name} must be an http(s) URL such as http://gateway:8080, got "${value}"`);
  }
}
