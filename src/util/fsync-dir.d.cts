/** Types of fsync-dir.cjs (plain CommonJS, shared with the embedded metadata database's child process). */

/** fsync of the directory itself, so a rename, link or unlink in it survives a crash. */
export declare function fsyncDir(dir: string): Promise<void>;

/** fsync of everything under `dir` and of `dir` itself, so a tree written without fsyncs is on disk. */
export declare function fsyncTree(dir: string): Promise<void>;
