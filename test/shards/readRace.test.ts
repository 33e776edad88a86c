/**
 * Reading heads while the shard writes: a reader thread that never returns to its event loop
 * (the main thread copying a large selection) must still read every series consistently while
 * the shard keeps appending, moving chunks and chaining new arena segments. Segment news reach
 * such a reader through the shard's news port, taken synchronously (HeadView.setRefresh); a
 * series held mid-update by a descheduled shard is retried with sleeps, not a fixed spin count.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { Worker } from 'node:worker_threads';
import { ShardPool } from '../../src/shards/pool.js';
import { ShardLink } from '../../src/shards/link.js';
import { Ingest } from '../../src/gateway/ingest.js';
import { XorIterator } from '../../src/chunkenc/xor.js';
import { encodeBody, series } from '../helpers/node.js';
import type { RingWriterInit } from '../helpers/ringWriter.js';

const T0 = 1_700_000_000_000;
const SERIES = 200;
/** Every series must be read holding at least this many samples (about 40 chunks of 120). */
const MIN_SAMPLES = 5000;

function knownSegments(pool: ShardPool): number {
  return pool.shards[0]!.view.arena.segments.filter((s) => s !== undefined).length;
}

test('a reader that never yields reads consistent chunks while the shard appends and chains new arena segments', async () => {
  const pool = new ShardPool({ shards: 1, gateways: 2, ringBytes: 4 << 20, blockDurationMs: 24 * 3_600_000 });
  await pool.ready();
  const sh = pool.shards[0]!;
  try {
    // The series exist before the selection, as they would for a query.
    const ingest = new Ingest([new ShardLink(0, sh.rings[0]!, sh.ctlSab)], { maxDecompressedBytes: 64 << 20 });
    const first = [];
    for (let s = 0; s < SERIES; s++) first.push(series({ __name__: 'race', i: String(s) }, [[T0, s]]));
    assert.equal((await ingest.write('t', encodeBody({ timeseries: first }))).conflict, '');
    const refs = await sh.query<number[]>({ type: 'query', op: 'refs', q: { tenant: 't', matcherSets: [], mint: -Infinity, maxt: Infinity } });
    assert.equal(refs.length, SERIES);

    const stop = new Int32Array(new SharedArrayBuffer(4));
    const progress = new Int32Array(new SharedArrayBuffer(4));
    const init: RingWriterInit = {
      shards: [{ ring: sh.rings[1]!, ctl: sh.ctlSab }], tenant: 't', series: SERIES, samplesPerRequest: 50,
      t0: T0 + 1000, stop: stop.buffer as SharedArrayBuffer, progress: progress.buffer as SharedArrayBuffer,
    };
    const writer = new Worker(new URL('../helpers/ringWriter.js', import.meta.url), { workerData: init });
    const exited = new Promise<number>((res, rej) => { writer.once('exit', res); writer.once('error', rej); });
    while (Atomics.load(progress, 0) < 1) await new Promise((r) => setTimeout(r, 5));

    // From here on this thread never yields: segment news can only arrive through the refresh.
    const before = knownSegments(pool);
    const it = new XorIterator();
    const seen = new Array<number>(SERIES).fill(0);
    const deadline = performance.now() + 60_000;
    let passes = 0;
    // Read until the shard chained a segment and every series spans many chunks (or time is up).
    while (!(knownSegments(pool) > before && Math.min(...seen) > MIN_SAMPLES) && performance.now() < deadline) {
      for (let k = 0; k < refs.length; k++) {
        let n = 0;
        let last = -Infinity;
        for (const c of sh.view.chunks(refs[k]!)) {
          it.reset(c.data, 0, c.data.length);
          while (it.next()) {
            assert.ok(it.t > last, `series ${k}: timestamps must increase (${it.t} after ${last})`);
            if (n === 0) assert.equal(it.t, T0, `series ${k} starts at its first sample`);
            else assert.equal(it.t, T0 + n * 1000, `series ${k}: sample ${n} has its timestamp`);
            last = it.t;
            n++;
          }
        }
        assert.ok(n >= seen[k]!, `series ${k} lost samples between reads: ${seen[k]} then ${n}`);
        seen[k] = n;
      }
      passes++;
    }
    Atomics.store(stop, 0, 1);
    assert.equal(await exited, 0);
    assert.ok(knownSegments(pool) > before, `the shard chained no new arena segment while the reader ran (${passes} passes, ${Atomics.load(progress, 0)} requests)`);
    assert.ok(Math.min(...seen) > MIN_SAMPLES, `the series grew across many chunks while being read (${passes} passes)`);
  } finally {
    await pool.stop();
  }
});
