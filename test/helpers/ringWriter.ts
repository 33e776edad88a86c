/**
 * Test helper, a worker-thread entry: plays one gateway of a ShardPool in its own thread, writing
 * fresh samples (random values, so chunks grow fast) to `series` series until `stop[0]` is set.
 * `progress[0]` counts acknowledged requests, so a test thread that never yields can watch it.
 */
import { isMainThread, workerData } from 'node:worker_threads';
import { ShardLink } from '../../src/shards/link.js';
import { Ingest } from '../../src/gateway/ingest.js';
import type { RingBuffers } from '../../src/sharedmem/ring.js';
import { encodeBody, series } from './node.js';
import { mulberry32 } from './prng.js';

/** RingWriterInit is the worker's workerData. */
export interface RingWriterInit {
  /** Per shard: the ring of the gateway this thread plays, and the shard's control block. */
  shards: { ring: RingBuffers; ctl: SharedArrayBuffer }[];
  tenant: string;
  series: number;
  samplesPerRequest: number;
  t0: number;
  stop: SharedArrayBuffer;
  progress: SharedArrayBuffer;
}

// The test runner also loads every file under test/ on its own: outside a worker, do nothing.
if (!isMainThread) await run(workerData as RingWriterInit);

async function run(init: RingWriterInit): Promise<void> {
  const stop = new Int32Array(init.stop);
  const progress = new Int32Array(init.progress);
  const ingest = new Ingest(init.shards.map((s, i) => new ShardLink(i, s.ring, s.ctl)), { maxDecompressedBytes: 64 << 20 });
  const rnd = mulberry32(7);

  // Acks are awaited with Atomics.waitAsync, which does not keep a thread's event loop alive.
  const keepAlive = setInterval(() => {}, 1000);
  let t = init.t0;
  while (Atomics.load(stop, 0) === 0) {
    const ts = [];
    for (let s = 0; s < init.series; s++) {
      const samples: [number, number][] = [];
      for (let k = 0; k < init.samplesPerRequest; k++) samples.push([t + k * 1000, rnd() * 1e6]);
      ts.push(series({ __name__: 'race', i: String(s) }, samples));
    }
    t += init.samplesPerRequest * 1000;
    const out = await ingest.write(init.tenant, encodeBody({ timeseries: ts }));
    if (out.conflict !== '') throw new Error(`writer refused: ${out.conflict}`);
    Atomics.add(progress, 0, 1);
  }
  clearInterval(keepAlive);
}
