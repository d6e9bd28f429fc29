/** Runs a batch of items in one go (one statement, one transaction); one result per item, in order. */
export type RunBatch<In, Out> = (items: In[]) => Promise<Out[]>;

interface Waiting<In, Out> {
  item: In;
  resolve(value: Out): void;
  reject(error: unknown): void;
}

/**
 * Group commit for the metadata store: the first item runs at once, alone (or with the items of
 * its turn of the event loop: gatherTurn); items that arrive
 * while a batch runs wait for it and then run together as the next batch (up to maxBatch). So a
 * lone caller pays no delay, and under load N concurrent callers share one round trip and one
 * transaction instead of queueing N of them on the database. Each caller's promise settles only
 * once its batch has returned: nothing is acknowledged before it is committed.
 *
 * A batch that fails is run again item by item, so one bad item (a constraint) fails only its
 * own caller; a failure of the database itself then fails each of them with its own error.
 */
export class Batcher<In, Out> {
  private queue: Waiting<In, Out>[] = [];
  private running = false;
  private readonly maxBatch: number;
  private readonly gatherTurn: boolean;

  constructor(
    private readonly run: RunBatch<In, Out>,
    {
      maxBatch = 64,
      /**
       * The first batch on an idle batcher starts at the end of the event-loop turn (setImmediate,
       * no timer) with every item of that turn: for commits, whose callers come in waves (a
       * storage server's answer ends several uploads at once). Started at once, the first of a
       * wave went alone and the rest waited for its commit and fsync: a third of the completion
       * batches of the small bench were single ones.
       */
      gatherTurn = false,
    }: { maxBatch?: number; gatherTurn?: boolean } = {},
  ) {
    this.maxBatch = maxBatch;
    this.gatherTurn = gatherTurn;
  }

  submit(item: In): Promise<Out> {
    return new Promise<Out>((resolve, reject) => {
      this.queue.push({ item, resolve, reject });
      if (this.running) return;
      this.running = true;
      if (this.gatherTurn) setImmediate(() => void this.drain());
      else void this.drain();
    });
  }

  private async drain(): Promise<void> {
    while (this.queue.length > 0) {
      const batch = this.queue.splice(0, this.maxBatch);
      await this.runBatch(batch);
    }
    this.running = false;
  }

  private async runBatch(batch: Waiting<In, Out>[]): Promise<void> {
    try {
      const results = await this.run(batch.map((w) => w.item));
      batch.forEach((waiting, index) => waiting.resolve(results[index]));
    } catch (error) {
      if (batch.length === 1) {
        batch[0].reject(error);
        return;
      }
      for (const waiting of batch) await this.runBatch([waiting]);
    }
  }
}
