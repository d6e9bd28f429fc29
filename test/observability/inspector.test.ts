import { spawn, type ChildProcess } from 'node:child_process';
import path from 'node:path';
import { WebSocketServer } from 'ws';
import { createActor, createMachine } from 'xstate';
import { createLogger, type Logger } from '../../src/util/logger';
import { createInspector, guardInspect } from '../../src/observability/inspector';
import { freePort } from '../helpers/ports';
import { waitFor } from '../helpers/wait';

const ROOT = path.join(__dirname, '..', '..');
const machine = createMachine({ id: 'probe', initial: 'waiting', states: { waiting: { on: { GO: 'done' } }, done: {} } });

/** The inspect child process, its output lines and its exit. */
function startChild(url: string) {
  const child = spawn(process.execPath, ['--require', 'tsx/cjs', 'test/observability/fixtures/inspect-child.ts', url], {
    cwd: ROOT,
    env: { ...process.env, LOG_FORMAT: 'json' },
    stdio: ['pipe', 'pipe', 'pipe'],
  });
  const lines: string[] = [];
  let exitCode: number | null | undefined;
  child.stdout!.setEncoding('utf8').on('data', (text: string) => lines.push(...text.split('\n').filter(Boolean)));
  child.stderr!.setEncoding('utf8').on('data', (text: string) => lines.push(...text.split('\n').filter(Boolean)));
  child.on('exit', (code) => { exitCode = code; });
  return { child, lines, exited: () => exitCode !== undefined, exitCode: () => exitCode };
}

describe('XState inspector', () => {
  const children: ChildProcess[] = [];
  afterEach(() => {
    for (const child of children.splice(0)) if (child.exitCode === null) child.kill('SIGKILL');
  });

  it('is off without a URL and rejects a URL that is not a WebSocket', () => {
    const log = createLogger('inspector-test');
    expect(createInspector(undefined, log)).toBeUndefined();
    expect(() => createInspector('http://localhost:8080', log)).toThrow('RINGSTORE_INSPECT must be a ws:// or wss:// URL');
  });

  it('guardInspect keeps a throwing observer away from the actor and logs once', () => {
    const warnings: string[] = [];
    const log = { warn: (message: string) => void warnings.push(message) } as unknown as Logger;
    const inspect = guardInspect(() => { throw new Error('dashboard bug'); }, log);
    const actor = createActor(machine, { inspect }).start();
    actor.send({ type: 'GO' });
    expect(actor.getSnapshot().value).toBe('done');
    expect(actor.getSnapshot().status).toBe('active');
    expect(warnings).toHaveLength(1);
    expect(warnings[0]).toContain('dashboard bug');
    actor.stop();
  });

  it('sends actor events to a WebSocket inspector and lets the process exit after stop', async () => {
    const server = new WebSocketServer({ host: '127.0.0.1', port: 0 });
    await new Promise((resolve) => server.once('listening', resolve));
    const received: Array<{ type: string; snapshot?: { value?: unknown } }> = [];
    server.on('connection', (socket) => socket.on('message', (data) => received.push(JSON.parse(String(data)))));
    try {
      const port = (server.address() as { port: number }).port;
      const run = startChild(`ws://127.0.0.1:${port}`);
      children.push(run.child);
      await waitFor(() => received.some((e) => e.type === '@xstate.snapshot' && e.snapshot?.value === 'done'),
        { timeoutMs: 15_000, what: 'the inspector to receive the snapshot in state done' });
      expect(received.some((e) => e.type === '@xstate.actor')).toBe(true);
      run.child.stdin!.end();
      await waitFor(() => run.exited(), { timeoutMs: 10_000, what: 'the child to exit by itself after stop()' });
      expect(run.exitCode()).toBe(0);
    } finally {
      for (const client of server.clients) client.terminate();
      await new Promise((resolve) => server.close(resolve));
    }
  });

  it('an unreachable inspector harms neither the actor nor shutdown', async () => {
    const run = startChild(`ws://127.0.0.1:${await freePort()}`);
    children.push(run.child);
    await waitFor(() => run.lines.some((line) => line.includes('is unreachable')), { timeoutMs: 15_000, what: 'the unreachable warning' });
    expect(run.lines.some((line) => line.includes('"state":"done"'))).toBe(true);
    run.child.stdin!.end();
    await waitFor(() => run.exited(), { timeoutMs: 10_000, what: 'the child to exit by itself after stop()' });
    expect(run.exitCode()).toBe(0);
  });
});
