import { scrubEveryServer } from './final-scrub';

/** A gateway's admin API whose scrub runs reach only the servers given for each run. */
function fakeGateway(reachedPerRun: string[][]) {
  const passes = new Map<string, number>();
  let run = 0;
  return {
    runs: () => run,
    async json<T>(path: string, method: 'GET' | 'POST' = 'GET'): Promise<T> {
      if (method === 'POST' && path === '/admin/jobs/scrub') {
        const reached = reachedPerRun[Math.min(run++, reachedPerRun.length - 1)];
        for (const id of reached) passes.set(id, (passes.get(id) ?? 0) + 1);
        const report = { serversScanned: reached.length, chunksVerified: 10 * reached.length, corruptFound: reached.includes('c') ? 1 : 0, missingFound: 0 };
        return { ran: true, report } as T;
      }
      if (method === 'GET' && path === '/admin/repair') {
        return { scrub: { servers: [...passes].map(([server_id, n]) => ({ server_id, passes: n })) } } as T;
      }
      throw new Error(`unexpected ${method} ${path}`);
    },
  };
}

describe('the chaos final checks scrub', () => {
  it('runs again until every storage server had a full pass, and adds up what the runs found', async () => {
    const gateway = fakeGateway([['a', 'b'], ['a', 'b', 'c']]);
    const lines: string[] = [];

    const totals = await scrubEveryServer(gateway, ['a', 'b', 'c'], (m) => lines.push(m));

    expect(gateway.runs()).toBe(2);
    expect(totals).toEqual({ runs: 2, chunksVerified: 50, corruptFound: 1, missingFound: 0 });
    expect(lines).toEqual(['scrub run 1 (2 servers scanned): no full pass yet on c; scrubbing again']);
  });

  it('runs once when every server is reached', async () => {
    const gateway = fakeGateway([['a', 'b', 'c']]);
    expect(await scrubEveryServer(gateway, ['a', 'b', 'c'], () => undefined)).toEqual({ runs: 1, chunksVerified: 30, corruptFound: 1, missingFound: 0 });
  });
});
