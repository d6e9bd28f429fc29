import { DEFAULT_CONNECTION_CONFIG, loadConnectionConfig } from '../../src/connection/config';
import { storageChannelOptions } from '../../src/connection/grpc-dialer';
import { FRAME_BUFFER_BYTES } from '../../src/wire/frame-pool';

describe('loadConnectionConfig', () => {
  it('defaults to the documented values', () => {
    expect(loadConnectionConfig({})).toEqual(DEFAULT_CONNECTION_CONFIG);
    expect(DEFAULT_CONNECTION_CONFIG).toMatchObject({
      healthCheckIntervalMs: 10_000,
      connectTimeoutMs: 5_000,
      breakerFailureThreshold: 5,
      breakerCooldownMs: 30_000,
      breakerMaxCooldownMs: 300_000,
    });
  });

  it('reads every variable', () => {
    const config = loadConnectionConfig({
      HEALTH_CHECK_INTERVAL_MS: '500',
      CONNECT_TIMEOUT_MS: '1000',
      PROBE_TIMEOUT_MS: '250',
      BREAKER_FAILURE_THRESHOLD: '3',
      READY_WAIT_MS: '0',
      GRPC_KEEPALIVE_TIME_MS: '2000',
    });
    expect(config).toMatchObject({
      healthCheckIntervalMs: 500,
      connectTimeoutMs: 1_000,
      probeTimeoutMs: 250,
      breakerFailureThreshold: 3,
      readyWaitMs: 0,
      keepaliveTimeMs: 2_000,
    });
  });

  it.each([
    [{ HEALTH_CHECK_INTERVAL_MS: 'soon' }, 'HEALTH_CHECK_INTERVAL_MS must be a whole number, got "soon"'],
    [{ CONNECT_TIMEOUT_MS: '0' }, 'CONNECT_TIMEOUT_MS must be at least 10, got 0'],
    [{ BREAKER_FAILURE_THRESHOLD: '0' }, 'BREAKER_FAILURE_THRESHOLD must be at least 1, got 0'],
    [{ BREAKER_COOLDOWN_MS: '400000' }, 'BREAKER_COOLDOWN_MS (400000) must not exceed BREAKER_MAX_COOLDOWN_MS (300000)'],
    [{ GRPC_MAX_MESSAGE_BYTES: '1024' }, 'GRPC_MAX_MESSAGE_BYTES must be at least 8388608, got 1024'],
  ])('rejects %j with a line naming the variable', (env, message) => {
    expect(() => loadConnectionConfig(env)).toThrow(message);
  });
});

describe('storageChannelOptions', () => {
  it('tunes backoff, keepalive, channelz, subchannel supervisor, message sizes, the flow-control window and the retry buffer', () => {
    expect(storageChannelOptions(DEFAULT_CONNECTION_CONFIG)).toEqual({
      'grpc.initial_reconnect_backoff_ms': 200,
      'grpc.max_reconnect_backoff_ms': 800,
      'grpc.keepalive_time_ms': 10_000,
      'grpc.keepalive_timeout_ms': 5_000,
      'grpc.keepalive_permit_without_calls': 1,
      'grpc.enable_channelz': 0,
      'grpc.use_local_subchannel_pool': 1,
      'grpc.max_receive_message_length': 16 * 1024 * 1024,
      'grpc.max_send_message_length': 16 * 1024 * 1024,
      'grpc-node.flow_control_window': 4 * 1024 * 1024,
      // Below a pooled upload frame, so grpc-js calls a frame's write back only once it is sent.
      'grpc.per_rpc_retry_buffer_size': Math.floor(FRAME_BUFFER_BYTES / 4),
    });
  });
});
