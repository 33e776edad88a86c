/**
 * The cut thread's entry (cutThread.ts): writes the blocks of head cuts, one at a time, at the
 * lowest CPU priority, so that copying ~100 MB of chunks out of the heads and writing the index
 * of 100k series takes only the CPU time the gateways and shards leave. It reads the heads
 * through its own feeds of the shards' segment news (src/sharedmem/headFeed.ts), asked for from
 * the main thread when it first needs them and again after a shard restarts. Touches the blocks
 * directory it is told to write into and reads shared memory; nothing else.
 */
import { parentPort, workerData, type MessagePort } from 'node:worker_threads';
import { lowerThreadPriority, nameThread, type CpuPriority } from '../util/thread.js';
import { exposeGc } from '../util/exposeGc.js';
import { HeadFeeds, type Subscriber } from '../sharedmem/headFeed.js';
import { writeHeadBlock, type HeadBlockJob } from './headBlock.js';
import type { WrittenBlock } from './writer.js';

/** ToCutThread is what the main thread sends: a block to write, or the feeds the thread asked for. */
export type ToCutThread =
  | { type: 'write'; id: number; job: HeadBlockJob }
  | { type: 'ports'; id: number; ports: MessagePort[]; generations: number[] }
  | { type: 'ports'; id: number; error: string };

/** FromCutThread is what the thread sends: a block written (or none: no data), a failure, or a request for feeds. */
export type FromCutThread =
  | { type: 'done'; id: number; block: WrittenBlock | undefined }
  | { type: 'failed'; id: number; error: string }
  | { type: 'subscribe'; id: number; shards: number[] };

nameThread('sluice-cut');
lowerThreadPriority((workerData as { cpuPriority?: CpuPriority } | undefined)?.cpuPriority ?? 'idle');

const port = parentPort!;
const feeds = new HeadFeeds();
/**
 * A write leaves tens of MB of index and chunk buffers: collected at once, not at V8's next limit;
 * and once its series are gathered (headBlock.ts), before the postings grow.
 */
const gc = exposeGc();
let nextAsk = 0;
const asked = new Map<number, { resolve: (p: { ports: MessagePort[]; generations: number[] }) => void; reject: (e: Error) => void }>();

const subscribe: Subscriber = (shards) => new Promise((resolve, reject) => {
  const id = nextAsk++;
  asked.set(id, { resolve, reject });
  port.postMessage({ type: 'subscribe', id, shards } satisfies FromCutThread);
});

let queue: Promise<void> = Promise.resolve();
port.on('message', (m: ToCutThread) => {
  if (m.type === 'ports') {
    const a = asked.get(m.id);
    asked.delete(m.id);
    if ('error' in m) a?.reject(new Error(m.error));
    else a?.resolve(m);
    return;
  }
  queue = queue.then(async () => {
    let out: FromCutThread;
    try {
      await feeds.ensure(m.job.heads, subscribe);
      out = { type: 'done', id: m.id, block: await writeHeadBlock(m.job, (shard) => feeds.view(shard), gc) };
    } catch (e) {
      out = { type: 'failed', id: m.id, error: e instanceof Error ? e.message : String(e) };
    }
    gc?.();
    port.postMessage(out);
  });
});
