import { MultiBar, Presets, type SingleBar } from 'cli-progress';
import { formatBytes, formatRate } from './format';

/** One file's transfer as the person watching sees it. */
export interface TransferProgress {
  /** Bytes moved so far (absolute, not a delta). */
  update(bytes: number): void;
  /** Finished: the bar is completed and `summary` said (plain lines only). */
  done(summary: string): void;
  /** Gave up: the bar is removed. */
  fail(): void;
}

export interface ProgressView {
  /** `from`: bytes already there (a resumed download). */
  start(name: string, total: number | undefined, from?: number): TransferProgress;
  stop(): void;
}

/**
 * How progress is shown: `bars` on a terminal (one bar per transfer with rate and ETA),
 * `lines` otherwise (a line when a transfer ends, for logs), `silent` for --json.
 */
export type ProgressMode = 'bars' | 'lines' | 'silent';

export function progressMode(json: boolean, stream: NodeJS.WriteStream): ProgressMode {
  if (json) return 'silent';
  return stream.isTTY ? 'bars' : 'lines';
}

export function createProgress(mode: ProgressMode, stream: NodeJS.WritableStream = process.stderr): ProgressView {
  if (mode === 'bars') return barsView(stream);
  const silent = mode === 'silent';
  return {
    start: () => ({
      update: () => undefined,
      done: (summary) => {
        if (!silent) stream.write(`${summary}\n`);
      },
      fail: () => undefined,
    }),
    stop: () => undefined,
  };
}

const BAR_FORMAT = '{bar} {percentage}% | {name} | {done}/{size} | {rate} | ETA {eta_formatted}';

function barsView(stream: NodeJS.WritableStream): ProgressView {
  const multibar = new MultiBar(
    {
      stream: stream as NodeJS.WriteStream,
      format: BAR_FORMAT,
      hideCursor: true,
      clearOnComplete: false,
      stopOnComplete: false,
      etaBuffer: 50,
      fps: 10,
      barsize: 30,
      autopadding: true,
    },
    Presets.shades_classic,
  );
  return {
    start(name, total, from = 0) {
      const startedAt = Date.now();
      const size = total ?? 0;
      const payload = (bytes: number) => ({
        name: name.length > 40 ? `…${name.slice(-39)}` : name,
        done: formatBytes(bytes),
        size: total === undefined ? '?' : formatBytes(size),
        rate: formatRate(bytes - from, (Date.now() - startedAt) / 1000),
      });
      const bar: SingleBar = multibar.create(Math.max(size, 1), from, payload(from));
      return {
        update: (bytes) => bar.update(Math.min(bytes, Math.max(size, 1)), payload(bytes)),
        done: () => {
          bar.update(Math.max(size, 1), payload(size));
          bar.stop();
        },
        fail: () => {
          bar.stop();
          multibar.remove(bar);
        },
      };
    },
    stop: () => multibar.stop(),
  };
}
