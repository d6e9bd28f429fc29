import os from 'node:os';
import * as grpc from '@grpc/grpc-js';
import { HealthImplementation } from 'grpc-health-check';
import { ConfigError } from '../util/env';
import { isAddressInUse, PortInUseError } from '../util/port-in-use';
import { createLogger, type Logger } from '../util/logger';
import { FRAME_BUFFER_BYTES, newFramePool, receiveFramesIntoPool } from '../wire/frame-pool';
import { installServerPrefixInPlace } from '../wire/prefix-in-place';
import { pageAlignedUpTo } from './aligned-buffer-pool';
import { storageServerDefinition } from '../wire/storage-service';
import { grpcServerCredentials, grpcServerTransport } from './grpc-credentials';
import { ChunkStore } from './chunk-store';
import { lockDataDir } from '../util/data-dir-lock.cjs';
import { Heartbeat } from './heartbeat';
import { loadOrCreateServerId } from './server-id';
import { storageServerOptions, widenReceiveWindow } from './grpc-server-options';
import { readStorageConfig, type StorageConfig } from './storage-config';
import { createStorageHandlers } from './storage-handlers';

/**
 * Frames in page-aligned memory at most (more in use at once are plain memory, and their puts
 * copy into an aligned buffer as before): each is a WebAssembly.Memory, which reserves address
 * space V8 allows only about a hundred of, staging and read buffers included.
 */
const ALIGNED_FRAMES = 32;

type ServerState = 'starting' | 'listening' | 'draining' | 'stopped';

export interface RunningStorageServer {
  serverId: string;
  port: number;
  address: string;
  /** Stops accepting calls, lets running ones finish for up to shutdownGraceMs, then cuts them. */
  stop(why: string): Promise<void>;
}

/** `ringstore storage`: one storage server until SIGTERM/SIGINT, then a clean exit 0. */
export async function runStorage(args: string[]): Promise<void> {
  const config = readStorageConfig(args);
  const server = await startStorageServer(config, createLogger('storage'));
  await new Promise<void>((resolve) => {
    const onSignal = (signal: NodeJS.Signals): void => {
      process.off('SIGTERM', onSignal);
      process.off('SIGINT', onSignal);
      void server.stop(`received ${signal}`).then(resolve);
    };
    process.on('SIGTERM', onSignal);
    process.on('SIGINT', onSignal);
  });
  // Nothing is left to finish; don't wait for idle sockets (e.g. fetch keep-alive) to time out.
  process.exit(0);
}

export async function startStorageServer(config: StorageConfig, logger: Logger): Promise<RunningStorageServer> {
  let state: ServerState = 'starting';
  const setState = (next: ServerState, why: string, fields: Record<string, unknown> = {}): void => {
    logger.info(`Storage server ${state} -> ${next}: ${why}`, { event: 'state', from: state, to: next, ...fields });
    state = next;
  };

  const unlockDataDir = await lockDataDir(config.dataDir, {
    owner: 'ringstore storage server',
    createError: (message) => new ConfigError(message),
  });
  const store = await ChunkStore.open(config.dataDir, logger);
  const serverId = await loadOrCreateServerId(store.dataDir, config.serverIdOverride);

  // Before anything listens: a bad TLS setup fails the start, not the first call.
  const credentials = grpcServerCredentials(config.security);
  const server = new grpc.Server(storageServerOptions(config, logger));
  widenReceiveWindow(server);
  // Page-aligned frames: a large put's data is written with O_DIRECT from the frame it arrived in.
  const frames = newFramePool(pageAlignedUpTo(ALIGNED_FRAMES, FRAME_BUFFER_BYTES));
  receiveFramesIntoPool(logger, frames);
  if (!installServerPrefixInPlace()) {
    logger.warn('grpc-js has no server call class where ringstore expects one (a grpc-js other than 1.14?): GetChunk frames are copied once more as they are sent');
  }
  // Fired first thing on stop: the SmallChunkOps streams gateways keep open end, so calls can finish.
  const shutdownStarted = new AbortController();
  server.addService(storageServerDefinition, createStorageHandlers(store, serverId, logger, {
    putIdleTimeoutMs: config.putIdleTimeoutMs,
    maxConcurrentPuts: config.maxConcurrentPuts,
  }, frames, shutdownStarted.signal));
  const health = new HealthImplementation({ '': 'SERVING', 'storage.StorageService': 'SERVING' });
  health.addToServer(server);

  const port = await bind(server, config.host, config.port, credentials);
  widenReceiveWindow(server);
  const address = config.advertiseAddress ?? `${advertisedHost(config.host)}:${port}`;
  setState('listening', `bound ${config.host}:${port}`);
  logger.info('Storage server listening', {
    event: 'listening', serverId, host: config.host, port, address, dataDir: store.dataDir, chunkCount: store.chunkCount,
    transport: grpcServerTransport(config.security),
    clusterToken: config.security.clusterToken === undefined ? 'not required' : 'required',
  });

  const heartbeat = config.joinUrl
    ? new Heartbeat(config.joinUrl, config.heartbeatIntervalMs, async () => {
        const disk = await store.diskUsage();
        return { server_id: serverId, address, available_space: disk.available, total_space: disk.total };
      }, logger, config.security.clusterToken)
    : undefined;
  heartbeat?.start();

  let stopping: Promise<void> | undefined;
  const stop = (why: string): Promise<void> => {
    stopping ??= (async () => {
      setState('draining', `${why}; finishing running calls (up to ${config.shutdownGraceMs} ms)`);
      heartbeat?.stop();
      shutdownStarted.abort();
      health.setStatus('', 'NOT_SERVING');
      health.setStatus('storage.StorageService', 'NOT_SERVING');
      const finishedInTime = await shutdownWithin(server, config.shutdownGraceMs);
      await store.close();
      setState('stopped', finishedInTime ? 'every call finished' : 'grace period over, cut the remaining calls');
      await unlockDataDir();
    })();
    return stopping;
  };

  return { serverId, port, address, stop };
}

function bind(server: grpc.Server, host: string, port: number, credentials: grpc.ServerCredentials): Promise<number> {
  const target = host.includes(':') ? `[${host}]:${port}` : `${host}:${port}`;
  return new Promise((resolve, reject) => {
    server.bindAsync(target, credentials, (error, boundPort) => {
      if (error && isAddressInUse(error)) reject(new PortInUseError(host, port, 'stop it, or choose another port with --port N (GRPC_PORT)'));
      else if (error) reject(new Error(`cannot listen on ${target}: ${error.message}`));
      else resolve(boundPort);
    });
  });
}

/** A wildcard bind is not dialable; advertise the machine's name instead. */
function advertisedHost(host: string): string {
  if (host === '0.0.0.0' || host === '::') return os.hostname();
  return host.includes(':') ? `[${host}]` : host;
}

/** tryShutdown, then forceShutdown once the grace period is over. True when calls finished in time. */
function shutdownWithin(server: grpc.Server, graceMs: number): Promise<boolean> {
  return new Promise((resolve) => {
    const timer = setTimeout(() => {
      server.forceShutdown();
      resolve(false);
    }, graceMs);
    server.tryShutdown(() => {
      clearTimeout(timer);
      resolve(true);
    });
  });
}
