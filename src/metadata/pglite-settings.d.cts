export declare function pgliteStartParams(env: NodeJS.ProcessEnv): string[];
export declare const PGLITE_NODE_FLAGS: string[];
