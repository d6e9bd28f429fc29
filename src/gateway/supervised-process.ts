import { spawn, type ChildProcess } from 'node:child_process';
import readline from 'node:readline';
import type { Logger } from '../util/logger';

const RESTART_DELAY_MIN_MS = 500;
const RESTART_DELAY_MAX_MS = 30_000;
/** A child that stayed up this long is healthy again: its restart delay starts over. */
const STABLE_AFTER_MS = 60_000;

/**
 * A child process that is restarted (with growing delay) whenever it exits unexpectedly, its
 * output relayed line by line under its name. An exit code listed as fatal (a port taken) is
 * not retried: restarting cannot help, so `onFatal` is called instead.
 *
 * The child runs in its own process group, so a Ctrl-C in the terminal reaches only the
 * parent, which stops its children in the order it chooses; the parent kills them if it exits
 * any other way.
 */
export class SupervisedProcess {
  private child: ChildProcess | null = null;
  private stopping = false;
  private restartDelayMs = RESTART_DELAY_MIN_MS;
  private restartTimer: NodeJS.Timeout | null = null;
  restarts = 0;

  constructor(
    readonly name: string,
    private readonly command: string,
    private readonly args: string[],
    private readonly env: NodeJS.ProcessEnv,
    private readonly log: Logger,
    private readonly fatal: { exitCodes: number[]; onFatal(code: number): void } = { exitCodes: [], onFatal: () => undefined },
  ) {}

  start(): void {
    const startedAt = Date.now();
    const child = spawn(this.command, this.args, { env: this.env, stdio: ['ignore', 'pipe', 'pipe'], detached: true });
    this.child = child;
    process.once('exit', this.killOnExit);
    const relay = (line: string) => process.stdout.write(this.env.LOG_FORMAT === 'json' ? `${line}\n` : `[${this.name}] ${line}\n`);
    readline.createInterface({ input: child.stdout! }).on('line', relay);
    readline.createInterface({ input: child.stderr! }).on('line', relay);
    child.once('exit', (code, signal) => {
      this.child = null;
      process.off('exit', this.killOnExit);
      if (this.stopping) return;
      if (code !== null && this.fatal.exitCodes.includes(code)) {
        this.stopping = true;
        this.fatal.onFatal(code);
        return;
      }
      if (Date.now() - startedAt > STABLE_AFTER_MS) this.restartDelayMs = RESTART_DELAY_MIN_MS;
      this.log.warn(`${this.name} exited (${signal ?? `code ${code}`}); restarting in ${this.restartDelayMs} ms`);
      this.restartTimer = setTimeout(() => {
        this.restartTimer = null;
        this.restarts++;
        this.start();
      }, this.restartDelayMs);
      this.restartDelayMs = Math.min(this.restartDelayMs * 2, RESTART_DELAY_MAX_MS);
    });
  }

  /** The parent is exiting without having stopped its child: take it along. */
  private readonly killOnExit = (): void => {
    this.child?.kill('SIGKILL');
  };

  get pid(): number | undefined {
    return this.child?.pid;
  }

  /** A restart is scheduled (the child exited and will be started again). */
  get restartPending(): boolean {
    return this.restartTimer !== null;
  }

  /** SIGTERM, then SIGKILL after graceMs; resolves once the child is gone. */
  async stop(graceMs = 15_000): Promise<void> {
    this.stopping = true;
    if (this.restartTimer) clearTimeout(this.restartTimer);
    const child = this.child;
    if (!child || child.exitCode !== null || child.signalCode !== null) return;
    const exited = new Promise<void>((resolve) => child.once('exit', () => resolve()));
    child.kill('SIGTERM');
    const killer = setTimeout(() => child.kill('SIGKILL'), graceMs);
    await exited;
    clearTimeout(killer);
  }
}
