/**
 * Runs an S3 command-line client (the AWS CLI, rclone, s3cmd) against a test cluster, cut off
 * from the machine's own set-up: a HOME of its own in a temporary directory and an environment
 * with nothing but PATH, so no ~/.aws, ~/.s3cfg, rclone.conf, AWS_* variable, proxy or CA
 * bundle can change what the test sees.
 */
import { execFile } from 'node:child_process';
import { createHash } from 'node:crypto';
import { mkdtemp, readFile, rm } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';

export interface ClientRun {
  stdout: string;
  stderr: string;
}

export const md5Hex = (data: Buffer): string => createHash('md5').update(data).digest('hex');

export async function md5OfFile(file: string): Promise<string> {
  return md5Hex(await readFile(file));
}

export class CommandLineClient {
  private constructor(
    /** The tool's executable. */
    readonly command: string,
    /** Its HOME and working directory: configuration files and transferred files live here. */
    readonly dir: string,
    private readonly env: Record<string, string>,
  ) {}

  /** A client with an empty HOME of its own; `env` adds variables (e.g. where in dir its config file is). */
  static async create(command: string, env: (dir: string) => Record<string, string> = () => ({})): Promise<CommandLineClient> {
    const dir = await mkdtemp(path.join(os.tmpdir(), 'ringstore-s3-client-'));
    return new CommandLineClient(command, dir, { PATH: process.env.PATH ?? '/usr/bin:/bin', HOME: dir, LANG: 'C.UTF-8', ...env(dir) });
  }

  /** A path inside the client's directory. */
  file(...parts: string[]): string {
    return path.join(this.dir, ...parts);
  }

  /**
   * Runs the tool (asynchronously: the cluster's processes keep writing their logs meanwhile).
   * A non-zero exit rejects with the command line and everything the tool printed.
   */
  run(args: string[], timeoutMs = 180_000): Promise<ClientRun> {
    return new Promise((resolve, reject) => {
      execFile(this.command, args, { cwd: this.dir, env: this.env, timeout: timeoutMs, maxBuffer: 64 * 1024 * 1024 }, (error, stdout, stderr) => {
        if (error) {
          const exit = error.code ?? error.signal;
          reject(new Error(`${this.command} ${args.join(' ')} failed (${exit}):\n--- stdout\n${stdout}\n--- stderr\n${stderr}`));
          return;
        }
        resolve({ stdout, stderr });
      });
    });
  }

  /** Runs the tool expecting it to fail; resolves with what it printed. */
  async runFailing(args: string[]): Promise<ClientRun> {
    try {
      await this.run(args);
    } catch (error) {
      return { stdout: '', stderr: (error as Error).message };
    }
    throw new Error(`${this.command} ${args.join(' ')} succeeded; a failure was expected`);
  }

  async remove(): Promise<void> {
    await rm(this.dir, { recursive: true, force: true });
  }
}
