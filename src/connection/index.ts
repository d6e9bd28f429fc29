import type * as grpc from '@grpc/grpc-js';
import { createLogger } from '../util/logger';
import type { StorageClient } from '../rpc/storage-client';
import { systemClock, type Clock } from './clock';
import { loadConnectionConfig, type ConnectionConfig } from './config';
import { grpcDialer } from './grpc-dialer';
import { guardInspector, type InspectObserver } from './guard-inspector';
import type { ConnectionLogger } from './server-effects';
import { SupervisorHandle } from './supervisor';
import type { ConnectionSupervisor } from './types';

export { loadConnectionConfig, DEFAULT_CONNECTION_CONFIG, type ConnectionConfig } from './config';
export { storageChannelOptions } from './grpc-dialer';
export { SupervisorHandle } from './supervisor';
export type { InspectObserver } from './guard-inspector';
export type * from './types';
export { connectionMachine } from '../../machines/connection';
export { breakerMachine } from '../../machines/breaker';
export { serverMachine } from '../../machines/server';
export { supervisorLogic } from '../../machines/supervisor';
export { describeConnectionLayer, describeMachine, type MachineDescription } from '../../machines/describe';

export interface CreateConnectionSupervisorOptions {
  config?: ConnectionConfig;
  channelCredentials?: grpc.ChannelCredentials;
  callMetadata?: () => grpc.Metadata;
  /** XState inspection of the whole actor tree (supervisor, servers, connections, breakers); a throwing observer is contained. */
  inspect?: InspectObserver;
  logger?: ConnectionLogger;
  clock?: Clock;
}

/**
 * The gateway's connection layer: a supervisor actor with one server actor per storage server
 * (a long-lived grpc-js channel, a connection actor and a breaker actor each).
 */
export function createConnectionSupervisor(options: CreateConnectionSupervisorOptions = {}): ConnectionSupervisor & SupervisorHandle<StorageClient> {
  const config = options.config ?? loadConnectionConfig(process.env);
  const logger = options.logger ?? createLogger('connection');
  return new SupervisorHandle<StorageClient>({
    config,
    dial: grpcDialer({ config, channelCredentials: options.channelCredentials, callMetadata: options.callMetadata }),
    clock: options.clock ?? systemClock,
    logger,
    inspect: options.inspect ? guardInspector(options.inspect, logger) : undefined,
  });
}
