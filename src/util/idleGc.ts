/**
 * IdleCollector runs a full garbage collection of the calling thread's heap once the thread has
 * stayed idle for a moment after work that left much heap in use. V8 starts a major GC only when
 * the old generation reaches the limit it grew to, so a thread that once needed 1 GB (a range
 * aggregation over 100k series decodes ~48M samples) keeps that garbage indefinitely: the thread's
 * memory stays high, and the next small task pays GC pauses over that heap. Collecting when idle
 * returns the memory and gives the next task a small heap. Touches only the calling thread's heap.
 */
import { getHeapStatistics, setFlagsFromString } from 'node:v8';
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

/** IdleCollectorOptions configures an IdleCollector. */
export interface IdleCollectorOptions {
  /** aboveBytes: collect only when more heap than this is in use once idle. */
  aboveBytes: number;
  /** delayMs: how long the thread must stay idle before collecting. */
  delayMs: number;
  /** gc collects; default: V8's (exposeGc). */
  gc?: () => void;
  /** heapUsed reads the heap in use; default: V8's used_heap_size. */
  heapUsed?: () => number;
}

/** IdleCollector collects garbage after tasks, once none has run for delayMs. */
export class IdleCollector {
  private readonly opts: IdleCollectorOptions;
  private readonly gc: (() => void) | undefined;
  private readonly heapUsed: () => number;
  private running = 0;
  private timer: ReturnType<typeof setTimeout> | undefined;
  /** collections counts the GCs run. */
  collections = 0;

  constructor(opts: IdleCollectorOptions) {
    this.opts = opts;
    this.gc = opts.gc ?? exposeGc();
    this.heapUsed = opts.heapUsed ?? (() => getHeapStatistics().used_heap_size);
  }

  /** begin tells that a task started (a collection due now waits for the thread to be idle again). */
  begin(): void {
    this.running++;
  }

  /** end tells that a task ended; with none left running, a collection may follow after delayMs. */
  end(): void {
    this.running--;
    if (this.gc === undefined || this.running > 0 || this.timer !== undefined) return;
    if (this.heapUsed() < this.opts.aboveBytes) return;
    this.timer = setTimeout(() => {
      this.timer = undefined;
      if (this.running > 0) return;
      this.collections++;
      this.gc!();
    }, this.opts.delayMs);
    this.timer.unref();
  }
}
