import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { RingstoreProcess } from '../helpers/process';

/**
 * A real `ringstore storage` process on a fixed loopback port and data directory, so it can be
 * killed and started again at the same address. Call removeDataDirs() in afterAll.
 */
export class StorageProcess {
  private static dataDirs: string[] = [];
  process: RingstoreProcess | undefined;
  readonly dataDir: string;

  constructor(readonly port: number) {
    this.dataDir = fs.mkdtempSync(path.join(os.tmpdir(), 'ringstore-conn-'));
    StorageProcess.dataDirs.push(this.dataDir);
  }

  get address(): string {
    return `127.0.0.1:${this.port}`;
  }

  /** Starts the server; resolves with the time its `listening` line was read. */
  async start(): Promise<number> {
    const child = new RingstoreProcess(['storage', '--port', String(this.port), '--data', this.dataDir]);
    this.process = child;
    await child.waitForLine((line) => line.event === 'listening', 20_000, `storage server on ${this.port} listening`);
    return Date.now();
  }

  async kill(): Promise<void> {
    await this.process?.kill('SIGKILL');
    this.process = undefined;
  }

  signal(sig: NodeJS.Signals): void {
    this.process?.signal(sig);
  }

  static removeDataDirs(): void {
    for (const dir of StorageProcess.dataDirs.splice(0)) fs.rmSync(dir, { recursive: true, force: true });
  }
}
