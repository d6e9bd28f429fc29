/**
 * V8 flags every ringstore server process runs with: the gateway (`ringstore gateway`, `up`)
 * and the storage servers. They must be given on node's command line (V8 sizes its heap at
 * start-up), so the start script, the Dockerfile's ENTRYPOINT and the CLI's shebang spell them
 * out too; test/cli/node-flags.test.ts keeps those in step with this list.
 *
 * --max-semi-space-size=1: V8's young generation otherwise grows to 16 MiB per semi-space under
 * streaming load, which is 30 MB of resident heap the data path never needs: its garbage is
 * Buffers held outside the heap, and tiny objects. Measured on 1 GiB downloads through
 * `ringstore up` (three runs each): gateway peak RSS 168 -> 151 MB, throughput 335 -> 385 MB/s
 * (scavenges of a small young generation stay in the CPU cache).
 */
export const NODE_FLAGS: readonly string[] = ['--max-semi-space-size=1'];
