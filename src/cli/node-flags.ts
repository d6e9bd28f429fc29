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

/**
 * V8 flags of the storage servers `ringstore up` starts, after NODE_FLAGS (the last one wins):
 * a storage server's young generation at 1 MiB per semi-space. Its garbage is small request
 * objects (frames go to reused memory); each MiB of semi-space is ~2 MB resident at idle, so the
 * six servers hold ~18 MB less than at 2 MiB (~36 MB less than at 4). Measured 2026-12-07 at
 * load 17-29 (docs/performance.md, start-up section), server CPU against 2 MiB: `bench --
 * storage`, three pairs: 1.12-1.55 against 1.34-1.92 ms per 4 KiB put, 2.25-2.77 against
 * 2.47-2.56 s per GiB of 1-8 MiB puts; `small` and `throughput --size 256`, two pairs each:
 * no figure worse in both pairs (storage CPU per GiB downloaded R=1 1.84 / 1.68 s against
 * 1.60 / 2.00, uploaded R=2 6.20 / 5.72 s against 5.88 / 5.96).
 */
export const UP_STORAGE_NODE_FLAGS: readonly string[] = ['--max-semi-space-size=1'];
