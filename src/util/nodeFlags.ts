/**
 * The node (V8) flags `sluice receive` is meant to run with. V8 reads them once, when the process
 * starts (changing them later with v8.setFlagsFromString crashes the collector), so they are on
 * every command line that starts a receiver: bin/sluice.js' shebang, `npm start`, the Dockerfile's
 * ENTRYPOINT, the test and benchmark launchers. Reads only this process' argv.
 *
 * `--single-threaded-gc`: each thread collects its own heap. By default V8 runs the marking,
 * scavenging and sweeping of every isolate in the process on four shared helper threads at normal
 * priority; the query threads' collections (they allocate the most) then competed with the
 * gateways and shards for the CPU although the query threads themselves run at SCHED_IDLE.
 * Single-threaded, a query thread's GC runs at the query thread's priority. Measured on 2 CPUs
 * (100k series, 4 heavy query loops beside 100k samples/s of remote-write): helper threads' CPU
 * 2.3 s → 1.2 s per 20 s, requests sent late 3/18/44 → 0/4/0, query latency unchanged
 * (docs/benchmarks.md).
 */
export const NODE_FLAGS: readonly string[] = ['--single-threaded-gc'];

/** gcMode says whether this process' garbage collection runs single-threaded (NODE_FLAGS). */
export function gcMode(): 'single-threaded' | 'parallel' {
  return process.execArgv.includes('--single-threaded-gc') ? 'single-threaded' : 'parallel';
}
