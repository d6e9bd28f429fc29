import * as grpc from '@grpc/grpc-js';
import type { GetChunkRequest, SmallChunkRead } from '../wire/storage-service';
import type { MakeCallError } from './small-chunk-batcher';

/**
 * Calls to one server that may be outstanding before further reads wait for one of them to end
 * (and then go out together). One, as a group commit: `bench -- small` with 32 clients over six
 * servers saw batches of one in two out of three calls with two.
 */
const MAX_CALLS_IN_FLIGHT = 1;
/** A waiting batch goes out at once when it reaches this many reads (the server takes up to 256). */
const MAX_BATCH_READS = 64;

/** One ReadSmallChunks call: each answer as it comes, then the call's end (error undefined) or failure. */
export interface SmallReadsCall {
  onAnswer(answer: SmallChunkRead): void;
  onEnd(error?: unknown): void;
}

/** Starts one ReadSmallChunks call with the given reads and absolute deadline (ms since the epoch). */
export type SendSmallReads = (reads: GetChunkRequest[], deadline: number, call: SmallReadsCall) => void;

interface QueuedRead {
  request: GetChunkRequest;
  resolve(data: Buffer): void;
  reject(error: unknown): void;
}

/** Reads that wait for a free call, all with the same relative deadline; the first one's absolute deadline is the batch's. */
interface WaitingBatch {
  reads: QueuedRead[];
  deadline: number;
}

/**
 * The small reads to one storage server, sent as ReadSmallChunks calls the way a group commit
 * shares fsyncs: the reads asked in one turn of the event loop go out together before it ends
 * (process.nextTick, no timer) while fewer than MAX_CALLS_IN_FLIGHT calls are outstanding; the
 * ones asked while they all are wait for one to end and then go together, so a lone read costs
 * no latency. Each read gets its own answer as soon as the server sends it; a call that fails
 * as a whole fails every read in it not yet answered. Reads that wait are batched by their
 * deadline (the stall limit or the idle timeout), so the call's deadline is theirs: counted
 * from when the first of them was asked, waiting included. What a call of one read is made
 * of is the sender's choice (StorageClient sends it as a ReadChunk).
 */
export class SmallReadBatcher {
  private inFlight = 0;
  private scheduled = false;
  /** Waiting reads by relative deadline (ms), in order of arrival. */
  private readonly waiting = new Map<number, WaitingBatch>();

  constructor(
    private readonly send: SendSmallReads,
    private readonly callError: MakeCallError,
  ) {}

  read(request: GetChunkRequest, deadlineMs: number): Promise<Buffer> {
    return new Promise((resolve, reject) => {
      let batch = this.waiting.get(deadlineMs);
      if (!batch) {
        batch = { reads: [], deadline: Date.now() + deadlineMs };
        this.waiting.set(deadlineMs, batch);
      }
      batch.reads.push({ request, resolve, reject });
      if (batch.reads.length >= MAX_BATCH_READS) {
        this.waiting.delete(deadlineMs);
        this.start(batch.reads, batch.deadline);
      } else if (!this.scheduled && this.inFlight < MAX_CALLS_IN_FLIGHT) {
        this.scheduled = true;
        process.nextTick(() => {
          this.scheduled = false;
          this.startWaiting();
        });
      }
    });
  }

  private start(reads: QueuedRead[], deadline: number): void {
    this.inFlight += 1;
    const answered = new Array<boolean>(reads.length).fill(false);
    let ended = false;
    this.send(reads.map((read) => read.request), deadline, {
      onAnswer: (answer) => {
        const read = reads[answer.index];
        if (!read || answered[answer.index]) return;
        answered[answer.index] = true;
        if (answer.code === grpc.status.OK) read.resolve(answer.data);
        else read.reject(this.callError(answer.code, answer.error_message));
      },
      onEnd: (error) => {
        if (ended) return;
        ended = true;
        if (answered.includes(false)) {
          const failure = error ?? this.callError(grpc.status.INTERNAL, 'the storage server ended a ReadSmallChunks call without answering every read');
          reads.forEach((read, index) => answered[index] || read.reject(failure));
        }
        this.inFlight -= 1;
        this.startWaiting();
      },
    });
  }

  /** Sends each batch that waited, while calls are free (one for each deadline, usually one). */
  private startWaiting(): void {
    for (const [deadlineMs, batch] of this.waiting) {
      if (this.inFlight >= MAX_CALLS_IN_FLIGHT) return;
      this.waiting.delete(deadlineMs);
      this.start(batch.reads, batch.deadline);
    }
  }
}
