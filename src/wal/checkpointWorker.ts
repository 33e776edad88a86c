/**
 * The checkpoint thread's entry (src/wal/checkpointThread.ts): runs WAL checkpoints (checkpoint.ts)
 * one at a time, at the lowest CPU priority, so that rewriting a shard's WAL after a head cut (a
 * few seconds of reading, lz4 and writing per 100k series) takes only the CPU time the gateways
 * and shards leave. Touches the WAL directories it is told to checkpoint, and nothing else.
 */
import { parentPort, workerData } from 'node:worker_threads';
import { checkpoint, keepRefs, type CheckpointStats } from './checkpoint.js';
import { lowerThreadPriority, nameThread, type CpuPriority } from '../util/thread.js';

/** CheckpointJob asks for one checkpoint; `live` are the WAL ids of the series to keep. */
export interface CheckpointJob { id: number; dir: string; upTo: number; mint: number; fsync: boolean; live: Float64Array }

/** CheckpointDone answers a job with its stats or its error message. */
export type CheckpointDone = { id: number; stats: CheckpointStats } | { id: number; error: string };

nameThread('sluice-ckpt');
lowerThreadPriority((workerData as { cpuPriority?: CpuPriority } | undefined)?.cpuPriority ?? 'idle');

const port = parentPort!;
let queue: Promise<void> = Promise.resolve();
port.on('message', (job: CheckpointJob) => {
  queue = queue.then(async () => {
    let done: CheckpointDone;
    try {
      done = { id: job.id, stats: await checkpoint(job.dir, job.upTo, job.mint, { fsync: job.fsync, keepSeries: keepRefs(job.live) }) };
    } catch (e) {
      done = { id: job.id, error: e instanceof Error ? e.message : String(e) };
    }
    port.postMessage(done);
  });
});
