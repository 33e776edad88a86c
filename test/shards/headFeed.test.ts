/**
 * Late subscribers of a shard's segment news (src/sharedmem/headFeed.ts): a feed opened on a shard
 * that already holds data is sent every live segment and then caughtUp, reads every series as the
 * main thread's view does, keeps up with segments the shard adds afterwards, and a feed that is
 * closed leaves the shard serving.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { ShardPool } from '../../src/shards/pool.js';
import { ShardLink } from '../../src/shards/link.js';
import { Ingest } from '../../src/gateway/ingest.js';
import { HeadFeed } from '../../src/sharedmem/headFeed.js';
import { XorIterator } from '../../src/chunkenc/xor.js';
import { encodeBody, series } from '../helpers/node.js';
import type { HeadView } from '../../src/sharedmem/headView.js';

const T0 = 1_700_000_000_000;

/** readAll renders every series of `refs` (labels and samples) as read through `view`. */
function readAll(view: HeadView, refs: Int32Array): string[] {
  const it = new XorIterator();
  return Array.from(refs, (ref) => {
    const samples: number[] = [];
    for (const c of view.chunks(ref)) {
      it.reset(c.data, 0, c.data.length);
      while (it.next()) samples.push(it.t - T0, it.v);
    }
    return `${JSON.stringify(view.labels(ref))} ${samples.join(',')}`;
  });
}

test('a feed opened on a running shard catches up, reads as the owner thread does, and follows new segments', async () => {
  const pool = new ShardPool({ shards: 1, gateways: 1, ringBytes: 8 << 20, blockDurationMs: 24 * 3_600_000 });
  await pool.ready();
  const sh = pool.shards[0]!;
  try {
    const ingest = new Ingest([new ShardLink(0, sh.rings[0]!, sh.ctlSab)], { maxDecompressedBytes: 64 << 20 });
    const load = async (from: number, to: number, samples: number): Promise<void> => {
      for (let k0 = 0; k0 < samples; k0 += 100) {
        for (let s0 = from; s0 < to; s0 += 2000) {
          const ts = [];
          for (let s = s0; s < Math.min(to, s0 + 2000); s++) {
            ts.push(series({ __name__: 'feed', i: String(s), pad: 'x'.repeat(40) }, Array.from({ length: 100 }, (_, k) => [T0 + (k0 + k) * 15_000, s * 1000 + k0 + k + 0.25])));
          }
          assert.equal((await ingest.write('t', encodeBody({ timeseries: ts }))).conflict, '');
        }
      }
    };
    const refsOf = (): Promise<Int32Array> => sh.query<Int32Array>({ type: 'query', op: 'refs', q: { tenant: 't', matcherSets: [], mint: -Infinity, maxt: Infinity } });

    // Enough series and samples that the head spans several series and arena segments.
    await load(0, 10_000, 200);
    const mainSegs = sh.view.arena.segments.filter((s) => s !== undefined).length;
    assert.ok(mainSegs >= 2, `the head holds ${mainSegs} arena segments`);

    const feed = new HeadFeed(sh.subscribe(), false);
    assert.equal(feed.isCaughtUp, false);
    await feed.caughtUp();
    assert.equal(feed.view.arena.segments.filter((s) => s !== undefined).length, mainSegs);
    const refs = await refsOf();
    assert.equal(refs.length, 10_000);
    assert.deepEqual(readAll(feed.view, refs), readAll(sh.view, refs));

    // New series and samples after the feed caught up: new segments reach it as news.
    let top = 10_000;
    const segs = (): number => sh.view.arena.segments.filter((s) => s !== undefined).length;
    while (segs() === mainSegs && top < 100_000) {
      await load(top, top + 10_000, 200);
      top += 10_000;
    }
    assert.ok(segs() > mainSegs, 'the shard chained new arena segments');
    const more = await refsOf();
    assert.equal(more.length, top);
    assert.deepEqual(readAll(feed.view, more), readAll(sh.view, more));

    // A closed feed: the shard drops its port and goes on serving.
    feed.close();
    await new Promise((r) => setTimeout(r, 50));
    await load(top, top + 100, 100);
    assert.equal((await refsOf()).length, top + 100);
    assert.equal(sh.failed, undefined);
  } finally {
    await pool.stop();
  }
});

test('a feed of a shard whose thread died is closed', async () => {
  const pool = new ShardPool({ shards: 1, gateways: 1, ringBytes: 1 << 20, blockDurationMs: 24 * 3_600_000, restartMinMs: 60_000 });
  await pool.ready();
  const sh = pool.shards[0]!;
  try {
    const feed = new HeadFeed(sh.subscribe(), false);
    await feed.caughtUp();
    assert.equal(feed.closed, false);
    const gen = sh.generation;
    await sh.worker.terminate();
    const deadline = Date.now() + 5000;
    while (!feed.closed && Date.now() < deadline) await new Promise((r) => setTimeout(r, 10));
    assert.equal(feed.closed, true, 'the feed saw its shard end');
    assert.equal(sh.generation, gen, 'no replacement yet (restart delay)');
    assert.throws(() => sh.subscribe(), /shard 0 is unavailable/);
  } finally {
    await pool.stop();
  }
});
