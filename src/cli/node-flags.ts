/**
 * V8 flags every ringstore server process runs with: the gateway (`ringstore gateway`, `up`)
 * and the storage servers. They must be given on node's command line (V8 sizes its heap at
 * start-up), so the start script, the Dockerfile's ENTRYPOINT and the CLI's shebang spell them
 * out too; test/cli/node-flags.test.ts keeps those in step with this list.
 *
 * --max-semi-space-size=4: V8's young generation otherwise grows to 16 MiB per semi-space under
 * streaming load, which is 30 MB of resident heap the data path never needs: its garbage is
 * Buffers held outside the heap, and tiny objects. 1 MiB was used first, when fresh 1 MiB
 * Buffers were most of a download's garbage; since frames are decoded into reused memory
 * (src/wire/message-decoder.ts), a small request costs ~20 % less CPU with 4 MiB (short-lived
 * request objects no longer outlive two scavenges into the old generation). A larger young
 * generation is scavenged less often, which once let dead socket-read buffers pile up during
 * a transfer; the scavenges data frames now force (src/wire/scavenge-pacer.ts) took that
 * cost away. Measured 2026-11-29; the latest benchmark figures are in docs/performance.md.
 */
export const NODE_FLAGS: readonly string[] = ['--max-semi-space-size=4'];
