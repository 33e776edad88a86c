/**
 * BlockCutter turns the head's oldest block range into TSDB blocks, one per tenant and range, as
 * Thanos Receive does every --tsdb.block-duration; then the shards drop those chunks and the WAL
 * is checkpointed. It runs on the main thread, which asks the shards which series to write; the
 * cut thread (cutThread.ts, SCHED_IDLE) copies their chunks straight from the shards' shared
 * memory and writes the blocks (headBlock.ts), so ingestion goes on while it writes.
 *
 * A cut up to time C (exclusive), in this order (each step is safe to crash after):
 *   1. every shard starts refusing samples older than C (409 out of bounds) and rotates its WAL,
 *      so all older samples sit in WAL segments ≤ the one it reports;
 *   2. blocks are written (tmp dir + rename) into <tsdb.path>/blocks/<ULID>;
 *   3. the watermark file records C (a restart refuses and skips older samples: no block is cut twice);
 *   4. the shards drop the chunks that end before C, then the series left without data
 *      (headTruncate.ts), and answer the WAL ids of the series they still hold;
 *   5. each shard's WAL is checkpointed up to its reported segment, keeping samples ≥ C and only
 *      the series still held.
 * The shipper uploads the new blocks on its own schedule (or at once, for a flush).
 */
import { mkdirSync, readFileSync } from 'node:fs';
import { writeFileAtomic } from '../util/atomicFile.js';
import { join } from 'node:path';
import { writeHeadBlock, type HeadBlockJob } from './headBlock.js';
import { StatSlot } from '../sharedmem/layout.js';
import type { WrittenBlock } from './writer.js';
import type { ShardPool } from '../shards/pool.js';
import type { CutStarted } from '../shards/protocol.js';
import type { TruncateStats } from '../shards/headTruncate.js';
import type { Logger } from '../util/log.js';

/** WATERMARK_FILE holds the time below which everything is in blocks. */
export const WATERMARK_FILE = 'head.json';

/** CutterOptions configures a BlockCutter. */
export interface CutterOptions {
  pool: ShardPool;
  /** tsdbPath is --tsdb.path: blocks go to `<tsdbPath>/blocks`, the watermark next to them. */
  tsdbPath: string;
  blockDurationMs: number;
  externalLabels: [string, string][];
  tenantLabelName: string;
  log: Logger;
  /**
   * checkpoint shrinks shard `shard`'s WAL: segments ≤ upTo go, samples ≥ mint are kept, and of
   * the series only those whose WAL id is in `live` (the shard's answer to the truncation).
   */
  checkpoint?: (shard: number, upTo: number, mint: number, live: Float64Array) => Promise<void>;
  /**
   * onBlocks is told of the new blocks once they are on disk and before the heads drop the range,
   * so that queries see the range in the blocks before it leaves the heads (never in neither).
   */
  onBlocks?: () => void;
  /**
   * readersDone, when given, resolves once every query that may have listed the blocks before
   * onBlocks has read what it needs from the heads (the query threads' pending reads); the heads
   * drop the range only then.
   */
  readersDone?: () => Promise<void>;
  /**
   * writer, when given, writes the blocks in another thread (CutThread, at SCHED_IDLE); without
   * it they are written on this thread.
   */
  writer?: { write(job: HeadBlockJob): Promise<WrittenBlock | undefined> };
  /**
   * collect, when given, runs a full garbage collection of this thread once the blocks are
   * written: writing them leaves tens of MB of buffers that V8 would keep until its external
   * memory limit, on top of what the truncation and checkpoint that follow use.
   */
  collect?: () => void;
}

/** CutResult says what one cut wrote. */
export interface CutResult {
  blocks: WrittenBlock[];
  upTo: number;
  ms: number;
}

/** readWatermark returns the time below which the head's data is in blocks (-Infinity: none). */
export function readWatermark(tsdbPath: string): number {
  try {
    const v = (JSON.parse(readFileSync(join(tsdbPath, WATERMARK_FILE), 'utf8')) as { minValidTime?: unknown }).minValidTime;
    return typeof v === 'number' ? v : -Infinity;
  } catch {
    return -Infinity;
  }
}

/** BlockCutter cuts blocks from the shards' heads; one cut at a time. */
export class BlockCutter {
  readonly blocksDir: string;
  private readonly opts: CutterOptions;
  /** Everything older than this is in blocks. */
  watermark: number;
  private running: Promise<unknown> = Promise.resolve();

  constructor(opts: CutterOptions) {
    this.opts = opts;
    this.blocksDir = join(opts.tsdbPath, 'blocks');
    mkdirSync(this.blocksDir, { recursive: true });
    this.watermark = readWatermark(opts.tsdbPath);
  }

  /** headRange is the shards' combined [minT, maxT] (±Infinity when empty). */
  headRange(): { minT: number; maxT: number } {
    let minT = Infinity;
    let maxT = -Infinity;
    for (const s of this.opts.pool.shards) {
      minT = Math.min(minT, s.stat(StatSlot.MIN_T));
      maxT = Math.max(maxT, s.stat(StatSlot.MAX_T));
    }
    return { minT: Math.max(minT, this.watermark), maxT };
  }

  /**
   * due returns the end of the range to cut now, or undefined: as Prometheus, the oldest range
   * is cut once the head spans one and a half block durations past its start.
   */
  due(): number | undefined {
    const { minT, maxT } = this.headRange();
    if (!Number.isFinite(minT) || !Number.isFinite(maxT)) return undefined;
    const d = this.opts.blockDurationMs;
    const end = Math.floor(minT / d) * d + d;
    return maxT >= end + d / 2 ? end : undefined;
  }

  /** maybeCut cuts the oldest range if it is due. */
  maybeCut(): Promise<CutResult | undefined> {
    const end = this.due();
    return end === undefined ? Promise.resolve(undefined) : this.cut(end);
  }

  /** flush cuts everything the head holds (up to its newest sample) into blocks. */
  flush(): Promise<CutResult | undefined> {
    const { maxT } = this.headRange();
    if (!Number.isFinite(maxT) || maxT < this.watermark) return Promise.resolve(undefined);
    return this.cut(maxT + 1);
  }

  /** cut writes everything older than `upTo` into blocks (serialized with other cuts). */
  cut(upTo: number): Promise<CutResult> {
    const next = this.running.then(() => this.doCut(upTo));
    this.running = next.catch(() => {});
    return next;
  }

  private async doCut(upTo: number): Promise<CutResult> {
    const started = performance.now();
    const { pool, log } = this.opts;
    const d = this.opts.blockDurationMs;
    if (upTo <= this.watermark) return { blocks: [], upTo, ms: 0 };
    // 1. Refuse older samples from now on; rotate the WALs.
    const starts = await Promise.all(pool.shards.map((s) => s.query<CutStarted>({ type: 'query', op: 'cutStart', cut: upTo })));
    let minT = Infinity;
    for (const s of starts) minT = Math.min(minT, s.minT);
    const from = Math.max(this.watermark, Number.isFinite(minT) ? minT : upTo);
    // 2. One block per tenant and aligned range.
    const tenants = [...new Set((await Promise.all(pool.shards.map((s) => s.query<string[]>({ type: 'query', op: 'tenants' })))).flat())].sort();
    const blocks: WrittenBlock[] = [];
    for (let r = Math.floor(from / d); r * d < upTo; r++) {
      const mint = Math.max(r * d, from);
      const maxt = Math.min((r + 1) * d, upTo);
      if (mint >= maxt) continue;
      for (const tenant of tenants) {
        const b = await this.writeTenantBlock(tenant, mint, maxt);
        if (b !== undefined) blocks.push(b);
      }
    }
    this.opts.collect?.();
    // 3. Record the watermark; a restart now refuses and skips everything older.
    await writeFileAtomic(join(this.opts.tsdbPath, WATERMARK_FILE), JSON.stringify({ version: 1, minValidTime: upTo }) + '\n');
    this.watermark = upTo;
    for (const s of pool.shards) s.minValidT = upTo;
    // Queries must list the new blocks before the heads drop their range (overlaps are merged).
    let readersWaitMs = 0;
    if (blocks.length > 0) {
      this.opts.onBlocks?.();
      const w0 = performance.now();
      await this.opts.readersDone?.();
      readersWaitMs = performance.now() - w0;
    }
    // 4. Drop the persisted chunks from the heads, then the series left without data.
    const trunc = await Promise.all(pool.shards.map((s) => s.query<TruncateStats>({ type: 'query', op: 'truncate', cut: upTo })));
    // 5. Shrink the WALs.
    if (this.opts.checkpoint) {
      for (let i = 0; i < starts.length; i++) {
        const seg = starts[i]!.walSegment;
        if (seg >= 0) await this.opts.checkpoint(i, seg, upTo, trunc[i]!.liveWalRefs);
      }
    }
    const ms = performance.now() - started;
    log.info('head cut into blocks', {
      up_to: new Date(upTo).toISOString(), blocks: blocks.length, ulids: blocks.map((b) => b.ulid).join(','),
      samples: blocks.reduce((a, b) => a + b.meta.stats.numSamples, 0), chunks_dropped: trunc.reduce((a, t) => a + t.chunks + t.openChunks, 0),
      bytes_freed: trunc.reduce((a, t) => a + t.bytesFreed, 0), series_dropped: trunc.reduce((a, t) => a + t.seriesDropped, 0),
      readers_wait_ms: Math.round(readersWaitMs), ms: Math.round(ms),
    });
    return { blocks, upTo, ms };
  }

  /**
   * writeTenantBlock writes `tenant`'s series with data in [mint, maxt) into one block: the shards
   * name them (refs), and the cut thread (or this one, without it) copies them out of the heads.
   */
  private async writeTenantBlock(tenant: string, mint: number, maxt: number): Promise<WrittenBlock | undefined> {
    const { pool } = this.opts;
    const heads = await pool.refs({ tenant, matcherSets: [], mint, maxt: maxt - 1 });
    const thanos: Record<string, string> = {};
    for (const [k, v] of this.opts.externalLabels) thanos[k] = v;
    thanos[this.opts.tenantLabelName] = tenant;
    const job: HeadBlockJob = { blocksDir: this.blocksDir, mint, maxt, heads: heads.filter((h) => h.refs.length > 0), thanos };
    if (job.heads.length === 0) return undefined;
    if (this.opts.writer) return this.opts.writer.write(job);
    return writeHeadBlock(job, (shard) => pool.shards[shard]!.view);
  }
}
