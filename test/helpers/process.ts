import { spawn, type ChildProcess } from 'node:child_process';
import path from 'node:path';
import readline from 'node:readline';
import { NODE_FLAGS } from '../../src/cli/node-flags';
import { ringstoreNodeArgs } from '../../src/cli/launch';

export const REPO_ROOT = path.resolve(__dirname, '../..');
/** The build `npm start` runs (`npm run build` makes it; `npm run bench` does first). */
export const DIST = path.join(REPO_ROOT, 'dist');

export interface LogLine { message: string; [key: string]: unknown }

/**
 * A `ringstore` child process with LOG_FORMAT=json, its log lines parsed so tests can wait
 * for events. Every instance is tracked and killed by killAll() (call it in afterAll).
 */
export class RingstoreProcess {
  private static running = new Set<RingstoreProcess>();
  readonly lines: LogLine[] = [];
  readonly child: ChildProcess;
  private readonly exitPromise: Promise<{ code: number | null; signal: NodeJS.Signals | null }>;
  private waiters: Array<{ match: (line: LogLine) => boolean; resolve: (line: LogLine) => void }> = [];

  /**
   * ownProcessGroup: leads a process group of its own, as a command started in a terminal does.
   * build: a build directory (scripts/build.cjs's output, such as DIST) to run with plain node,
   * as users do, rather than the sources through tsx.
   * nodeFlags: more flags for node (e.g. --cpu-prof, which NODE_OPTIONS does not take).
   */
  constructor(args: string[], env: Record<string, string | undefined> = {}, { ownProcessGroup = false, build = '', nodeFlags = [] as string[] } = {}) {
    const nodeArgs = build ? [...NODE_FLAGS, path.join(build, 'src/cli/ringstore.cjs'), ...args] : ringstoreNodeArgs(args);
    this.child = spawn(process.execPath, [...nodeFlags, ...nodeArgs], {
      cwd: REPO_ROOT,
      // S3_PORT 0 unless a test names one: gateways of tests running side by side must not share 9000.
      env: { ...process.env, LOG_FORMAT: 'json', LOG_LEVEL: process.env.TEST_LOG_LEVEL ?? 'info', S3_PORT: '0', ...env },
      stdio: ['ignore', 'pipe', 'pipe'],
      detached: ownProcessGroup,
    });
    RingstoreProcess.running.add(this);
    for (const stream of [this.child.stdout!, this.child.stderr!]) {
      readline.createInterface({ input: stream }).on('line', (text) => this.onLine(text));
    }
    this.exitPromise = new Promise((resolve) => {
      this.child.once('exit', (code, signal) => {
        RingstoreProcess.running.delete(this);
        resolve({ code, signal });
      });
    });
  }

  private onLine(text: string): void {
    let line: LogLine;
    try {
      line = JSON.parse(text) as LogLine;
    } catch {
      line = { message: text };
    }
    this.lines.push(line);
    if (process.env.TEST_ECHO_LOGS) process.stderr.write(`[${this.child.pid}] ${text}\n`);
    this.waiters = this.waiters.filter((waiter) => {
      if (!waiter.match(line)) return true;
      waiter.resolve(line);
      return false;
    });
  }

  /** Resolves with the first log line (past or future) that matches, or rejects at the deadline. */
  waitForLine(match: (line: LogLine) => boolean, timeoutMs = 15_000, what = 'log line'): Promise<LogLine> {
    const seen = this.lines.find(match);
    if (seen) return Promise.resolve(seen);
    return new Promise((resolve, reject) => {
      const timer = setTimeout(() => {
        const tail = this.lines.slice(-10).map((l) => JSON.stringify(l)).join('\n');
        reject(new Error(`timed out after ${timeoutMs} ms waiting for ${what}; last lines:\n${tail}`));
      }, timeoutMs);
      const exitWatch = (code: number | null) => {
        clearTimeout(timer);
        const tail = this.lines.slice(-10).map((l) => JSON.stringify(l)).join('\n');
        reject(new Error(`process exited (${code}) while waiting for ${what}; last lines:\n${tail}`));
      };
      this.child.once('exit', exitWatch);
      this.waiters.push({
        match,
        resolve: (line) => {
          clearTimeout(timer);
          this.child.off('exit', exitWatch);
          resolve(line);
        },
      });
    });
  }

  get pid(): number {
    return this.child.pid!;
  }

  signal(sig: NodeJS.Signals): void {
    this.child.kill(sig);
  }

  /** Ctrl-C in a terminal: SIGINT to every process of the group (needs ownProcessGroup). */
  interruptGroup(): void {
    process.kill(-this.pid, 'SIGINT');
  }

  exited(): Promise<{ code: number | null; signal: NodeJS.Signals | null }> {
    return this.exitPromise;
  }

  async kill(sig: NodeJS.Signals = 'SIGKILL'): Promise<void> {
    if (this.child.exitCode !== null || this.child.signalCode !== null) return;
    if (sig === 'SIGKILL') this.child.kill('SIGCONT');
    this.child.kill(sig);
    await this.exitPromise;
  }

  static async killAll(): Promise<void> {
    await Promise.all([...RingstoreProcess.running].map((p) => p.kill('SIGKILL')));
  }
}
