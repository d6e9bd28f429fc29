/** A run of a file's bytes: `start` to `end`, both included (as HTTP Range counts them). */
export interface ByteRange {
  start: number;
  end: number;
}
