/**
 * The build users run (`npm ci` makes it through the prepare script): scripts/build.cjs
 * compiles the sources, and `ringstore up` then runs from it with plain node, every process of
 * it, finding the files the compiled code reads (the .cjs modules, proto/, the pages). Built
 * here into a directory of its own, from the current sources, so it is never a stale dist/.
 */
import { execFileSync } from 'node:child_process';
import { mkdir, mkdtemp, rm } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { cmdline, processTree } from '../bench/proc-stats';
import { freePortRun } from '../bench/bench-cluster';
import { REPO_ROOT, RingstoreProcess } from '../helpers/process';
import { freePort } from '../helpers/ports';

const SERVERS = 2;

describe('the build', () => {
  // Inside the repository, so the compiled code finds node_modules as dist/ does.
  let build: string;
  let dataDir: string;

  beforeAll(async () => {
    await mkdir(path.join(REPO_ROOT, '.tmp'), { recursive: true });
    build = await mkdtemp(path.join(REPO_ROOT, '.tmp', 'build-'));
    dataDir = await mkdtemp(path.join(os.tmpdir(), 'ringstore-build-'));
    execFileSync(process.execPath, [path.join(REPO_ROOT, 'scripts/build.cjs'), build], { stdio: 'inherit' });
  }, 180_000);

  afterAll(async () => {
    await RingstoreProcess.killAll();
    await rm(build, { recursive: true, force: true });
    await rm(dataDir, { recursive: true, force: true });
  });

  it('runs `ringstore up` with plain node: no TypeScript loader in any process, every asset found', async () => {
    const port = await freePort();
    const url = `http://127.0.0.1:${port}`;
    const up = new RingstoreProcess(['up'], {
      PORT: String(port), DATA_DIR: dataDir, STORAGE_SERVERS: String(SERVERS), STORAGE_BASE_PORT: String(await freePortRun(SERVERS)),
    }, { build });
    await up.waitForLine((line) => /ringstore is up/.test(line.message), 60_000, 'ringstore is up');
    const health = (await (await fetch(`${url}/health`)).json()) as { status: string; storage_servers: number };
    expect(health).toMatchObject({ status: 'healthy', storage_servers: SERVERS });

    const commands = processTree(up.pid).map((pid) => cmdline(pid).split('\0').filter(Boolean));
    // The gateway, PGlite's process and each storage server, all from the build.
    expect(commands).toHaveLength(2 + SERVERS);
    for (const command of commands) {
      expect(command.join(' ')).not.toMatch(/tsx|esbuild|\.ts\b/);
      expect(command.some((arg) => arg.startsWith(build))).toBe(true);
    }
    // Static pages are read from beside the compiled modules.
    const page = await fetch(`${url}/files-page`);
    expect(page.status).toBe(200);
    expect(await page.text()).toContain('<html');

    up.signal('SIGTERM');
    expect((await up.exited()).code).toBe(0);
  }, 120_000);

  it('tells its version from the manifest it was built with', () => {
    const out = execFileSync(process.execPath, [path.join(build, 'src/cli/ringstore.cjs'), '--version'], { encoding: 'utf8' });
    expect(out.trim()).toMatch(/^ringstore \d+\.\d+\.\d+/);
  });
});
