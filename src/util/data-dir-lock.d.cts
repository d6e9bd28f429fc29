/** Types of data-dir-lock.cjs (plain CommonJS, shared with the embedded metadata database's child process). */
export interface DataDirLockOptions {
  /** What the directory is, for the error message (default "data directory"). */
  what?: string;
  /** Who is meant to hold it, for the error message ("... remove LOCK if that process is not a <owner>"). */
  owner?: string;
  /** How long to wait for a live holder to let go before failing (default 0: fail at once). */
  waitMs?: number;
  /** Builds the error thrown when the directory stays in use (default: a plain Error). */
  createError?: (message: string) => Error;
}

/** Take the LOCK file of `dir` for this process; resolves with the function that releases it. */
export declare function lockDataDir(dir: string, options?: DataDirLockOptions): Promise<() => Promise<void>>;
