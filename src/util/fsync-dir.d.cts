/** Types of fsync-dir.cjs (plain CommonJS, shared with the embedded metadata database's child process). */

/** fsync of the directory itself, so a rename, link or unlink in it survives a crash. */
export declare function fsyncDir(dir: string): Promise<void>;
