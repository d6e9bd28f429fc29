import * as grpc from '@grpc/grpc-js';
import { CallOutcomes, problemOf, ReplicaCallError, type ReplicaProblem } from '../../src/replicas/call-outcome';
import { clientCallError } from '../../src/rpc/storage-client';
import { busyTrailer } from '../../src/wire/busy-refusal';

const failure = (code: grpc.status) => Object.assign(new Error(`${code} ${grpc.status[code]}`), { code });
/** What a storage server with MAX_CONCURRENT_PUTS puts in progress answers, trailers included. */
const busy = () => clientCallError(grpc.status.RESOURCE_EXHAUSTED, 'too many puts in progress (1); retry later', busyTrailer());

describe('CallOutcomes', () => {
  function recording() {
    const breakerFailures: string[] = [];
    const successes: string[] = [];
    const paused: string[] = [];
    const outcomes = new CallOutcomes(
      { recordSuccess: (id) => successes.push(id), recordFailure: (id) => breakerFailures.push(id) },
      (id) => paused.push(id),
    );
    return { outcomes, breakerFailures, successes, paused };
  }

  it.each<[grpc.status, ReplicaProblem]>([
    [grpc.status.NOT_FOUND, 'missing'],
    [grpc.status.DATA_LOSS, 'corrupt'],
    [grpc.status.RESOURCE_EXHAUSTED, 'full'],
    [grpc.status.INVALID_ARGUMENT, 'refused'],
    [grpc.status.ALREADY_EXISTS, 'refused'],
    [grpc.status.FAILED_PRECONDITION, 'refused'],
    [grpc.status.OUT_OF_RANGE, 'refused'],
    [grpc.status.CANCELLED, 'cancelled'],
  ])('a call answered %s is about one request (%s): the breaker does not count it', (code, problem) => {
    const { outcomes, breakerFailures } = recording();
    for (let i = 0; i < 10; i++) expect(outcomes.failed('a', failure(code)).problem).toBe(problem);
    expect(breakerFailures).toEqual([]);
  });

  it.each([grpc.status.UNAVAILABLE, grpc.status.DEADLINE_EXCEEDED, grpc.status.INTERNAL, grpc.status.UNKNOWN, grpc.status.UNAUTHENTICATED])(
    'a call failing with %s speaks to the server\'s health: the breaker counts it',
    (code) => {
      const { outcomes, breakerFailures } = recording();
      expect(outcomes.failed('a', failure(code)).problem).toBe('unreachable');
      expect(breakerFailures).toEqual(['a']);
    },
  );

  it('counts an error without a gRPC code (a stream cut short) against the server', () => {
    const { outcomes, breakerFailures } = recording();
    const error = outcomes.failed('a', new Error('replica ended the stream at 10 of 20 bytes'));
    expect(error).toBeInstanceOf(ReplicaCallError);
    expect(error.serverId).toBe('a');
    expect(breakerFailures).toEqual(['a']);
  });

  it('pauses a full server for new chunks, without opening its breaker', () => {
    const { outcomes, breakerFailures, paused } = recording();
    outcomes.failed('a', failure(grpc.status.RESOURCE_EXHAUSTED));
    expect(paused).toEqual(['a']);
    expect(breakerFailures).toEqual([]);
  });

  it('reads RESOURCE_EXHAUSTED marked busy as busy: neither paused nor counted by the breaker', () => {
    const { outcomes, breakerFailures, paused } = recording();
    for (let i = 0; i < 10; i++) expect(outcomes.failed('a', busy()).problem).toBe('busy');
    expect(paused).toEqual([]);
    expect(breakerFailures).toEqual([]);
  });

  it('reads a bare RESOURCE_EXHAUSTED (an older server, or a full disk) as full, as before', () => {
    const other = new grpc.Metadata();
    other.set('ringstore-refusal', 'something-else');
    for (const error of [failure(grpc.status.RESOURCE_EXHAUSTED), clientCallError(grpc.status.RESOURCE_EXHAUSTED, 'disk full'), clientCallError(grpc.status.RESOURCE_EXHAUSTED, 'x', other)]) {
      expect(problemOf(error)).toBe('full');
    }
    // The mark means busy only with RESOURCE_EXHAUSTED.
    expect(problemOf(clientCallError(grpc.status.UNAVAILABLE, 'x', busyTrailer()))).toBe('unreachable');
  });

  it('records successes, and keeps a ReplicaCallError it already classified', () => {
    const { outcomes, successes, breakerFailures } = recording();
    outcomes.succeeded('b');
    expect(successes).toEqual(['b']);
    const first = outcomes.failed('b', failure(grpc.status.NOT_FOUND));
    expect(outcomes.failed('b', first)).toBe(first);
    expect(problemOf(first)).toBe('missing');
    expect(breakerFailures).toEqual([]);
  });
});
