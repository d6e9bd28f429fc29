import type { FileHandle } from 'node:fs/promises';
import { fsyncDir } from '../util/fsync-dir.cjs';

/** One verified chunk file waiting to become durable under its name. */
export interface PendingChunk {
  /** The temp file, fully written (data and trailer) and still open: synced, then closed here. */
  file: FileHandle;
  /**
   * Gives the synced file its name (link, never replacing one). Resolves with the directories
   * whose entries changed, to be fsynced; rejects when the name is taken by other content.
   */
  name(): Promise<string[]>;
}

/** Most chunks made durable together: bounds how long the first of a batch waits for the last. */
const MAX_BATCH = 256;

/**
 * Group commit: puts that finish while a batch is being made durable wait and go together in
 * the next one, so concurrent puts share their fsyncs. A batch goes in three steps, each for
 * all of its chunks at once: fdatasync every file (issued together, they share the file
 * system's journal commits: on ext4 the first commit writes the others' data too), link every
 * name, then fsync each directory that changed once (a directory several chunks landed in is
 * synced once). A chunk is acknowledged only after all three, so nothing is acknowledged before
 * its bytes and its name are durable; a crash in between leaves either no name (the temp file
 * is cleared on the next start) or a complete, synced chunk under its name.
 * A lone put on an idle server is committed at once: no timer ever waits for company.
 */
export class GroupCommitter {
  private waiting: Array<{ chunk: PendingChunk; resolve: () => void; reject: (error: unknown) => void }> = [];
  private running = false;

  constructor(
    /** Told the size of every batch committed (metrics, tests). */
    private readonly onBatch: (chunks: number) => void = () => {},
  ) {}

  /** Resolves once the chunk's bytes and name are durable; rejects with what failed for it. */
  commit(chunk: PendingChunk): Promise<void> {
    return new Promise((resolve, reject) => {
      this.waiting.push({ chunk, resolve, reject });
      if (!this.running) void this.drain();
    });
  }

  private async drain(): Promise<void> {
    this.running = true;
    while (this.waiting.length > 0) {
      const batch = this.waiting.splice(0, MAX_BATCH);
      this.onBatch(batch.length);
      const outcomes = await commitTogether(batch.map((entry) => entry.chunk));
      outcomes.forEach((outcome, index) => {
        if (outcome.status === 'fulfilled') batch[index].resolve();
        else batch[index].reject(outcome.reason);
      });
    }
    this.running = false;
  }
}

/** The three steps for a batch; one chunk's failure fails that chunk alone. */
async function commitTogether(chunks: PendingChunk[]): Promise<Array<PromiseSettledResult<void>>> {
  const synced = await Promise.allSettled(chunks.map(async ({ file }) => {
    try {
      await file.datasync();
    } finally {
      await file.close().catch(() => undefined);
    }
  }));
  const named = await Promise.allSettled(chunks.map(async (chunk, index) => {
    if (synced[index].status === 'rejected') throw synced[index].reason;
    return chunk.name();
  }));
  const dirs = new Set(named.flatMap((outcome) => (outcome.status === 'fulfilled' ? outcome.value : [])));
  const dirFailures = new Map<string, unknown>();
  await Promise.all([...dirs].map((dir) => fsyncDir(dir).catch((error: unknown) => dirFailures.set(dir, error))));
  return named.map((outcome): PromiseSettledResult<void> => {
    if (outcome.status === 'rejected') return outcome;
    const failedDir = outcome.value.find((dir) => dirFailures.has(dir));
    return failedDir === undefined ? { status: 'fulfilled', value: undefined } : { status: 'rejected', reason: dirFailures.get(failedDir) };
  });
}
