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
 * a storage server's young generation at 2 MiB per semi-space. Its garbage is small request
 * objects (frames go to reused memory), and at 4 MiB each of the six held ~3 MB more at idle.
 * Measured 2026-12-07 with `bench -- storage`, three pairs at load 15-17: server CPU per 4 KiB
 * put 2.28 ms (1.68-2.45) against 2.85 ms (1.28-3.10) at 4 MiB, per GiB of 1-8 MiB puts 4.15 s
 * (2.68-4.29) against 4.23 s (2.67-4.94): no cost seen. The throughput bench at load 15-16
 * seemed to show one, so it was taken back once; two quiet A/B pairs (`throughput --size 256`,
 * load 4-5) showed none: storage CPU per GiB uploaded 4.72-5.56 s (R=1) and 10.1-10.6 s (R=2)
 * against 5.48-5.72 s and 12.0-14.0 s at 4 MiB. Idle total of `up`: 589-593 MB against 606-613.
 */
export const UP_STORAGE_NODE_FLAGS: readonly string[] = ['--max-semi-space-size=2'];
