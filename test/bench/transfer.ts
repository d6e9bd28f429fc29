import { execFile } from 'node:child_process';
import { createHash, randomBytes } from 'node:crypto';
import { createReadStream } from 'node:fs';
import { open } from 'node:fs/promises';

export const MiB = 1024 * 1024;

export interface Transfer {
  status: number;
  bytes: number;
  ms: number;
  body: string;
}

/**
 * One HTTP transfer by curl, so the client costs the same (little) for ringstore and the
 * reference. Uploads stream the file (-T), downloads go to /dev/null.
 */
export function curl(args: string[], timeoutMs: number): Promise<Transfer> {
  const started = performance.now();
  const marker = '\n@@curl@@';
  return new Promise((resolve, reject) => {
    execFile('curl', ['-sS', '--max-time', String(Math.ceil(timeoutMs / 1000)), '-w', `${marker}%{http_code} %{size_download} %{size_upload}`, ...args], { maxBuffer: 16 * MiB }, (error, stdout, stderr) => {
      const ms = performance.now() - started;
      if (error) return reject(new Error(`curl ${args.join(' ')} failed: ${stderr || error.message}`));
      const at = stdout.lastIndexOf(marker);
      const [status, down, up] = stdout.slice(at + marker.length).split(' ').map(Number);
      resolve({ status, bytes: Math.max(down, up), ms, body: stdout.slice(0, at) });
    });
  });
}

export function upload(url: string, file: string, method: 'POST' | 'PUT', timeoutMs: number): Promise<Transfer> {
  const args = ['-T', file, '-H', 'Content-Type: application/octet-stream', '-H', 'Expect:'];
  return curl(method === 'POST' ? [...args, '-X', 'POST', url] : [...args, url], timeoutMs);
}

export function downloadToNull(url: string, timeoutMs: number): Promise<Transfer> {
  return curl(['-o', '/dev/null', url], timeoutMs);
}

/** Writes `size` bytes of incompressible data (a random MiB, each copy with its own prefix). */
export async function writeTestFile(file: string, size: number): Promise<void> {
  const block = randomBytes(MiB);
  const handle = await open(file, 'w');
  try {
    for (let offset = 0, n = 0; offset < size; offset += MiB, n++) {
      block.writeUInt32BE(n, 0);
      await handle.write(block, 0, Math.min(MiB, size - offset));
    }
  } finally {
    await handle.close();
  }
}

/** The hex digest of a file, read in 4 MiB pieces (the checksum a transfer must keep). */
export async function hashFile(file: string, algorithm: 'md5' | 'sha256'): Promise<string> {
  const hash = createHash(algorithm);
  for await (const piece of createReadStream(file, { highWaterMark: 4 * MiB })) hash.update(piece as Buffer);
  return hash.digest('hex');
}

export function mbPerSecond(bytes: number, ms: number): number {
  return bytes / 1e6 / (ms / 1000);
}

/** `--size N` (MiB) from the bench args, else the default. */
export function sizeArg(args: string[], defaultMiB: number): number {
  const at = args.indexOf('--size');
  const value = at >= 0 ? Number(args[at + 1]) : defaultMiB;
  if (!(value > 0)) throw new Error(`--size wants a positive number of MiB, got ${args[at + 1]}`);
  return Math.round(value * MiB);
}

/** The transfer, or an error when it was refused or moved another number of bytes. */
export function expectOk(transfer: Transfer, size: number, what: string): Transfer {
  if (transfer.status < 200 || transfer.status >= 300) throw new Error(`${what} answered ${transfer.status}: ${transfer.body.slice(0, 300)}`);
  if (transfer.bytes !== size) throw new Error(`${what} moved ${transfer.bytes} bytes, expected ${size}`);
  return transfer;
}
