import * as grpc from '@grpc/grpc-js';
import { NewerRpcSupport, OLDER_RPC_FOR_MS } from '../../src/rpc/newer-rpc-support';

const READS = { newer: 'ReadChunk', older: 'GetChunk streams' };
const failure = (code: grpc.status) => Object.assign(new Error(`${code} ${grpc.status[code]}`), { code });

function setUp() {
  let now = 1_000_000;
  const logged: string[] = [];
  const log = { info: (line: string) => logged.push(`info ${line}`), warn: (line: string) => logged.push(`warn ${line}`) };
  const support = new NewerRpcSupport('10.0.0.7:7001', log, { now: () => now });
  const calls: string[] = [];
  /** What the server answers to the newer RPC: its result, or the failure. */
  let newerAnswer: () => Promise<string> = () => Promise.reject(failure(grpc.status.UNIMPLEMENTED));
  const call = () =>
    support.call(
      READS,
      () => (calls.push('newer'), newerAnswer()),
      async () => (calls.push('older'), 'by older'),
    );
  return {
    call,
    calls,
    logged,
    advance: (ms: number) => (now += ms),
    answerNewer: (answer: () => Promise<string>) => (newerAnswer = answer),
  };
}

describe('NewerRpcSupport', () => {
  it('serves a server that answers UNIMPLEMENTED through the older RPC for a minute, then asks the newer one again', async () => {
    const { call, calls, logged, advance } = setUp();
    expect(await call()).toBe('by older');
    expect(calls.splice(0)).toEqual(['newer', 'older']);
    advance(OLDER_RPC_FOR_MS - 1);
    expect(await call()).toBe('by older');
    expect(calls.splice(0)).toEqual(['older']);
    advance(1);
    // Still without it: the older RPC again, for another minute, and nothing new to log.
    expect(await call()).toBe('by older');
    expect(await call()).toBe('by older');
    expect(calls.splice(0)).toEqual(['newer', 'older', 'older']);
    expect(logged).toEqual([
      'warn Storage server 10.0.0.7:7001 does not know ReadChunk (a version older than this gateway): using GetChunk streams there instead, and trying ReadChunk again every 60 s',
    ]);
  });

  it('says once that concurrent calls found the RPC missing', async () => {
    const { call, calls, logged } = setUp();
    expect(await Promise.all([call(), call(), call()])).toEqual(['by older', 'by older', 'by older']);
    expect(calls.filter((name) => name === 'newer')).toHaveLength(3);
    expect(logged).toHaveLength(1);
  });

  it('uses the newer RPC again once the server has it, and says so', async () => {
    const { call, calls, logged, advance, answerNewer } = setUp();
    await call();
    answerNewer(async () => 'by newer');
    advance(OLDER_RPC_FOR_MS);
    expect(await call()).toBe('by newer');
    expect(await call()).toBe('by newer');
    expect(calls).toEqual(['newer', 'older', 'newer', 'newer']);
    expect(logged[1]).toBe('info Storage server 10.0.0.7:7001 answers ReadChunk now (upgraded): it is used again in place of GetChunk streams');
  });

  it('passes other failures of the newer RPC on, without the older one', async () => {
    const { call, calls, logged, answerNewer } = setUp();
    answerNewer(() => Promise.reject(failure(grpc.status.NOT_FOUND)));
    await expect(call()).rejects.toMatchObject({ code: grpc.status.NOT_FOUND });
    expect([calls, logged]).toEqual([['newer'], []]);
  });
});
