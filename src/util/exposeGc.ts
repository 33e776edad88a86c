/**
 * exposeGc hands a thread V8's gc() without the --expose-gc command-line flag. The cut thread
 * collects after each block it writes (tens of MB of index and chunk buffers it will not need
 * again), and the main thread after each head cut.
 *
 * Query threads do not: a forced collection between queries clears what V8 keeps weakly for its
 * optimised code (the maps of per-query objects), so the next query ran deoptimised and its code
 * was compiled again, 50–90 ms of compiler-thread CPU per 200-series panel after every heavy query
 * (docs/benchmarks.md). V8's own memory reducer returns an idle thread's heap instead.
 * Touches only the calling thread's heap.
 */
import { setFlagsFromString } from 'node:v8';
import { runInNewContext } from 'node:vm';

/** exposeGc returns V8's gc() for the calling thread, or undefined where V8 refuses the flag. */
export function exposeGc(): (() => void) | undefined {
  try {
    setFlagsFromString('--expose-gc');
    const gc = runInNewContext('gc') as unknown;
    return typeof gc === 'function' ? (gc as () => void) : undefined;
  } catch {
    return undefined;
  }
}
