import { socketIdleTimeoutMs } from '../../src/http/server-limits';

describe('socket idle timeout', () => {
  // With both at 120 s the socket was cut first, so a stalled upload's 408 never reached its
  // client and the access log said "no response".
  test.each([100, 2_500, 120_000, 600_000])('outlasts a BODY_IDLE_TIMEOUT_MS of %i ms, so the 408 can still be sent', (bodyIdleTimeoutMs) => {
    expect(socketIdleTimeoutMs({ bodyIdleTimeoutMs, headersTimeoutMs: 60_000, maxHeaderSize: 16_384 })).toBeGreaterThanOrEqual(bodyIdleTimeoutMs + 5_000);
  });
});
