import { execFileSync } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { mkdtemp, readdir, rm } from 'node:fs/promises';
import net from 'node:net';
import os from 'node:os';
import path from 'node:path';
import { NODE_FLAGS, UP_STORAGE_NODE_FLAGS } from '../../src/cli/node-flags';
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
      const proc = new RingstoreProcess(['up'], env, { ownProcessGroup: true });
      const up = await proc.waitForLine((l) => /ringstore is up/.test(l.message), 60_000, 'ringstore is up');
      // Said only once it is true: every storage server listening and Ready.
      expect(up.level).toBe('info');
      expect(((await (await fetch(`${url}/health`)).json()) as { storage_servers: number }).storage_servers).toBe(SERVERS);
      return proc;
    };

    let up = await start();
    const data = testData(200_000);
    const stored = await uploadRaw(url, data, 'kept.bin');

    // A storage server that dies is restarted by `up`.
    const children = childPids(up.pid);
    expect(children).toHaveLength(SERVERS);
    for (const child of children) expect(commandLine(child)).toEqual(expect.arrayContaining([...NODE_FLAGS, ...UP_STORAGE_NODE_FLAGS]));
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
    // Ctrl-C in the terminal: the whole process group gets SIGINT.
    const before = up.lines.length;
    up.interruptGroup();
    expect((await up.exited()).code).toBe(0);
    const shutdown = up.lines.slice(before);
    expect(shutdown.map((l) => l.message)).toContain('ringstore stopped cleanly');
    // Servers ringstore stops itself are no failure: no reconnect attempts, no warnings.
    expect(shutdown.filter((l) => /reconnect/i.test(l.message) || l.level === 'warn' || l.level === 'error')).toEqual([]);
    for (let i = 0; i < SERVERS; i++) expect(await isListening(basePort + i)).toBe(false);
  }, 180_000);

  /** A port held by another program for the length of fn. */
  async function withPortTaken<T>(port: number, fn: () => Promise<T>): Promise<T> {
    const holder = net.createServer();
    await new Promise<void>((resolve) => holder.listen(port, '127.0.0.1', resolve));
    try {
      return await fn();
    } finally {
      await new Promise((resolve) => holder.close(resolve));
    }
  }

  async function firstRun(env: Record<string, string>): Promise<{ code: number | null; lines: string[]; dataDir: string }> {
    const fresh = await mkdtemp(path.join(os.tmpdir(), 'ringstore-first-run-'));
    try {
      const proc = new RingstoreProcess(['up'], { DATA_DIR: fresh, STORAGE_SERVERS: String(SERVERS), ...env });
      const { code } = await proc.exited();
      const contents = await readdir(fresh);
      return { code, lines: proc.lines.map((l) => l.message), dataDir: contents.join(',') };
    } finally {
      await rm(fresh, { recursive: true, force: true });
    }
  }

  it('says in one line that the gateway port is taken, before building any database', async () => {
    const port = await freePort();
    const basePort = await freePortRange(SERVERS);
    const run = await withPortTaken(port, () => firstRun({ PORT: String(port), STORAGE_BASE_PORT: String(basePort) }));
    expect(run.code).toBe(98);
    expect(run.lines).toEqual([`ringstore: port ${port} on 127.0.0.1 is already in use (by another program, or a ringstore already running): stop it, or choose another port with PORT=N (or --port N)`]);
    expect(run.dataDir).toBe('');
  });

  it('stops with one line naming the port and STORAGE_BASE_PORT when a storage port is taken: no restart loop', async () => {
    const port = await freePort();
    const basePort = await freePortRange(SERVERS);
    const run = await withPortTaken(basePort + 1, () => firstRun({ PORT: String(port), STORAGE_BASE_PORT: String(basePort) }));
    expect(run.code).toBe(98);
    expect(run.lines).toHaveLength(1);
    expect(run.lines[0]).toContain(`port ${basePort + 1} on 127.0.0.1 is already in use`);
    expect(run.lines[0]).toContain(`use ports ${basePort}-${basePort + SERVERS - 1}: stop what holds ${basePort + 1}, or move them with STORAGE_BASE_PORT=N`);
    expect(run.dataDir).toBe('');
  });

  it('a storage server whose port is taken exits 98 with one line, which `up` takes as final', async () => {
    const port = await freePort();
    const dir = await mkdtemp(path.join(os.tmpdir(), 'ringstore-storage-port-'));
    try {
      const storage = await withPortTaken(port, async () => {
        const proc = new RingstoreProcess(['storage', '--port', String(port), '--data', dir]);
        return { code: (await proc.exited()).code, lines: proc.lines.map((l) => l.message) };
      });
      expect(storage.code).toBe(98);
      expect(storage.lines.filter((l) => l.startsWith('ringstore:'))).toEqual([
        `ringstore: port ${port} on 127.0.0.1 is already in use (by another program, or a ringstore already running): stop it, or choose another port with --port N (GRPC_PORT)`,
      ]);
    } finally {
      await rm(dir, { recursive: true, force: true });
    }
  });
});
