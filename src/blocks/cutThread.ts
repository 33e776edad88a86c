/**
 * CutThread writes the blocks of head cuts in a thread of its own at Linux' SCHED_IDLE
 * (cutWorker.ts) instead of on the main thread at normal priority: a cut of 100k series copies
 * ~100 MB of chunks out of the heads and writes their index, about a second of CPU, which on a
 * 2-core node was taken from the gateways and shards acknowledging writes. The main thread still
 * asks the shards which series to write (their refs); the thread reads them from shared memory
 * through feeds it asks this side to open (subscribe). Started with the node, so its memory is not
 * new during a cut; one block at a time; started again if it dies. Touches only the thread it owns.
 */
import { Worker, type MessagePort } from 'node:worker_threads';
import type { FromCutThread, ToCutThread } from './cutWorker.js';
import type { HeadBlockJob } from './headBlock.js';
import type { WrittenBlock } from './writer.js';
import type { CpuPriority } from '../util/thread.js';
import { PendingCalls } from '../util/pendingCalls.js';

/** CUT_YOUNG_GENERATION_MB caps the cut thread's young generation (see start()). */
const CUT_YOUNG_GENERATION_MB = 8;

/** CutThreadOptions configures a CutThread. */
export interface CutThreadOptions {
  cpuPriority?: CpuPriority;
  /** subscribe opens a feed of each shard's segment news (ShardPool: Shard.subscribe, with its generation). */
  subscribe: (shards: number[]) => { ports: MessagePort[]; generations: number[] };
}

/** CutThread hands block writes to its thread. */
export class CutThread {
  private readonly opts: CutThreadOptions;
  private worker: Worker | undefined;
  private readonly pending = new PendingCalls<WrittenBlock | undefined>();

  constructor(opts: CutThreadOptions) {
    this.opts = opts;
  }

  /** start starts the thread (write() starts it too if needed). */
  start(): void {
    if (this.worker !== undefined) return;
    const w = new Worker(new URL('./cutWorker.js', import.meta.url), {
      workerData: { cpuPriority: this.opts.cpuPriority ?? 'idle' },
      // A block write makes short-lived buffers by the million: a young generation of 8 MB
      // (V8's default grows to 48) keeps the cut's peak memory down for a few more scavenges.
      resourceLimits: { maxYoungGenerationSizeMb: CUT_YOUNG_GENERATION_MB },
    });
    w.unref();
    w.on('message', (m: FromCutThread) => {
      if (m.type === 'subscribe') {
        let reply: ToCutThread;
        try {
          reply = { type: 'ports', id: m.id, ...this.opts.subscribe(m.shards) };
        } catch (e) {
          reply = { type: 'ports', id: m.id, error: e instanceof Error ? e.message : String(e) };
        }
        w.postMessage(reply, 'ports' in reply ? reply.ports : []);
        return;
      }
      if (m.type === 'failed') this.pending.reject(m.id, m.error);
      else this.pending.resolve(m.id, m.block);
    });
    this.pending.watch(w, 'cut thread', () => {
      if (this.worker === w) this.worker = undefined;
    });
    this.worker = w;
  }

  /** write writes one block (see headBlock.ts); undefined when none of its series has data. */
  write(job: HeadBlockJob): Promise<WrittenBlock | undefined> {
    this.start();
    return this.pending.call((id) => this.worker!.postMessage({ type: 'write', id, job } satisfies ToCutThread));
  }

  /** close ends the thread; a write still running fails (its cut is tried again later). */
  async close(): Promise<void> {
    const w = this.worker;
    this.worker = undefined;
    if (w !== undefined) await w.terminate();
  }
}
