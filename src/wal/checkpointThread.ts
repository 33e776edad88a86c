/**
 * CheckpointThread runs WAL checkpoints (checkpoint.ts) in a thread of their own at Linux'
 * SCHED_IDLE (checkpointWorker.ts), instead of on the main thread at normal priority: after a cut
 * of 100k series the checkpoint reads and rewrites ~100 MB of WAL for about 3 s, and on a 2-core
 * node that CPU was taken from the gateways and shards acknowledging writes. The thread starts
 * with the node (so its memory is not new during a cut), runs one checkpoint at a time, and is
 * started again if it dies. Touches only the thread it owns.
 */
import { Worker } from 'node:worker_threads';
import type { CheckpointStats } from './checkpoint.js';
import type { CheckpointDone, CheckpointJob } from './checkpointWorker.js';
import type { CpuPriority } from '../util/thread.js';
import { PendingCalls } from '../util/pendingCalls.js';

/** CheckpointThread hands checkpoints to its thread. */
export class CheckpointThread {
  private readonly cpuPriority: CpuPriority;
  private worker: Worker | undefined;
  private readonly pending = new PendingCalls<CheckpointStats>();

  constructor(cpuPriority: CpuPriority = 'idle') {
    this.cpuPriority = cpuPriority;
  }

  /** start starts the thread (run() starts it too if needed). */
  start(): void {
    if (this.worker !== undefined) return;
    const w = new Worker(new URL('./checkpointWorker.js', import.meta.url), { workerData: { cpuPriority: this.cpuPriority } });
    w.unref();
    w.on('message', (m: CheckpointDone) => {
      if ('error' in m) this.pending.reject(m.id, m.error);
      else this.pending.resolve(m.id, m.stats);
    });
    this.pending.watch(w, 'checkpoint thread', () => {
      if (this.worker === w) this.worker = undefined;
    });
    this.worker = w;
  }

  /** run checkpoints the WAL in `dir` up to segment `upTo` (see checkpoint.ts), keeping the series `live`. */
  run(dir: string, upTo: number, mint: number, fsync: boolean, live: Float64Array): Promise<CheckpointStats> {
    this.start();
    return this.pending.call((id) => this.worker!.postMessage({ id, dir, upTo, mint, fsync, live } satisfies CheckpointJob));
  }

  /** close ends the thread; checkpoints still running fail (the next start redoes them). */
  async close(): Promise<void> {
    const w = this.worker;
    this.worker = undefined;
    if (w !== undefined) await w.terminate();
  }
}
