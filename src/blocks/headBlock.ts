/**
 * writeHeadBlock writes one tenant's block for [mint, maxt) from the shards' heads: the series
 * the shards named (refs, per shard), their labels and chunks copied out of shared memory through
 * the HeadViews of whichever thread runs it: the cut thread (cutWorker.ts, at SCHED_IDLE) or, in
 * tests that drive a BlockCutter alone, the main thread. Touches the blocks directory it writes
 * into and reads shared memory; nothing else.
 */
import { writeBlock, type BlockChunk, type BlockSeries, type WrittenBlock } from './writer.js';
import { CutSeries } from './cutSeries.js';
import { clipChunk } from './clip.js';
import type { Labels } from '../model/labels.js';
import type { ChunkSink, HeadView } from '../sharedmem/headView.js';
import type { HeadRefs } from '../sharedmem/headFeed.js';

/** HeadBlockJob says which block to write. */
export interface HeadBlockJob {
  /** blocksDir is where the block directory goes (tmp dir + rename, writer.ts). */
  blocksDir: string;
  mint: number;
  maxt: number;
  /** heads are the series with data in the range, per shard. */
  heads: HeadRefs[];
  /** thanos is meta.json's `thanos.labels`: the external labels and the tenant label. */
  thanos: Record<string, string>;
}

/**
 * writeHeadBlock writes the block of `job` reading through `viewOf`; undefined when no series has
 * data. `collect`, when given, runs a full garbage collection once the series are gathered and
 * sorted: what gathering left (the interning table of CutSeries and the sort's scratch; the
 * collection freed ~14 MB at 100k series) would otherwise stay until the end of the write,
 * under the postings it grows (the cut thread passes V8's gc()).
 */
export async function writeHeadBlock(job: HeadBlockJob, viewOf: (shard: number) => HeadView, collect?: () => void): Promise<WrittenBlock | undefined> {
  const { mint, maxt } = job;
  // Labels as ids into one sorted table of distinct strings (cutSeries.ts), which is the index's
  // symbol table as it is: no decoded Labels array per series, no string looked up by the writer.
  let expect = 0;
  for (const h of job.heads) expect += h.refs.length;
  const found = new CutSeries(expect);
  for (const h of job.heads) {
    const view = viewOf(h.shard);
    for (const ref of h.refs) view.labelsInto(ref, (buf, off, len) => found.add(h.shard, ref, buf, off, len));
  }
  if (found.size === 0) return undefined;
  found.sort();
  collect?.();
  const scratch = new ChunkScratch();
  const series = function* (): Generator<BlockSeries> {
    // One item, its labels and its chunks' bytes reused from series to series: the writer copies
    // what it keeps before asking for the next (writer.ts).
    const item: { labels: Labels; chunks: BlockChunk[]; symbolRefs: Uint32Array } = { labels: [], chunks: [], symbolRefs: new Uint32Array(0) };
    for (let k = 0; k < found.size; k++) {
      const i = found.at(k);
      found.labelsInto(i, item.labels);
      item.symbolRefs = found.labelRefs(i);
      // Chunks never cross an aligned block boundary or the watermark (older ones were dropped);
      // only a flush's unaligned end can fall inside a chunk: that one is clipped (clip.ts).
      scratch.reset();
      viewOf(found.shard(i)).chunksInto(found.ref(i), mint, maxt - 1, scratch);
      item.chunks.length = 0;
      for (const c of scratch.chunks) {
        const kept = clipChunk(c, mint, maxt);
        if (kept !== undefined) item.chunks.push(kept);
      }
      yield item;
    }
  };
  return writeBlock(job.blocksDir, { mint, maxt, symbols: found.strings, symbolsSorted: true, series: series(), thanos: { labels: job.thanos, source: 'receive' } });
}

/**
 * ChunkScratch receives one series' chunks from HeadView.chunksInto into one reused buffer and
 * reused chunk objects: no ArrayBuffer and no object per chunk (48M samples at 100k series are
 * ~400k chunks). An object made per chunk here was pretenured by V8 (allocated straight into the
 * old generation, where only a full collection frees it), and kept its chunk view alive with
 * it: the cut thread's heap grew by ~65 MB over a 100k-series cut (docs/benchmarks.md).
 */
class ChunkScratch implements ChunkSink {
  chunks: BlockChunk[] = [];
  /** pool holds the chunk objects handed out, reused from series to series. */
  private readonly pool: BlockChunk[] = [];
  private buf = new Uint8Array(16 * 1024);
  private used = 0;
  private markLen = 0;
  private markUsed = 0;

  reset(): void { this.chunks.length = 0; this.used = 0; }

  mark(): void { this.markLen = this.chunks.length; this.markUsed = this.used; }

  rollback(): void { this.chunks.length = this.markLen; this.used = this.markUsed; }

  put(src: Uint8Array, off: number, len: number, minT: number, maxT: number): void {
    if (this.used + len > this.buf.length) {
      // Chunks already handed out keep the old buffer alive; new ones go to a bigger one.
      this.buf = new Uint8Array(Math.max(this.buf.length * 2, len));
      this.used = 0;
    }
    this.buf.set(src.subarray(off, off + len), this.used);
    const data = this.buf.subarray(this.used, this.used + len);
    this.used += len;
    const k = this.chunks.length;
    let c = this.pool[k];
    if (c === undefined) {
      c = { minT, maxT, data };
      this.pool.push(c);
    } else {
      c.minT = minT;
      c.maxT = maxT;
      c.data = data;
    }
    this.chunks.push(c);
  }
}
