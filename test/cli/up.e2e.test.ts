import { execFileSync } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { mkdtemp, rm } from 'node:fs/promises';
import net from 'node:net';
import os from 'node:os';
import path from 'node:path';
import { NODE_FLAGS } from '../../src/cli/node-flags';
import { download, testData, uploadRaw } from '../helpers/files';
import { RingstoreProcess } from '../helpers/process';
import { freePort } from '../helpers/ports';
import { waitFor } from '../helpers/wait';

const SERVERS = 3;

/** A base port with SERVERS free ports after it (random high range, checked). */
async function freePortRange(count: number): Promise<number> {
  for (;;) {
    const base = 20_000 + Math.floor(Math.random() * 30_000);
    const free = await Promise.all(
      Array.from({ length: count }, (_, i) =>
        new Promise<boolean>((resolve) => {
          const server = net.createServer().once('error', () => resolve(false));
          server.listen(base + i, '127.0.0.1', () => server.close(() => resolve(true)));
        }),
      ),
    );
    if (free.every(Boolean)) return base;
  }
}

function isListening(port: number): Promise<boolean> {
  return new Promise((resolve) => {
    const socket = net.connect(port, '127.0.0.1');
    socket.once('connect', () => (socket.destroy(), resolve(true)));
    socket.once('error', () => resolve(false));
  });
}

function childPids(pid: number): number[] {
  try {
    return execFileSync('pgrep', ['-P', String(pid), '-f', 'ringstore.cjs storage'], { encoding: 'utf8' }).split('\n').filter(Boolean).map(Number);
  } catch {
    return []; // pgrep exits 1 when there are none
  }
}

function commandLine(pid: number): string[] {
  return readFileSync(`/proc/${pid}/cmdline`, 'utf8').split('\0');
}

describe('ringstore up', () => {
  let dataDir: string;

  beforeAll(async () => {
    dataDir = await mkdtemp(path.join(os.tmpdir(), 'ringstore-up-'));
  });

  afterAll(async () => {
    await RingstoreProcess.killAll();
    await rm(dataDir, { recursive: true, force: true });
  });

  it('brings the whole system up, keeps files across a restart and stops cleanly', async () => {
    const port = await freePort();
    const basePort = await freePortRange(SERVERS);
    const env = { PORT: String(port), STORAGE_BASE_PORT: String(basePort), STORAGE_SERVERS: String(SERVERS), DATA_DIR: dataDir };
    const url = `http://127.0.0.1:${port}`;
    const start = async () => {
      const proc = new RingstoreProcess(['up'], env);
      await proc.waitForLine((l) => /ringstore is up/.test(l.message), 60_000, 'ringstore is up');
      await waitFor(async () => ((await (await fetch(`${url}/health`)).json()) as { storage_servers: number }).storage_servers === SERVERS, {
        timeoutMs: 30_000,
        what: `${SERVERS} ready storage servers`,
      });
      return proc;
    };

    let up = await start();
    const data = testData(200_000);
    const stored = await uploadRaw(url, data, 'kept.bin');

    // A storage server that dies is restarted by `up`.
    const children = childPids(up.pid);
    expect(children).toHaveLength(SERVERS);
    for (const child of children) expect(commandLine(child)).toEqual(expect.arrayContaining([...NODE_FLAGS]));
    process.kill(children[0], 'SIGKILL');
    await waitFor(() => !childPids(up.pid).includes(children[0]) && childPids(up.pid).length === SERVERS, {
      timeoutMs: 20_000,
      what: 'the killed storage server to be restarted',
    });
    await waitFor(async () => ((await (await fetch(`${url}/health`)).json()) as { storage_servers: number }).storage_servers === SERVERS, {
      timeoutMs: 30_000,
      what: 'the restarted storage server to be Ready again',
    });

    up.signal('SIGTERM');
    expect((await up.exited()).code).toBe(0);
    for (let i = 0; i < SERVERS; i++) expect(await isListening(basePort + i)).toBe(false);
    expect(await isListening(port)).toBe(false);

    up = await start();
    const got = await download(url, stored.file_id);
    expect(got.status).toBe(200);
    expect(got.body.equals(data)).toBe(true);
    up.signal('SIGINT');
    expect((await up.exited()).code).toBe(0);
  }, 180_000);
});
