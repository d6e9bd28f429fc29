import { NodeFS } from '@electric-sql/pglite/nodefs';

export declare class DurableNodeFS extends NodeFS {
  constructor(dataDir: string, options?: { onFsync?: (path: string) => void });
}
export declare function assertShape(NODEFS: unknown): void;
