import * as grpc from '@grpc/grpc-js';
import { POOLED_SEND_CHANNEL_OPTIONS } from '../wire/frame-pool';
import { HTTP2_WINDOW_BYTES } from '../wire/http2-window';
import { StorageClient } from '../rpc/storage-client';
import { StorageServiceClient } from '../wire/storage-service';
import type { ConnectionConfig } from './config';
import type { Dialer } from './server-channel';

/** Channel options for the grpc-js facts in docs/architecture.md, "Connection layer". */
export function storageChannelOptions(config: ConnectionConfig): grpc.ChannelOptions {
  return {
    // A server back after minutes must not wait grpc-js's default 120 s backoff.
    'grpc.initial_reconnect_backoff_ms': config.initialReconnectBackoffMs,
    'grpc.max_reconnect_backoff_ms': config.maxReconnectBackoffMs,
    // Half-open connections otherwise stay READY for ~15 minutes.
    'grpc.keepalive_time_ms': config.keepaliveTimeMs,
    'grpc.keepalive_timeout_ms': config.keepaliveTimeoutMs,
    'grpc.keepalive_permit_without_calls': 1,
    // Channels are replaced now and then: keep nothing global that would leak them.
    'grpc.enable_channelz': 0,
    'grpc.use_local_subchannel_pool': 1,
    'grpc.max_receive_message_length': config.maxMessageBytes,
    'grpc.max_send_message_length': config.maxMessageBytes,
    // Node's 64 KiB default would stall a chunk stream every 64 KiB (see http2-window.ts).
    'grpc-node.flow_control_window': HTTP2_WINDOW_BYTES,
    // Upload frames are reused once written out, so grpc-js must not call their writes back earlier.
    ...POOLED_SEND_CHANNEL_OPTIONS,
  };
}

export interface GrpcDialerOptions {
  config: ConnectionConfig;
  /** Defaults to insecure; the security layer passes TLS credentials. */
  channelCredentials?: grpc.ChannelCredentials;
  /** Metadata sent with every call (e.g. the cluster token). */
  callMetadata?: () => grpc.Metadata;
}

/** Dials one storage server: a fresh StorageService channel wrapped in a StorageClient. */
export function grpcDialer(options: GrpcDialerOptions): Dialer<StorageClient> {
  const credentials = options.channelCredentials ?? grpc.credentials.createInsecure();
  const channelOptions = storageChannelOptions(options.config);
  return (address) => {
    const grpcClient = new StorageServiceClient(address, credentials, channelOptions);
    const client = new StorageClient(grpcClient, {
      callTimeoutMs: options.config.callTimeoutMs,
      metadata: options.callMetadata,
    });
    return { channel: grpcClient.getChannel(), client };
  };
}
