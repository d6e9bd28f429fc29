import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { createReadStream, createWriteStream, existsSync } from 'node:fs';
import { mkdir, writeFile } from 'node:fs/promises';
import http from 'node:http';
import path from 'node:path';
import { pipeline } from 'node:stream/promises';
import { freePort } from '../helpers/ports';
import { childPids } from './bench-cluster';
import { waitFor } from '../helpers/wait';

export interface ReferenceServer {
  /** 'nginx' or 'node-static' (the fallback when nginx is not installed). */
  kind: string;
  url: string;
  /** Where GET /name reads and PUT /name writes. */
  root: string;
  /** Its processes (for CPU accounting). */
  pids(): number[];
  stop(): Promise<void>;
}

const NGINX = '/usr/sbin/nginx';

/**
 * The reference every throughput figure is divided by: nginx serving files from disk and
 * accepting PUT (dav_methods), one worker like ringstore's one gateway process. Without nginx,
 * a minimal Node static server (fs streams) stands in.
 */
export async function startReference(workDir: string): Promise<ReferenceServer> {
  const root = path.join(workDir, 'www');
  await mkdir(root, { recursive: true });
  const port = await freePort();
  const server = existsSync(NGINX) ? await startNginx(workDir, root, port) : await startNodeStatic(root, port);
  await waitFor(async () => (await fetch(`${server.url}/`, { method: 'HEAD' }).catch(() => null)) !== null, {
    timeoutMs: 10_000,
    what: `${server.kind} listening`,
  });
  return server;
}

async function startNginx(workDir: string, root: string, port: number): Promise<ReferenceServer> {
  const conf = path.join(workDir, 'nginx.conf');
  await writeFile(conf, `
user root;
daemon off;
worker_processes 1;
pid ${workDir}/nginx.pid;
error_log ${workDir}/nginx-error.log warn;
events { worker_connections 1024; }
http {
  access_log off;
  sendfile on;
  keepalive_requests 100000;
  client_body_temp_path ${workDir}/client-body;
  client_max_body_size 0;
  server {
    listen 127.0.0.1:${port};
    root ${root};
    location / { dav_methods PUT; create_full_put_path on; }
  }
}
`);
  const check = spawnSync(NGINX, ['-t', '-c', conf], { encoding: 'utf8' });
  if (check.status !== 0) throw new Error(`nginx rejected its config: ${check.stderr}`);
  const child = spawn(NGINX, ['-c', conf], { stdio: 'ignore' });
  return { kind: 'nginx', url: `http://127.0.0.1:${port}`, root, pids: () => [child.pid!, ...childPids(child.pid!)], stop: () => stopChild(child) };
}

async function startNodeStatic(root: string, port: number): Promise<ReferenceServer> {
  const server = http.createServer((req, res) => {
    const file = path.join(root, path.basename(decodeURIComponent(req.url ?? '/')));
    const done = (status: number) => res.writeHead(status).end();
    if (req.method === 'PUT') pipeline(req, createWriteStream(file)).then(() => done(201), () => done(500));
    else if (req.method === 'GET') {
      const stream = createReadStream(file);
      stream.once('error', () => done(404));
      stream.once('open', () => stream.pipe(res));
    } else done(200);
  });
  await new Promise<void>((resolve) => server.listen(port, '127.0.0.1', resolve));
  return {
    kind: 'node-static',
    url: `http://127.0.0.1:${port}`,
    root,
    pids: () => [process.pid],
    stop: () => new Promise<void>((resolve) => { server.closeAllConnections(); server.close(() => resolve()); }),
  };
}

function stopChild(child: ChildProcess): Promise<void> {
  if (child.exitCode !== null || child.signalCode !== null) return Promise.resolve();
  const exited = new Promise<void>((resolve) => child.once('exit', () => resolve()));
  child.kill('SIGTERM'); // nginx: fast shutdown, workers included
  const force = setTimeout(() => child.kill('SIGKILL'), 5_000);
  return exited.finally(() => clearTimeout(force));
}
