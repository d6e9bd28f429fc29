/**
 * glibc malloc settings for the processes `ringstore up` and the gateway start (the storage
 * servers, the embedded database's process), put in their environment since glibc reads them when
 * a process starts. A setting already in the environment wins.
 *
 * MALLOC_TRIM_THRESHOLD_=131072: free memory over 128 KiB at the top of a malloc heap goes back
 * to the system. By default glibc raises that threshold as large blocks are freed, and the few MB
 * that start-up work (module loading, V8's compilers on their threads) freed stayed resident for
 * the life of an idle process: 0-9 MB in a storage server (26-35 MB of its own memory, varying
 * from start to start, against 26-27 MB with this), ~7 MB in the database's. Measured 2026-12-07
 * with `bench -- storage`: no more CPU per put or per GiB (docs/performance.md, start-up section).
 *
 * MALLOC_ARENA_MAX=1: every thread allocates from the one main heap. A thread's own arena could
 * still keep a few MB behind a live block at its top, out of trimming's reach (a storage server
 * at 72-74 MB instead of 66 now and then). Throughput bench, two A/B pairs: the storage servers'
 * CPU per GiB no higher with it (their threads seldom allocate at once).
 */
export const MALLOC_ENV: Readonly<Record<string, string>> = { MALLOC_TRIM_THRESHOLD_: '131072', MALLOC_ARENA_MAX: '1' };
